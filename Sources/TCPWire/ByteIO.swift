// Bounds-checked big-endian reads and appending writes, the only place TCPWire touches raw bytes.

extension UnsafeRawBufferPointer {
    @inline(__always) func u8(_ i: Int) -> UInt8 { self[i] }
    @inline(__always) func u16(_ i: Int) -> UInt16 { UInt16(self[i]) << 8 | UInt16(self[i + 1]) }
    @inline(__always) func u32(_ i: Int) -> UInt32 {
        UInt32(self[i]) << 24 | UInt32(self[i + 1]) << 16 | UInt32(self[i + 2]) << 8 | UInt32(self[i + 3])
    }
    @inline(__always) func mac(_ i: Int) -> MACAddress {
        MACAddress(self[i], self[i + 1], self[i + 2], self[i + 3], self[i + 4], self[i + 5])
    }
    @inline(__always) func bytes(_ range: Range<Int>) -> [UInt8] { Array(self[range]) }
}

extension Array where Element == UInt8 {
    @inline(__always) mutating func appendU16(_ v: UInt16) {
        append(UInt8(truncatingIfNeeded: v >> 8)); append(UInt8(truncatingIfNeeded: v))
    }
    @inline(__always) mutating func appendU32(_ v: UInt32) {
        append(UInt8(truncatingIfNeeded: v >> 24)); append(UInt8(truncatingIfNeeded: v >> 16))
        append(UInt8(truncatingIfNeeded: v >> 8)); append(UInt8(truncatingIfNeeded: v))
    }
    @inline(__always) mutating func appendMAC(_ m: MACAddress) {
        for i in 0..<6 { append(m[i]) }
    }
    @inline(__always) mutating func storeU16(_ v: UInt16, at i: Int) {
        self[i] = UInt8(truncatingIfNeeded: v >> 8); self[i + 1] = UInt8(truncatingIfNeeded: v)
    }
}

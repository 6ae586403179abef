/// The Internet checksum (RFC 1071): one's-complement sum of 16-bit words, used by IPv4 and TCP.
public struct InternetChecksum: Sendable {
    private var sum: UInt64 = 0
    /// Whether an odd byte is waiting for its partner (data added in pieces keeps word alignment).
    private var pendingHigh: UInt8?

    public init() {}

    /// Adds `bytes` to the sum, continuing word alignment across calls.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        let n = bytes.count
        if let high = pendingHigh, n > 0 {
            sum &+= UInt64(high) << 8 | UInt64(bytes[0])
            pendingHigh = nil
            i = 1
        }
        // RFC 1071 §2: the sum can be taken over 32-bit words and folded at the end; a 64-bit
        // accumulator cannot overflow before 2^32 words.
        while i + 4 <= n {
            sum &+= UInt64(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            i += 4
        }
        while i + 1 < n {
            sum &+= UInt64(bytes[i]) << 8 | UInt64(bytes[i + 1])
            i += 2
        }
        if i < n { pendingHigh = bytes[i] }
    }

    public mutating func add(_ bytes: [UInt8]) { bytes.withUnsafeBytes { add($0) } }
    public mutating func add(_ bytes: ArraySlice<UInt8>) { bytes.withUnsafeBytes { add($0) } }

    /// Adds one 16-bit word (must be called at word alignment).
    public mutating func add(word: UInt16) { sum &+= UInt64(word) }
    /// Adds a 32-bit value as two words.
    public mutating func add(word32: UInt32) { sum &+= UInt64(word32 >> 16) &+ UInt64(word32 & 0xFFFF) }

    /// The one's complement of the folded sum: the value to put in a header's checksum field, or 0
    /// when the data already contains a correct checksum.
    public var value: UInt16 {
        var s = sum
        if let high = pendingHigh { s &+= UInt64(high) << 8 }
        while s >> 16 != 0 { s = (s & 0xFFFF) &+ (s >> 16) }
        return ~UInt16(s)
    }

    /// The checksum of the IPv4 pseudo-header (RFC 793 §3.1) plus `segment`, a whole TCP header and payload.
    public static func tcp(source: IPv4Address, destination: IPv4Address, segment: UnsafeRawBufferPointer) -> UInt16 {
        var c = InternetChecksum()
        c.add(word32: source.rawValue)
        c.add(word32: destination.rawValue)
        c.add(word: UInt16(IPProtocol.tcp.rawValue))
        c.add(word: UInt16(truncatingIfNeeded: segment.count))
        c.add(segment)
        return c.value
    }
}

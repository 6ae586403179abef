/// An IP protocol number.
public struct IPProtocol: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let icmp = IPProtocol(rawValue: 1)
    public static let tcp = IPProtocol(rawValue: 6)
    public static let udp = IPProtocol(rawValue: 17)
}

/// The two ECN bits of the IPv4 TOS byte (RFC 3168 §5).
public enum ECN: UInt8, Sendable {
    case notECT = 0, ect1 = 1, ect0 = 2, ce = 3
}

/// An IPv4 header (RFC 791), options kept as raw bytes so parse and serialize are exact inverses.
public struct IPv4Header: Hashable, Sendable {
    /// The whole TOS byte: DSCP in the upper six bits, ECN in the lower two.
    public var tos: UInt8
    /// Header plus payload, in bytes.
    public var totalLength: UInt16
    public var identification: UInt16
    /// Don't Fragment. Linux sets it on TCP (path MTU discovery).
    public var dontFragment: Bool
    public var moreFragments: Bool
    /// The reserved ("evil") bit, kept for exactness.
    public var reservedFlag: Bool
    /// In 8-byte units.
    public var fragmentOffset: UInt16
    public var ttl: UInt8
    public var proto: IPProtocol
    /// The checksum as found on parse; recomputed by `write`.
    public var checksum: UInt16
    public var source: IPv4Address
    public var destination: IPv4Address
    /// Options (a multiple of 4 bytes, at most 40).
    public var options: [UInt8]

    public init(tos: UInt8 = 0, totalLength: UInt16 = 20, identification: UInt16 = 0, dontFragment: Bool = true,
                moreFragments: Bool = false, reservedFlag: Bool = false, fragmentOffset: UInt16 = 0, ttl: UInt8 = 64,
                proto: IPProtocol = .tcp, checksum: UInt16 = 0, source: IPv4Address, destination: IPv4Address,
                options: [UInt8] = []) {
        self.tos = tos
        self.totalLength = totalLength
        self.identification = identification
        self.dontFragment = dontFragment
        self.moreFragments = moreFragments
        self.reservedFlag = reservedFlag
        self.fragmentOffset = fragmentOffset
        self.ttl = ttl
        self.proto = proto
        self.checksum = checksum
        self.source = source
        self.destination = destination
        self.options = options
    }

    /// Header length in bytes (IHL × 4).
    public var headerLength: Int { 20 + options.count }
    public var ihl: UInt8 { UInt8(headerLength / 4) }
    public var ecn: ECN {
        get { ECN(rawValue: tos & 3)! }
        set { tos = tos & ~3 | newValue.rawValue }
    }
    public var dscp: UInt8 { tos >> 2 }

    /// Parses an IPv4 header from the start of `bytes` and returns it with the payload's range
    /// (bounded by the total length, so Ethernet padding is left out).
    /// - Parameter verifyChecksum: when true, a wrong header checksum is an error.
    public static func parse(_ bytes: UnsafeRawBufferPointer, verifyChecksum: Bool = true) throws(WireError)
        -> (header: IPv4Header, payload: Range<Int>)
    {
        guard bytes.count >= 20 else { throw .truncated(layer: .ipv4, needed: 20, available: bytes.count) }
        let vihl = bytes.u8(0)
        guard vihl >> 4 == 4 else { throw .badVersion(vihl >> 4) }
        let ihl = vihl & 0xF
        guard ihl >= 5 else { throw .badIHL(ihl) }
        let headerLength = Int(ihl) * 4
        guard bytes.count >= headerLength else { throw .truncated(layer: .ipv4, needed: headerLength, available: bytes.count) }
        let total = bytes.u16(2)
        guard Int(total) >= headerLength, Int(total) <= bytes.count else { throw .badTotalLength(total, available: bytes.count) }
        let flagsOffset = bytes.u16(6)
        let header = IPv4Header(
            tos: bytes.u8(1), totalLength: total, identification: bytes.u16(4),
            dontFragment: flagsOffset & 0x4000 != 0, moreFragments: flagsOffset & 0x2000 != 0,
            reservedFlag: flagsOffset & 0x8000 != 0, fragmentOffset: flagsOffset & 0x1FFF,
            ttl: bytes.u8(8), proto: IPProtocol(rawValue: bytes.u8(9)), checksum: bytes.u16(10),
            source: IPv4Address(rawValue: bytes.u32(12)), destination: IPv4Address(rawValue: bytes.u32(16)),
            options: headerLength > 20 ? bytes.bytes(20..<headerLength) : [])
        if verifyChecksum {
            var c = InternetChecksum()
            c.add(UnsafeRawBufferPointer(rebasing: bytes[0..<headerLength]))
            if c.value != 0 {
                throw .badChecksum(layer: .ipv4, found: header.checksum, expected: header.computedChecksum())
            }
        }
        return (header, headerLength..<Int(total))
    }

    /// The correct header checksum for the current fields.
    public func computedChecksum() -> UInt16 {
        var out: [UInt8] = []
        out.reserveCapacity(headerLength)
        writeFields(into: &out, checksum: 0)
        var c = InternetChecksum()
        c.add(out)
        return c.value
    }

    /// Appends the header with a freshly computed checksum.
    public func write(into out: inout [UInt8]) {
        let start = out.count
        writeFields(into: &out, checksum: 0)
        var c = InternetChecksum()
        out.withUnsafeBytes { c.add(UnsafeRawBufferPointer(rebasing: $0[start..<out.count])) }
        out.storeU16(c.value, at: start + 10)
    }

    /// Appends the header with the stored `checksum` field as it is (for exact re-serialization).
    public func writeVerbatim(into out: inout [UInt8]) { writeFields(into: &out, checksum: checksum) }

    private func writeFields(into out: inout [UInt8], checksum: UInt16) {
        precondition(options.count % 4 == 0 && options.count <= 40, "IPv4 options must be a multiple of 4 bytes, at most 40")
        out.append(0x40 | ihl)
        out.append(tos)
        out.appendU16(totalLength)
        out.appendU16(identification)
        var flags: UInt16 = fragmentOffset & 0x1FFF
        if reservedFlag { flags |= 0x8000 }
        if dontFragment { flags |= 0x4000 }
        if moreFragments { flags |= 0x2000 }
        out.appendU16(flags)
        out.append(ttl)
        out.append(proto.rawValue)
        out.appendU16(checksum)
        out.appendU32(source.rawValue)
        out.appendU32(destination.rawValue)
        out.append(contentsOf: options)
    }
}

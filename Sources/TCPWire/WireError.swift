/// Why a frame, packet or segment could not be parsed. Every parser in TCPWire reports one of these
/// instead of trapping or reading out of bounds.
public enum WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Fewer bytes than the header (or its declared length) needs.
    case truncated(layer: Layer, needed: Int, available: Int)
    /// IPv4 version other than 4.
    case badVersion(UInt8)
    /// IPv4 IHL below 5 (a header is at least 20 bytes).
    case badIHL(UInt8)
    /// IPv4 total length smaller than the header, or larger than the frame.
    case badTotalLength(UInt16, available: Int)
    /// TCP data offset below 5, or pointing past the segment.
    case badDataOffset(UInt8, segmentLength: Int)
    /// A TCP option whose length byte is 0 or 1, or that runs past the options area.
    case badOptionLength(kind: UInt8, length: Int, offset: Int)
    /// A checksum that does not verify.
    case badChecksum(layer: Layer, found: UInt16, expected: UInt16)
    /// ARP for something other than Ethernet/IPv4.
    case unsupportedARP(hardwareType: UInt16, protocolType: UInt16)
    /// An EtherType or IP protocol the parser does not handle.
    case unsupportedProtocol(layer: Layer, value: UInt16)

    /// The header a `WireError` is about.
    public enum Layer: String, Sendable {
        case ethernet = "Ethernet", arp = "ARP", ipv4 = "IPv4", tcp = "TCP", tcpOptions = "TCP options", pcap
    }

    public var description: String {
        switch self {
        case let .truncated(layer, needed, available):
            "truncated \(layer.rawValue): needs \(needed) bytes, \(available) available"
        case let .badVersion(v): "IPv4 header with version \(v)"
        case let .badIHL(ihl): "IPv4 IHL \(ihl) is below 5"
        case let .badTotalLength(total, available): "IPv4 total length \(total) does not fit \(available) bytes"
        case let .badDataOffset(offset, length): "TCP data offset \(offset) invalid for a \(length)-byte segment"
        case let .badOptionLength(kind, length, offset):
            "TCP option kind \(kind) at offset \(offset) has length \(length), which is below 2 or runs past the header"
        case let .badChecksum(layer, found, expected):
            "bad \(layer.rawValue) checksum 0x\(String(found, radix: 16)) (should be 0x\(String(expected, radix: 16)))"
        case let .unsupportedARP(h, p): "ARP with hardware type \(h) and protocol 0x\(String(p, radix: 16))"
        case let .unsupportedProtocol(layer, value): "unsupported \(layer.rawValue) protocol 0x\(String(value, radix: 16))"
        }
    }
}

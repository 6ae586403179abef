/// The EtherType of an Ethernet II frame.
public struct EtherType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let ipv4 = EtherType(rawValue: 0x0800)
    public static let arp = EtherType(rawValue: 0x0806)
    public static let ipv6 = EtherType(rawValue: 0x86DD)
    public var description: String {
        switch self {
        case .ipv4: "IPv4"
        case .arp: "ARP"
        case .ipv6: "IPv6"
        default: "0x" + String(rawValue, radix: 16)
        }
    }
}

/// An Ethernet II header (no 802.1Q tag, no FCS: what AF_PACKET and pcap hand over).
public struct EthernetHeader: Hashable, Sendable {
    public static let length = 14

    public var destination: MACAddress
    public var source: MACAddress
    public var etherType: EtherType

    public init(destination: MACAddress, source: MACAddress, etherType: EtherType) {
        self.destination = destination
        self.source = source
        self.etherType = etherType
    }

    /// Parses the first 14 bytes of `frame`.
    public static func parse(_ frame: UnsafeRawBufferPointer) throws(WireError) -> EthernetHeader {
        guard frame.count >= length else { throw .truncated(layer: .ethernet, needed: length, available: frame.count) }
        return EthernetHeader(destination: frame.mac(0), source: frame.mac(6), etherType: EtherType(rawValue: frame.u16(12)))
    }

    /// Appends the 14 header bytes to `out`.
    public func write(into out: inout [UInt8]) {
        out.appendMAC(destination)
        out.appendMAC(source)
        out.appendU16(etherType.rawValue)
    }
}

/// An ARP packet for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800, lengths 6 and 4.
public struct ARPPacket: Hashable, Sendable {
    public static let length = 28

    /// ARP's operation code.
    public enum Operation: UInt16, Sendable {
        case request = 1
        case reply = 2
    }

    public var operation: Operation
    public var senderMAC: MACAddress
    public var senderIP: IPv4Address
    public var targetMAC: MACAddress
    public var targetIP: IPv4Address

    public init(operation: Operation, senderMAC: MACAddress, senderIP: IPv4Address, targetMAC: MACAddress, targetIP: IPv4Address) {
        self.operation = operation
        self.senderMAC = senderMAC
        self.senderIP = senderIP
        self.targetMAC = targetMAC
        self.targetIP = targetIP
    }

    /// Parses an ARP packet (the Ethernet payload). Trailing padding (frames are padded to 60 bytes) is ignored.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> ARPPacket {
        guard bytes.count >= length else { throw .truncated(layer: .arp, needed: length, available: bytes.count) }
        let htype = bytes.u16(0), ptype = bytes.u16(2)
        guard htype == 1, ptype == 0x0800, bytes.u8(4) == 6, bytes.u8(5) == 4 else {
            throw .unsupportedARP(hardwareType: htype, protocolType: ptype)
        }
        guard let op = Operation(rawValue: bytes.u16(6)) else {
            throw .unsupportedProtocol(layer: .arp, value: bytes.u16(6))
        }
        return ARPPacket(operation: op, senderMAC: bytes.mac(8), senderIP: IPv4Address(rawValue: bytes.u32(14)),
                         targetMAC: bytes.mac(18), targetIP: IPv4Address(rawValue: bytes.u32(24)))
    }

    /// Appends the 28 bytes of the packet.
    public func write(into out: inout [UInt8]) {
        out.appendU16(1); out.appendU16(0x0800); out.append(6); out.append(4)
        out.appendU16(operation.rawValue)
        out.appendMAC(senderMAC); out.appendU32(senderIP.rawValue)
        out.appendMAC(targetMAC); out.appendU32(targetIP.rawValue)
    }
}

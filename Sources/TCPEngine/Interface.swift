import TCPWire

/// A host's network interface: a MAC address, an IPv4 address with its prefix, an MTU.
public struct Interface: Hashable, Sendable {
    public var name: String
    public var mac: MACAddress
    public var address: IPv4Interface
    public var mtu: Int

    public init(name: String = "eth0", mac: MACAddress, address: IPv4Interface, mtu: Int = 1500) {
        self.name = name
        self.mac = mac
        self.address = address
        self.mtu = mtu
    }
}

/// A frame the host wants sent out of one of its interfaces.
public struct OutgoingFrame: Hashable, Sendable {
    public var interface: Int
    public var frame: Frame
}

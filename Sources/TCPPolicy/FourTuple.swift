import TCPWire

/// A connection's identity as seen from one end: local and remote address and port (the ehash key).
public struct FourTuple: Hashable, Sendable, CustomStringConvertible {
    public var local: SocketAddress
    public var remote: SocketAddress

    public init(local: SocketAddress, remote: SocketAddress) {
        self.local = local
        self.remote = remote
    }

    public var description: String { "\(local)<->\(remote)" }

    // One combine of 96 bits packed into two words instead of four field-by-field combines: the
    // established-hash lookup runs for every segment.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(UInt64(local.address.rawValue) << 32 | UInt64(remote.address.rawValue))
        hasher.combine(UInt32(local.port) << 16 | UInt32(remote.port))
    }
}

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
}

import TCPPolicy
import TCPWire

// TCPWire's convenience properties, restated over stored fields only. Called on a borrowed segment in
// another module they copied the TCP header (and retained its options) on every segment; inlined here
// they read the fields in place.

extension TCPSegment {
    /// The sender's address and port.
    @inline(__always) var from: SocketAddress { SocketAddress(ip.source, tcp.sourcePort) }
    /// The receiver's address and port.
    @inline(__always) var to: SocketAddress { SocketAddress(ip.destination, tcp.destinationPort) }
    /// Sequence space taken: payload + SYN + FIN.
    @inline(__always) var length: UInt32 {
        let flags = tcp.flags
        return UInt32(payload.count) + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0)
    }
    /// The timestamps option, if any.
    @inline(__always) var timestamps: (value: UInt32, echoReply: UInt32)? {
        tcp.options.timestamps
    }
}

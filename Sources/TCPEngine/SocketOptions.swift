import TCPPolicy

/// A socket option, by its Linux name, for `Host.setsockopt`.
public enum SocketOption: Hashable, Sendable {
    case SO_REUSEADDR(Bool)
    case SO_KEEPALIVE(Bool)
    /// Bytes; doubled as Linux does, clamped by `rmem_max`. Set before listen/connect to change the window.
    case SO_RCVBUF(Int)
    case SO_SNDBUF(Int)
    /// `l_onoff`, `l_linger` seconds. On with 0 makes close() send a RST.
    case SO_LINGER(on: Bool, seconds: Int)
    /// Seconds a listener (or connecting socket) waits for data before completing a handshake.
    case TCP_DEFER_ACCEPT(seconds: Int)
    /// 0 enters pingpong (delayed ACKs); non-zero sends a pending ACK now and leaves it. Not sticky.
    case TCP_QUICKACK(Int)
    /// SYN (or SYN-ACK, on a listener) retransmissions, 1...127.
    case TCP_SYNCNT(Int)
    /// Clamp on the MSS we advertise (and accept).
    case TCP_MAXSEG(Int)
    /// Milliseconds; 0 turns it off.
    case TCP_USER_TIMEOUT(milliseconds: Int)
    case TCP_KEEPIDLE(seconds: Int)
    case TCP_KEEPINTVL(seconds: Int)
    case TCP_KEEPCNT(Int)
    /// FIN_WAIT2 lifetime of an orphan, seconds; negative sends a RST instead.
    case TCP_LINGER2(seconds: Int)
    case TCP_NODELAY(Bool)
    /// Non-blocking mode (O_NONBLOCK): accept() returns EAGAIN instead of waiting.
    case O_NONBLOCK(Bool)
}

/// The options a socket carries (copied from a listener to its children, as Linux clones them).
public struct SocketOptions: Hashable, Sendable {
    public var reuseAddress = false
    public var keepalive = false
    /// nil: `tcp_rmem[1]` (autotuned in Linux; fixed here).
    public var receiveBuffer: Int?
    public var sendBuffer: Int?
    public var linger: (on: Bool, seconds: Int)? {
        get { lingerOn ? (true, lingerSeconds) : nil }
        set { lingerOn = newValue?.on ?? false; lingerSeconds = newValue?.seconds ?? 0 }
    }
    var lingerOn = false
    var lingerSeconds = 0
    public var deferAcceptSeconds = 0
    public var synCount: Int?
    public var maxSegment: Int?
    public var userTimeout: Interval = .zero
    public var keepIdle: Int?
    public var keepInterval: Int?
    public var keepCount: Int?
    public var linger2: Int?
    public var noDelay = false
    public var nonBlocking = false

    public init() {}
}

import TCPPolicy
import TCPWire

/// Identifies a socket on one host (a listener, a connection, or a child waiting in an accept queue).
public struct SocketID: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public var description: String { "sk\(rawValue)" }
    public static func < (a: SocketID, b: SocketID) -> Bool { a.rawValue < b.rawValue }
}

/// A segment as events record it: who sent it to whom, the TCP header with its options, the payload size.
public struct SegmentRecord: Hashable, Sendable, CustomStringConvertible {
    public var source: SocketAddress
    public var destination: SocketAddress
    public var header: TCPHeader
    public var payloadLength: Int

    public init(source: SocketAddress, destination: SocketAddress, header: TCPHeader, payloadLength: Int) {
        self.source = source
        self.destination = destination
        self.header = header
        self.payloadLength = payloadLength
    }

    public init(_ segment: TCPSegment) {
        self.init(source: segment.source, destination: segment.destination, header: segment.tcp,
                  payloadLength: segment.payload.count)
    }

    public var flags: TCPFlags { header.flags }
    /// tcpdump's description: `Flags [S.], seq …, ack …, win …, options […], length 0`.
    public var tcpdump: String { header.tcpdumpDescription(payloadLength: payloadLength) }
    public var description: String { "\(source.address).\(source.port) > \(destination.address).\(destination.port): \(tcpdump)" }
}

/// The engine's timers, named after the kernel's.
public enum TimerKind: String, Hashable, Sendable {
    /// ICSK_TIME_RETRANS: SYN, SYN-ACK (of a child) and data retransmission.
    case retransmit
    /// ICSK_TIME_DACK.
    case delayedAck
    /// The keepalive timer (also the FIN_WAIT2 timer of an orphan, as in Linux).
    case keepalive
    /// ICSK_TIME_PROBE0: zero-window probes.
    case probe
    /// ICSK_TIME_LOSS_PROBE: a tail loss probe (RFC 8985 §7), armed instead of the RTO when SACK is on.
    case lossProbe
    /// The TIME_WAIT (or FIN_WAIT2 mini-socket) timer.
    case timeWait
    /// `reqsk_timer_handler`: SYN-ACK retransmission of a request sock.
    case synAck
    /// ARP resolution retry.
    case arp
}

/// Why a socket changed state.
public enum StateCause: String, Hashable, Sendable {
    case connect = "connect()"
    case listen = "listen()"
    case synAckReceived = "SYN-ACK received"
    case synReceived = "SYN received (simultaneous open)"
    case ackReceived = "ACK received"
    case thirdAckReceived = "third ACK received"
    case cookieAckReceived = "ACK with a valid SYN cookie"
    case deferredData = "data after TCP_DEFER_ACCEPT"
    case rstReceived = "RST received"
    case finReceived = "FIN received"
    case close = "close()"
    case shutdown = "shutdown()"
    case timeout = "retransmission timeout"
    case keepaliveTimeout = "keepalive timeout"
    case timeWaitExpired = "TIME_WAIT expired"
    case finWait2Timeout = "FIN_WAIT2 timeout"
    case listenerClosed = "listener closed"
    case abort = "abort"
    case timeWaitReused = "SYN reused a TIME_WAIT"
    case arpFailed = "ARP failed"
}

/// Something the engine did or saw. Events are complete and exact: ladder diagrams, the journal and
/// expectations are built from them alone.
public enum EngineEventKind: Hashable, Sendable {
    case segmentReceived(SegmentRecord, socket: SocketID?)
    case segmentSent(SegmentRecord, socket: SocketID?, retransmission: Int)
    /// A segment (or, with `segment` nil, a frame) dropped, and why.
    case dropped(DropReason, segment: SegmentRecord?, socket: SocketID?)
    case stateChanged(socket: SocketID, tuple: FourTuple?, from: TCPState, to: TCPState, cause: StateCause)
    /// A request sock entered (NEW_SYN_RECV) or left the SYN queue of `listener`.
    case requestQueued(listener: SocketID, tuple: FourTuple)
    case requestRemoved(listener: SocketID, tuple: FourTuple, reason: DropReason?)
    case timerArmed(TimerKind, socket: SocketID?, tuple: FourTuple?, deadline: Instant)
    case timerFired(TimerKind, socket: SocketID?, tuple: FourTuple?)
    case counter(MIB, value: Int)
    /// A child joined the accept queue of `listener`.
    case childQueued(listener: SocketID, child: SocketID)
    /// accept() returned `child` (at once, or to a blocked caller that this wakes).
    case accepted(listener: SocketID, child: SocketID)
    case connected(SocketID)
    /// A socket's pending error was set (connect failed, connection reset or timed out).
    case error(SocketID, SocketError)
    /// Data is ready to read, or the peer closed.
    case readable(SocketID, bytes: Int)
    case arpRequest(target: IPv4Address)
    case arpResolved(IPv4Address, MACAddress)
    case arpFailed(IPv4Address)
}

/// An event with the host time it happened at.
public struct EngineEvent: Hashable, Sendable {
    public var time: Instant
    public var kind: EngineEventKind
    public init(time: Instant, kind: EngineEventKind) {
        self.time = time
        self.kind = kind
    }
}

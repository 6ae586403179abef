import TCPPolicy
import TCPWire

/// A half-open connection in a listener's SYN queue: Linux's `tcp_request_sock` (state NEW_SYN_RECV),
/// a small object apart from the full socket. It lives in the host's request table, keyed by 4-tuple.
/// Kept to 64 bytes so a SYN flood costs little (Linux's is about 304).
struct RequestSock {
    struct Flags: OptionSet {
        var rawValue: UInt8
        static let timestamps = Flags(rawValue: 1)
        static let sack = Flags(rawValue: 2)
        static let windowScale = Flags(rawValue: 4)
        /// `inet_rsk(req)->acked`: a third ACK arrived but was dropped (full accept queue, TCP_DEFER_ACCEPT).
        static let acked = Flags(rawValue: 8)
        static let ecn = Flags(rawValue: 16)
        /// Still counted in the listener's `young` (never timed out).
        static let young = Flags(rawValue: 32)
    }

    var listener: SocketID
    var interface: UInt16
    /// The peer's MSS option (536 if absent), clamped by our TCP_MAXSEG.
    var mss: UInt16
    /// `snt_isn` and `rcv_isn`.
    var iss: SequenceNumber
    var irs: SequenceNumber
    var flags: Flags
    var sendWindowScale: UInt8
    var receiveWindowScale: UInt8
    /// `num_timeout`: SYN-ACK timer expiries so far.
    var numTimeout: UInt8
    /// `num_retrans`: SYN-ACKs re-sent.
    var numRetrans: UInt8
    /// The peer's window in its SYN (never scaled).
    var peerWindow: UInt16
    /// `rsk_rcv_wnd`.
    var receiveWindow: UInt32
    var tsRecent: UInt32
    var tsOffset: UInt32
    /// `snt_tsval_first` / `snt_tsval_last`: the TSvals of our first and latest SYN-ACK.
    var firstSynAckTS: UInt32
    var lastSynAckTS: UInt32
    /// When the SYN-ACK timer fires, and its entry in the timer queue (-1: none yet).
    var deadline: Instant
    var timer: Int32 = -1
    /// `last_oow_ack_time`: rate limit of SYN-ACKs and ACKs answering out-of-window segments
    /// (`.noOutOfWindowAck` until the first).
    var lastOutOfWindowAck: Instant

    var rcvNxt: SequenceNumber { irs + 1 }
}

extension Instant {
    /// "No out-of-window answer sent yet": the kernel's `last_oow_ack_time` of 0. Not `.zero`, which
    /// is a real time here (the start of a run).
    static let noOutOfWindowAck = Instant(nanoseconds: .min)
}

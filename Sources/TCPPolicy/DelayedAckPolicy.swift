/// The per-connection ACK state a delayed-ACK policy works on: Linux's `icsk_ack` and the bits of the
/// socket its machinery reads. The engine owns it and hands it to the policy `inout`.
public struct AckState: Hashable, Sendable {
    /// `ICSK_ACK_*` pending bits.
    public struct Pending: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// An ACK is owed.
        public static let scheduled = Pending(rawValue: 1)
        /// The delayed-ACK timer is armed.
        public static let timer = Pending(rawValue: 2)
        public static let pushed = Pending(rawValue: 4)
        public static let pushed2 = Pending(rawValue: 8)
        /// Send the ACK at the next opportunity, whatever the rules say (a filled hole, RFC 5681 §4.2).
        public static let now = Pending(rawValue: 16)
    }

    public var pending: Pending = []
    /// Remaining quick-ACK credit.
    public var quick: UInt8 = 0
    /// Linux's pingpong counter: interactive mode while ≥ `tcp_pingpong_thresh`.
    public var pingpong: UInt8 = 0
    /// The ACK timeout estimate (`ato`), 0 until the first data arrives.
    public var ato: Interval = .zero
    /// When the delayed-ACK timer fires, if armed.
    public var deadline: Instant = .never
    /// When data last arrived (`lrcvtime`).
    public var lastReceive: Instant = .zero
    /// When data was last sent (`lsndtime`).
    public var lastSend: Instant = .zero
    /// Estimated peer MSS (`rcv_mss`).
    public var rcvMSS: Int = 536
    /// Size of the last received segment (`last_seg_size`).
    public var lastSegmentSize: Int = 0
    /// Immediate duplicate ACKs sent while out-of-order data is queued (SACK compression starts after 3).
    public var outOfOrderAcks: UInt8 = 0

    public init() {}
}

/// What the engine tells the policy about the connection when it asks.
public struct AckFacts: Hashable, Sendable {
    public var now: Instant
    /// Current retransmission timeout (`icsk_rto`).
    public var rto: Interval
    /// Smoothed RTT, if measured.
    public var srtt: Interval?
    /// Our advertised receive window in bytes.
    public var receiveWindow: Int
    /// Our MSS (`advmss`).
    public var advertisedMSS: Int
    /// Bytes received but not yet acknowledged (`rcv_nxt − rcv_wup`).
    public var unacknowledged: Int
    /// The window we could advertise now would not be smaller than the one advertised (`__tcp_select_window() ≥ rcv_wnd`).
    public var windowWouldNotShrink: Bool
    /// Out-of-order data is queued.
    public var hasOutOfOrderData: Bool
    /// `tcp_pingpong_thresh`.
    public var pingpongThreshold: Int
    /// Shortest RTO (`tcp_rto_min`) and the cap on the delayed-ACK timer (`icsk_delack_max`).
    public var rtoMin: Interval
    public var delackMax: Interval
    /// Our TCP header length without SACK blocks (`tcp_header_len`: 20, or 32 with timestamps).
    public var tcpHeaderLength: Int

    public init(now: Instant, rto: Interval, srtt: Interval? = nil, receiveWindow: Int, advertisedMSS: Int,
                unacknowledged: Int = 0, windowWouldNotShrink: Bool = true, hasOutOfOrderData: Bool = false,
                pingpongThreshold: Int = 1, rtoMin: Interval = .milliseconds(200), delackMax: Interval = .milliseconds(200),
                tcpHeaderLength: Int = 20) {
        self.now = now
        self.rto = rto
        self.srtt = srtt
        self.receiveWindow = receiveWindow
        self.advertisedMSS = advertisedMSS
        self.unacknowledged = unacknowledged
        self.windowWouldNotShrink = windowWouldNotShrink
        self.hasOutOfOrderData = hasOutOfOrderData
        self.pingpongThreshold = pingpongThreshold
        self.rtoMin = rtoMin
        self.delackMax = delackMax
        self.tcpHeaderLength = tcpHeaderLength
    }
}

/// Why the third ACK of an active open might wait (`tcp_rcv_synsent_state_process`).
public struct ThirdAckFacts: Hashable, Sendable {
    /// A writer is blocked waiting for the connection (`sk_write_pending`).
    public var writePending: Bool
    /// TCP_DEFER_ACCEPT is set on the connecting socket.
    public var deferAccept: Bool
    public init(writePending: Bool, deferAccept: Bool) {
        self.writePending = writePending
        self.deferAccept = deferAccept
    }
}

/// The engine's question after in-order data (or anything else that owes an ACK) arrived.
public enum AckDecision: Hashable, Sendable {
    /// Nothing to do: no ACK is owed.
    case none
    /// ACK at once.
    case now
    /// Arm (or keep) the delayed-ACK timer for this deadline.
    case at(Instant)
}

/// Incoming data as `tcp_measure_rcv_mss` and `tcp_event_data_recv` see it.
public struct ReceivedData: Hashable, Sendable {
    /// Payload bytes of the segment.
    public var length: Int
    /// TCP header length (for the "full-looking" test).
    public var headerLength: Int
    public var push: Bool
    public var finUrgOrSyn: Bool
    public init(length: Int, headerLength: Int = 20, push: Bool = false, finUrgOrSyn: Bool = false) {
        self.length = length
        self.headerLength = headerLength
        self.push = push
        self.finUrgOrSyn = finUrgOrSyn
    }
}

/// The delayed-ACK policy seam: when the engine ACKs, whether the handshake's final ACK waits, and what
/// the delayed-ACK timer does. The engine calls, in this order, on each event:
/// - in-order data arrived → `dataReceived`, then `ackCheck`;
/// - out-of-order data, a filled hole, old or out-of-window data → `enterQuickAck` (and `ackCheck`);
/// - the SYN-ACK of an active open → `delayThirdAck`;
/// - the delayed-ACK timer fired → `timerFired`;
/// - we sent data → `dataSent`; we sent any segment with an ACK → `ackSent`;
/// - TCP_QUICKACK was set → `setQuickAck`.
public protocol DelayedAckPolicy: AnyObject {
    var name: String { get }
    func dataReceived(_ ack: inout AckState, _ data: ReceivedData, facts: AckFacts)
    func ackCheck(_ ack: inout AckState, facts: AckFacts) -> AckDecision
    func enterQuickAck(_ ack: inout AckState, credits: Int, facts: AckFacts)
    func delayThirdAck(_ ack: inout AckState, _ third: ThirdAckFacts, facts: AckFacts) -> AckDecision
    /// Returns whether to send the ACK now (false: nothing owed, or the policy re-armed `deadline`).
    func timerFired(_ ack: inout AckState, facts: AckFacts) -> Bool
    func dataSent(_ ack: inout AckState, facts: AckFacts)
    func ackSent(_ ack: inout AckState, facts: AckFacts)
    func setQuickAck(_ ack: inout AckState, value: Int, facts: AckFacts)
}

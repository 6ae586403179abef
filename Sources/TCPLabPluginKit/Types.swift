import CTCPLabPlugin

// The values a plugin works with. They mirror TCPPolicy's types by name and meaning (a plugin must not
// link TCPPolicy: its Swift types would not be the engine's across dlopen), and convert to and from the
// C structs of tcplab_plugin.h.

/// A point in time: nanoseconds since the start of the run (the engine's clock, virtual under LabSim).
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)
    /// Later than any deadline: "no timer armed".
    public static let never = Instant(nanoseconds: .max)

    @inlinable public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    @inlinable public static func + (a: Instant, b: Interval) -> Instant {
        let (sum, overflow) = a.nanoseconds.addingReportingOverflow(b.nanoseconds)
        return Instant(nanoseconds: overflow ? .max : sum)
    }
    @inlinable public static func - (a: Instant, b: Interval) -> Instant { Instant(nanoseconds: a.nanoseconds &- b.nanoseconds) }
    @inlinable public static func - (a: Instant, b: Instant) -> Interval { Interval(nanoseconds: a.nanoseconds &- b.nanoseconds) }

    public var description: String { self == .never ? "never" : Interval(nanoseconds: nanoseconds).description }
}

/// A span of time in nanoseconds.
public struct Interval: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Interval(nanoseconds: 0)
    public static func nanoseconds(_ n: Int64) -> Interval { Interval(nanoseconds: n) }
    public static func microseconds(_ n: Int64) -> Interval { Interval(nanoseconds: n * 1_000) }
    public static func milliseconds(_ n: Int64) -> Interval { Interval(nanoseconds: n * 1_000_000) }
    public static func seconds(_ n: Int64) -> Interval { Interval(nanoseconds: n * 1_000_000_000) }

    @inlinable public static func < (a: Interval, b: Interval) -> Bool { a.nanoseconds < b.nanoseconds }
    @inlinable public static func + (a: Interval, b: Interval) -> Interval { Interval(nanoseconds: a.nanoseconds + b.nanoseconds) }
    @inlinable public static func - (a: Interval, b: Interval) -> Interval { Interval(nanoseconds: a.nanoseconds - b.nanoseconds) }
    @inlinable public static func * (a: Interval, n: Int64) -> Interval { Interval(nanoseconds: a.nanoseconds * n) }
    @inlinable public static func / (a: Interval, n: Int64) -> Interval { Interval(nanoseconds: a.nanoseconds / n) }

    /// `40ms`, `1.5s`, `250us`, `0s`.
    public var description: String {
        let n = nanoseconds
        if n == 0 { return "0s" }
        if n % 1_000_000_000 == 0 { return "\(n / 1_000_000_000)s" }
        if n % 1_000_000 == 0 { return "\(n / 1_000_000)ms" }
        if n % 1_000 == 0 { return "\(n / 1_000)us" }
        return "\(n)ns"
    }
}

/// An IPv4 address; `rawValue` in host byte order (198.18.0.1 is 0xC612_0001).
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }
    /// Parses dotted-quad text (`198.18.0.1`).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, let b = UInt8(p) else { return nil }
            value = value << 8 | UInt32(b)
        }
        rawValue = value
    }
    public var description: String {
        "\(rawValue >> 24).\(rawValue >> 16 & 0xff).\(rawValue >> 8 & 0xff).\(rawValue & 0xff)"
    }
}

/// An IPv4 prefix such as 198.18.5.0/24 (a parameter of type `.ipv4Prefix`).
public struct IPv4Prefix: Hashable, Sendable, CustomStringConvertible {
    public var network: IPv4Address
    public var length: Int
    public init(network: IPv4Address, length: Int) {
        self.network = network
        self.length = length
    }
    public var mask: UInt32 { length == 0 ? 0 : UInt32.max << UInt32(32 - length) }
    public func contains(_ address: IPv4Address) -> Bool { address.rawValue & mask == network.rawValue & mask }
    public var description: String { "\(network)/\(length)" }
}

/// An address and port.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16
    public init(_ address: IPv4Address, _ port: UInt16) {
        self.address = address
        self.port = port
    }
    public var description: String { "\(address):\(port)" }
}

/// A connection's identity seen from this host: `local` is us.
public struct FourTuple: Hashable, Sendable, CustomStringConvertible {
    public var local: SocketAddress
    public var remote: SocketAddress
    public init(local: SocketAddress, remote: SocketAddress) {
        self.local = local
        self.remote = remote
    }
    public var description: String { "\(local)<->\(remote)" }

    @inline(__always) init(_ c: tcplab_tuple) {
        local = SocketAddress(IPv4Address(rawValue: c.local_address), c.local_port)
        remote = SocketAddress(IPv4Address(rawValue: c.remote_address), c.remote_port)
    }
    @inline(__always) var c: tcplab_tuple {
        tcplab_tuple(local_address: local.address.rawValue, remote_address: remote.address.rawValue,
                     local_port: local.port, remote_port: remote.port)
    }
}

// MARK: - Accept queue

/// A listener at the moment of a decision (Linux's names: `reqsk_queue_len`, `sk_ack_backlog`…).
public struct ListenerSnapshot: Hashable, Sendable {
    /// Requests in the SYN queue.
    public var synQueueLength: Int
    /// Requests that never timed out.
    public var youngCount: Int
    /// Children waiting for accept().
    public var acceptQueueLength: Int
    /// The listen() backlog after the somaxconn clamp: the limit of both queues.
    public var backlog: Int
    /// `tcp_max_syn_backlog`.
    public var maxSynBacklog: Int
    /// `tcp_syncookies` (0, 1 or 2).
    public var syncookies: Int
    /// `tcp_abort_on_overflow`.
    public var abortOnOverflow: Bool

    /// `sk_acceptq_is_full`: strictly more than the backlog.
    public var acceptQueueIsFull: Bool { acceptQueueLength > backlog }
    /// `inet_csk_reqsk_queue_is_full`.
    public var synQueueIsFull: Bool { synQueueLength > backlog }

    init(_ c: tcplab_listener) {
        synQueueLength = Int(c.syn_queue_length)
        youngCount = Int(c.young_count)
        acceptQueueLength = Int(c.accept_queue_length)
        backlog = Int(c.backlog)
        maxSynBacklog = Int(c.max_syn_backlog)
        syncookies = Int(c.syncookies)
        abortOnOverflow = c.abort_on_overflow != 0
    }
    var c: tcplab_listener {
        tcplab_listener(syn_queue_length: Int32(clamping: synQueueLength), young_count: Int32(clamping: youngCount),
                        accept_queue_length: Int32(clamping: acceptQueueLength), backlog: Int32(clamping: backlog),
                        max_syn_backlog: Int32(clamping: maxSynBacklog), syncookies: Int32(clamping: syncookies),
                        abort_on_overflow: abortOnOverflow ? 1 : 0)
    }
}

/// A SYN that reached a listener.
public struct SynFacts: Hashable, Sendable {
    public var tuple: FourTuple
    public var now: Instant
    /// The SYN reopens a TIME_WAIT connection (skips the SYN-queue check).
    public var reopensTimeWait: Bool
    /// The peer has a tcp_metrics entry (matters for the `tcp_max_syn_backlog` reserve).
    public var peerIsProven: Bool
    /// Requests in the SYN queue from the same source address; 0 unless the plugin's
    /// `wantsPerSourceCounts` is true.
    public var requestsFromSource: Int

    init(_ c: tcplab_syn) {
        tuple = FourTuple(c.tuple)
        now = Instant(nanoseconds: c.now_ns)
        reopensTimeWait = c.reopens_time_wait != 0
        peerIsProven = c.peer_is_proven != 0
        requestsFromSource = Int(c.requests_from_source)
    }
    var c: tcplab_syn {
        tcplab_syn(tuple: tuple.c, now_ns: now.nanoseconds, reopens_time_wait: reopensTimeWait ? 1 : 0,
                   peer_is_proven: peerIsProven ? 1 : 0, requests_from_source: Int32(clamping: requestsFromSource),
                   reserved: 0)
    }
}

/// Why a SYN is dropped; the engine counts each as Linux would.
public enum DropReason: Hashable, Sendable {
    /// "refused by accept-queue policy".
    case policyRefused
    /// A full SYN queue (`TCPReqQFullDrop`).
    case synQueueFull
    /// A full accept queue (`ListenOverflows`).
    case acceptQueueFull
    /// The quarter of `tcp_max_syn_backlog` kept for proven peers.
    case synBacklogReserve
}

/// What to do with a SYN.
public enum SynVerdict: Hashable, Sendable {
    /// A request sock in the SYN queue and a SYN-ACK.
    case queue
    /// A SYN cookie, no state (only valid with `tcp_syncookies` ≠ 0).
    case cookie
    /// Drop silently.
    case drop(DropReason)
    /// Refuse with a RST.
    case reset

    var code: UInt32 {
        switch self {
        case .queue: TCPLAB_SYN_QUEUE
        case .cookie: TCPLAB_SYN_COOKIE
        case .reset: TCPLAB_SYN_RESET
        case .drop(.policyRefused): TCPLAB_SYN_DROP
        case .drop(.synQueueFull): TCPLAB_SYN_DROP_SYN_QUEUE_FULL
        case .drop(.acceptQueueFull): TCPLAB_SYN_DROP_ACCEPT_QUEUE_FULL
        case .drop(.synBacklogReserve): TCPLAB_SYN_DROP_SYN_BACKLOG_RESERVE
        }
    }
    init?(code: UInt32) {
        switch code {
        case TCPLAB_SYN_QUEUE: self = .queue
        case TCPLAB_SYN_COOKIE: self = .cookie
        case TCPLAB_SYN_RESET: self = .reset
        case TCPLAB_SYN_DROP: self = .drop(.policyRefused)
        case TCPLAB_SYN_DROP_SYN_QUEUE_FULL: self = .drop(.synQueueFull)
        case TCPLAB_SYN_DROP_ACCEPT_QUEUE_FULL: self = .drop(.acceptQueueFull)
        case TCPLAB_SYN_DROP_SYN_BACKLOG_RESERVE: self = .drop(.synBacklogReserve)
        default: return nil
        }
    }
}

/// What to do with a completed handshake that finds the accept queue full.
public enum OverflowVerdict: Hashable, Sendable {
    /// `tcp_abort_on_overflow` = 0: drop the ACK and keep the request.
    case dropAndKeepRequest
    /// `tcp_abort_on_overflow` = 1: RST.
    case reset

    var code: UInt32 { self == .reset ? TCPLAB_OVERFLOW_RESET : TCPLAB_OVERFLOW_DROP_AND_KEEP }
    init?(code: UInt32) {
        switch code {
        case TCPLAB_OVERFLOW_DROP_AND_KEEP: self = .dropAndKeepRequest
        case TCPLAB_OVERFLOW_RESET: self = .reset
        default: return nil
        }
    }
}

/// A child waiting for accept().
public struct QueuedChild: Hashable, Sendable {
    public var tuple: FourTuple
    /// When its handshake completed.
    public var establishedAt: Instant
    public init(tuple: FourTuple, establishedAt: Instant) {
        self.tuple = tuple
        self.establishedAt = establishedAt
    }
}

/// The accept queue as `selectChild` sees it: oldest first, never empty. A view over the engine's
/// memory, valid only during the call.
public struct ChildQueue: RandomAccessCollection {
    let base: UnsafePointer<tcplab_child>
    public let count: Int
    init(base: UnsafePointer<tcplab_child>, count: Int) {
        self.base = base
        self.count = count
    }
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(i: Int) -> QueuedChild {
        precondition(i >= 0 && i < count, "child index \(i) outside the accept queue (\(count) children)")
        let c = base[i]
        return QueuedChild(tuple: FourTuple(c.tuple), establishedAt: Instant(nanoseconds: c.established_ns))
    }
}

// MARK: - Delayed ACK

/// Per-connection ACK state (Linux's `icsk_ack`). The engine owns it and lends it `inout`.
public struct AckState: Hashable, Sendable {
    /// `ICSK_ACK_*` bits.
    public struct Pending: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// An ACK is owed.
        public static let scheduled = Pending(rawValue: UInt8(TCPLAB_ACK_SCHEDULED))
        /// The delayed-ACK timer is armed (`deadline`).
        public static let timer = Pending(rawValue: UInt8(TCPLAB_ACK_TIMER))
        public static let pushed = Pending(rawValue: UInt8(TCPLAB_ACK_PUSHED))
        public static let pushed2 = Pending(rawValue: UInt8(TCPLAB_ACK_PUSHED2))
        /// ACK at the next opportunity (a filled hole).
        public static let now = Pending(rawValue: UInt8(TCPLAB_ACK_NOW))
    }

    public var pending: Pending = []
    /// Remaining quick-ACK credit.
    public var quick: UInt8 = 0
    /// Interactive (pingpong) mode while ≥ `AckFacts.pingpongThreshold`.
    public var pingpong: UInt8 = 0
    /// The ACK timeout estimate, zero until the first data arrives.
    public var ato: Interval = .zero
    /// When the delayed-ACK timer fires, if armed.
    public var deadline: Instant = .never
    /// When data last arrived.
    public var lastReceive: Instant = .zero
    /// When data was last sent.
    public var lastSend: Instant = .zero
    /// Estimated peer MSS.
    public var rcvMSS: Int = 536
    /// Size of the last received segment.
    public var lastSegmentSize: Int = 0
    /// Immediate duplicate ACKs sent while out-of-order data is queued.
    public var outOfOrderAcks: UInt8 = 0

    public init() {}

    /// Arms the delayed-ACK timer as Linux does (`scheduled`, `timer`, `deadline`) and returns the
    /// matching decision: `return ack.armDelayedAck(at: facts.now + .milliseconds(40))`.
    public mutating func armDelayedAck(at deadline: Instant) -> AckDecision {
        pending.formUnion([.scheduled, .timer])
        self.deadline = deadline
        return .at(deadline)
    }

    @inline(__always) init(_ c: tcplab_ack_state) {
        pending = Pending(rawValue: c.pending)
        quick = c.quick
        pingpong = c.pingpong
        ato = Interval(nanoseconds: c.ato_ns)
        deadline = Instant(nanoseconds: c.deadline_ns)
        lastReceive = Instant(nanoseconds: c.last_receive_ns)
        lastSend = Instant(nanoseconds: c.last_send_ns)
        rcvMSS = Int(c.rcv_mss)
        lastSegmentSize = Int(c.last_segment_size)
        outOfOrderAcks = c.out_of_order_acks
    }
    @inline(__always) var c: tcplab_ack_state {
        tcplab_ack_state(ato_ns: ato.nanoseconds, deadline_ns: deadline.nanoseconds,
                         last_receive_ns: lastReceive.nanoseconds, last_send_ns: lastSend.nanoseconds,
                         rcv_mss: Int32(truncatingIfNeeded: rcvMSS), last_segment_size: Int32(truncatingIfNeeded: lastSegmentSize),
                         pending: pending.rawValue, quick: quick, pingpong: pingpong, out_of_order_acks: outOfOrderAcks,
                         reserved: 0)
    }
}

/// What the engine knows about the connection when it asks.
public struct AckFacts: Hashable, Sendable {
    public var now: Instant
    /// Current retransmission timeout.
    public var rto: Interval
    /// Smoothed RTT, if measured.
    public var srtt: Interval?
    /// Our advertised receive window in bytes.
    public var receiveWindow: Int
    /// Our MSS.
    public var advertisedMSS: Int
    /// Bytes received but not yet acknowledged (`rcv_nxt − rcv_wup`).
    public var unacknowledged: Int
    /// The window would not shrink if we ACKed now.
    public var windowWouldNotShrink: Bool
    /// Out-of-order data is queued.
    public var hasOutOfOrderData: Bool
    /// `tcp_pingpong_thresh`.
    public var pingpongThreshold: Int
    /// `tcp_rto_min`.
    public var rtoMin: Interval
    /// The cap on the delayed-ACK timer (200 ms).
    public var delackMax: Interval
    /// TCP header length without SACK blocks (20, or 32 with timestamps).
    public var tcpHeaderLength: Int

    @inline(__always) init(_ c: tcplab_ack_facts) {
        now = Instant(nanoseconds: c.now_ns)
        rto = Interval(nanoseconds: c.rto_ns)
        srtt = c.srtt_ns < 0 ? nil : Interval(nanoseconds: c.srtt_ns)
        receiveWindow = Int(c.receive_window)
        advertisedMSS = Int(c.advertised_mss)
        unacknowledged = Int(c.unacknowledged)
        windowWouldNotShrink = c.window_would_not_shrink != 0
        hasOutOfOrderData = c.has_out_of_order_data != 0
        pingpongThreshold = Int(c.pingpong_threshold)
        rtoMin = Interval(nanoseconds: c.rto_min_ns)
        delackMax = Interval(nanoseconds: c.delack_max_ns)
        tcpHeaderLength = Int(c.tcp_header_length)
    }
    @inline(__always) var c: tcplab_ack_facts {
        tcplab_ack_facts(now_ns: now.nanoseconds, rto_ns: rto.nanoseconds, srtt_ns: srtt?.nanoseconds ?? -1,
                         rto_min_ns: rtoMin.nanoseconds, delack_max_ns: delackMax.nanoseconds,
                         receive_window: Int32(clamping: receiveWindow), advertised_mss: Int32(clamping: advertisedMSS),
                         unacknowledged: Int32(clamping: unacknowledged), pingpong_threshold: Int32(clamping: pingpongThreshold),
                         tcp_header_length: Int32(clamping: tcpHeaderLength),
                         window_would_not_shrink: windowWouldNotShrink ? 1 : 0,
                         has_out_of_order_data: hasOutOfOrderData ? 1 : 0, reserved: (0, 0))
    }
}

/// An in-order data segment as `tcp_measure_rcv_mss` sees it.
public struct ReceivedData: Hashable, Sendable {
    /// Payload bytes.
    public var length: Int
    /// TCP header bytes.
    public var headerLength: Int
    public var push: Bool
    public var finUrgOrSyn: Bool

    init(_ c: tcplab_received_data) {
        length = Int(c.length)
        headerLength = Int(c.header_length)
        push = c.push != 0
        finUrgOrSyn = c.fin_urg_or_syn != 0
    }
    var c: tcplab_received_data {
        tcplab_received_data(length: Int32(clamping: length), header_length: Int32(clamping: headerLength),
                             push: push ? 1 : 0, fin_urg_or_syn: finUrgOrSyn ? 1 : 0, reserved: (0, 0))
    }
}

/// Why the third ACK of an active open might wait.
public struct ThirdAckFacts: Hashable, Sendable {
    /// A writer is blocked waiting for the connection.
    public var writePending: Bool
    /// TCP_DEFER_ACCEPT is set.
    public var deferAccept: Bool

    init(_ c: tcplab_third_ack) {
        writePending = c.write_pending != 0
        deferAccept = c.defer_accept != 0
    }
    var c: tcplab_third_ack {
        tcplab_third_ack(write_pending: writePending ? 1 : 0, defer_accept: deferAccept ? 1 : 0, reserved: (0, 0))
    }
}

/// The answer to "an ACK may be owed: now, later, or not at all?".
public enum AckDecision: Hashable, Sendable {
    /// No ACK owed.
    case none
    /// ACK at once.
    case now
    /// Arm (or keep) the delayed-ACK timer for this deadline: now ≤ deadline < now + 500 ms.
    case at(Instant)

    @inline(__always) func encode(_ deadline: UnsafeMutablePointer<Int64>?) -> UInt32 {
        switch self {
        case .none: return TCPLAB_ACK_DECISION_NONE
        case .now: return TCPLAB_ACK_DECISION_NOW
        case let .at(t):
            deadline?.pointee = t.nanoseconds
            return TCPLAB_ACK_DECISION_AT
        }
    }
    @inline(__always) init?(code: UInt32, deadline: Int64) {
        switch code {
        case TCPLAB_ACK_DECISION_NONE: self = .none
        case TCPLAB_ACK_DECISION_NOW: self = .now
        case TCPLAB_ACK_DECISION_AT: self = .at(Instant(nanoseconds: deadline))
        default: return nil
        }
    }
}

import CTCPLabPlugin
import TCPPolicy
import TCPWire

// TCPPolicy's values to and from the C structs of tcplab_plugin.h, and Linux's policies behind the
// `linux_*` tables every plugin instance receives.

extension tcplab_tuple {
    @inline(__always) init(_ t: FourTuple) {
        self.init(local_address: t.local.address.rawValue, remote_address: t.remote.address.rawValue,
                  local_port: t.local.port, remote_port: t.remote.port)
    }
}

extension FourTuple {
    @inline(__always) init(_ c: tcplab_tuple) {
        self.init(local: SocketAddress(IPv4Address(rawValue: c.local_address), c.local_port),
                  remote: SocketAddress(IPv4Address(rawValue: c.remote_address), c.remote_port))
    }
}

extension tcplab_listener {
    @inline(__always) init(_ l: ListenerSnapshot) {
        self.init(syn_queue_length: Int32(clamping: l.synQueueLength), young_count: Int32(clamping: l.youngCount),
                  accept_queue_length: Int32(clamping: l.acceptQueueLength), backlog: Int32(clamping: l.backlog),
                  max_syn_backlog: Int32(clamping: l.maxSynBacklog), syncookies: Int32(clamping: l.syncookies),
                  abort_on_overflow: l.abortOnOverflow ? 1 : 0)
    }
}

extension ListenerSnapshot {
    init(_ c: tcplab_listener) {
        self.init(synQueueLength: Int(c.syn_queue_length), youngCount: Int(c.young_count),
                  acceptQueueLength: Int(c.accept_queue_length), backlog: Int(c.backlog),
                  maxSynBacklog: Int(c.max_syn_backlog), syncookies: Int(c.syncookies),
                  abortOnOverflow: c.abort_on_overflow != 0)
    }
}

extension tcplab_syn {
    @inline(__always) init(_ s: SynFacts) {
        self.init(tuple: tcplab_tuple(s.tuple), now_ns: s.now.nanoseconds, reopens_time_wait: s.reopensTimeWait ? 1 : 0,
                  peer_is_proven: s.peerIsProven ? 1 : 0, requests_from_source: Int32(clamping: s.requestsFromSource),
                  reserved: 0)
    }
}

extension SynFacts {
    init(_ c: tcplab_syn) {
        self.init(tuple: FourTuple(c.tuple), now: Instant(nanoseconds: c.now_ns), reopensTimeWait: c.reopens_time_wait != 0,
                  peerIsProven: c.peer_is_proven != 0, requestsFromSource: Int(c.requests_from_source))
    }
}

extension SynVerdict {
    /// `TCPLAB_SYN_*`; drops for reasons no plugin can name travel as a plain policy drop.
    var abiValue: UInt32 {
        switch self {
        case .queue: TCPLAB_SYN_QUEUE
        case .cookie: TCPLAB_SYN_COOKIE
        case .reset: TCPLAB_SYN_RESET
        case .drop(.synQueueFull): TCPLAB_SYN_DROP_SYN_QUEUE_FULL
        case .drop(.acceptQueueFull): TCPLAB_SYN_DROP_ACCEPT_QUEUE_FULL
        case .drop(.synBacklogReserve): TCPLAB_SYN_DROP_SYN_BACKLOG_RESERVE
        case .drop: TCPLAB_SYN_DROP
        }
    }

    init?(abiValue: UInt32) {
        switch abiValue {
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

extension OverflowVerdict {
    var abiValue: UInt32 { self == .reset ? TCPLAB_OVERFLOW_RESET : TCPLAB_OVERFLOW_DROP_AND_KEEP }

    init?(abiValue: UInt32) {
        switch abiValue {
        case TCPLAB_OVERFLOW_DROP_AND_KEEP: self = .dropAndKeepRequest
        case TCPLAB_OVERFLOW_RESET: self = .reset
        default: return nil
        }
    }
}

extension tcplab_ack_state {
    @inline(__always) init(_ a: AckState) {
        self.init(ato_ns: a.ato.nanoseconds, deadline_ns: a.deadline.nanoseconds, last_receive_ns: a.lastReceive.nanoseconds,
                  last_send_ns: a.lastSend.nanoseconds, rcv_mss: Int32(clamping: a.rcvMSS),
                  last_segment_size: Int32(clamping: a.lastSegmentSize), pending: a.pending.rawValue, quick: a.quick,
                  pingpong: a.pingpong, out_of_order_acks: a.outOfOrderAcks, reserved: 0)
    }

    /// Every `TCPLAB_ACK_*` bit.
    static let knownPendingBits: UInt8 = 0x1F

    /// What is wrong with a state a plugin left behind, or nil.
    func problem() -> String? {
        if pending & ~Self.knownPendingBits != 0 {
            return "ack->pending = 0x\(String(pending, radix: 16)) has bits outside TCPLAB_ACK_* (0x1f)"
        }
        if rcv_mss < 1 { return "ack->rcv_mss = \(rcv_mss): must be at least 1" }
        if ato_ns < 0 { return "ack->ato_ns = \(ato_ns): must not be negative" }
        return nil
    }
}

extension AckState {
    @inline(__always) init(_ c: tcplab_ack_state) {
        self.init()
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
}

extension tcplab_ack_facts {
    @inline(__always) init(_ f: AckFacts) {
        self.init(now_ns: f.now.nanoseconds, rto_ns: f.rto.nanoseconds, srtt_ns: f.srtt?.nanoseconds ?? -1,
                  rto_min_ns: f.rtoMin.nanoseconds, delack_max_ns: f.delackMax.nanoseconds,
                  receive_window: Int32(clamping: f.receiveWindow), advertised_mss: Int32(clamping: f.advertisedMSS),
                  unacknowledged: Int32(clamping: f.unacknowledged), pingpong_threshold: Int32(clamping: f.pingpongThreshold),
                  tcp_header_length: Int32(clamping: f.tcpHeaderLength),
                  window_would_not_shrink: f.windowWouldNotShrink ? 1 : 0, has_out_of_order_data: f.hasOutOfOrderData ? 1 : 0,
                  reserved: (0, 0))
    }
}

extension AckFacts {
    init(_ c: tcplab_ack_facts) {
        self.init(now: Instant(nanoseconds: c.now_ns), rto: Interval(nanoseconds: c.rto_ns),
                  srtt: c.srtt_ns < 0 ? nil : Interval(nanoseconds: c.srtt_ns), receiveWindow: Int(c.receive_window),
                  advertisedMSS: Int(c.advertised_mss), unacknowledged: Int(c.unacknowledged),
                  windowWouldNotShrink: c.window_would_not_shrink != 0, hasOutOfOrderData: c.has_out_of_order_data != 0,
                  pingpongThreshold: Int(c.pingpong_threshold), rtoMin: Interval(nanoseconds: c.rto_min_ns),
                  delackMax: Interval(nanoseconds: c.delack_max_ns), tcpHeaderLength: Int(c.tcp_header_length))
    }
}

extension tcplab_received_data {
    @inline(__always) init(_ d: ReceivedData) {
        self.init(length: Int32(clamping: d.length), header_length: Int32(clamping: d.headerLength), push: d.push ? 1 : 0,
                  fin_urg_or_syn: d.finUrgOrSyn ? 1 : 0, reserved: (0, 0))
    }
}

extension tcplab_third_ack {
    @inline(__always) init(_ t: ThirdAckFacts) {
        self.init(write_pending: t.writePending ? 1 : 0, defer_accept: t.deferAccept ? 1 : 0, reserved: (0, 0))
    }
}

extension AckDecision {
    @inline(__always) func encode(_ deadline: UnsafeMutablePointer<Int64>?) -> UInt32 {
        switch self {
        case .none: return TCPLAB_ACK_DECISION_NONE
        case .now: return TCPLAB_ACK_DECISION_NOW
        case let .at(t):
            deadline?.pointee = t.nanoseconds
            return TCPLAB_ACK_DECISION_AT
        }
    }
}

// MARK: - Linux behind the C ABI

/// Linux's three policies for one plugin instance: the fallback for invalid answers, and what the
/// instance reaches through `tcplab_host.linux_*`.
final class LinuxPolicies {
    let isn: LinuxISN
    let acceptQueue = LinuxAcceptQueue()
    let delayedAck = LinuxDelayedAck()
    init(isn: LinuxISN) { self.isn = isn }
}

@inline(__always) private func linux<R>(_ p: UnsafeMutableRawPointer?, _ body: (LinuxPolicies) -> R) -> R {
    Unmanaged<LinuxPolicies>.fromOpaque(p!)._withUnsafeGuaranteedRef(body)
}

/// Swift's run-once global initialisation makes these safe to share; they are never written after.
nonisolated(unsafe) let linuxISNOps: UnsafeMutablePointer<tcplab_isn_ops> = {
    let p = UnsafeMutablePointer<tcplab_isn_ops>.allocate(capacity: 1)
    p.initialize(to: tcplab_isn_ops(
        initial_sequence_number: { i, t, now in
            linux(i) { $0.isn.initialSequenceNumber(for: FourTuple(t!.pointee), at: Instant(nanoseconds: now)).rawValue }
        },
        timestamp_offset: { i, t, now in
            linux(i) { $0.isn.timestampOffset(for: FourTuple(t!.pointee), at: Instant(nanoseconds: now)) }
        }))
    return p
}()

nonisolated(unsafe) let linuxAcceptQueueOps: UnsafeMutablePointer<tcplab_accept_queue_ops> = {
    let p = UnsafeMutablePointer<tcplab_accept_queue_ops>.allocate(capacity: 1)
    p.initialize(to: tcplab_accept_queue_ops(
        on_syn: { i, s, l in
            linux(i) { $0.acceptQueue.onSyn(SynFacts(s!.pointee), listener: ListenerSnapshot(l!.pointee)).abiValue }
        },
        on_accept_queue_full: { i, t, l in
            linux(i) { $0.acceptQueue.onAcceptQueueFull(FourTuple(t!.pointee), listener: ListenerSnapshot(l!.pointee)).abiValue }
        },
        select_child: { _, _, _ in 0 }))  // reqsk_queue_remove takes the head
    return p
}()

nonisolated(unsafe) let linuxDelayedAckOps: UnsafeMutablePointer<tcplab_delayed_ack_ops> = {
    let p = UnsafeMutablePointer<tcplab_delayed_ack_ops>.allocate(capacity: 1)
    p.initialize(to: tcplab_delayed_ack_ops(
        data_received: { i, a, d, f in
            linux(i) {
                var s = AckState(a!.pointee)
                let data = d!.pointee
                $0.delayedAck.dataReceived(&s, ReceivedData(length: Int(data.length), headerLength: Int(data.header_length),
                                                            push: data.push != 0, finUrgOrSyn: data.fin_urg_or_syn != 0),
                                           facts: AckFacts(f!.pointee))
                a!.pointee = tcplab_ack_state(s)
            }
        },
        ack_check: { i, a, f, deadline in
            linux(i) {
                var s = AckState(a!.pointee)
                let decision = $0.delayedAck.ackCheck(&s, facts: AckFacts(f!.pointee))
                a!.pointee = tcplab_ack_state(s)
                return decision.encode(deadline)
            }
        },
        enter_quick_ack: { i, a, credits, f in
            linux(i) {
                var s = AckState(a!.pointee)
                $0.delayedAck.enterQuickAck(&s, credits: Int(credits), facts: AckFacts(f!.pointee))
                a!.pointee = tcplab_ack_state(s)
            }
        },
        delay_third_ack: { i, a, t, f, deadline in
            linux(i) {
                var s = AckState(a!.pointee)
                let third = ThirdAckFacts(writePending: t!.pointee.write_pending != 0, deferAccept: t!.pointee.defer_accept != 0)
                let decision = $0.delayedAck.delayThirdAck(&s, third, facts: AckFacts(f!.pointee))
                a!.pointee = tcplab_ack_state(s)
                return decision.encode(deadline)
            }
        },
        timer_fired: { i, a, f in
            linux(i) {
                var s = AckState(a!.pointee)
                let fire = $0.delayedAck.timerFired(&s, facts: AckFacts(f!.pointee))
                a!.pointee = tcplab_ack_state(s)
                return fire ? 1 : 0
            }
        },
        data_sent: { i, a, f in
            linux(i) {
                var s = AckState(a!.pointee)
                $0.delayedAck.dataSent(&s, facts: AckFacts(f!.pointee))
                a!.pointee = tcplab_ack_state(s)
            }
        },
        ack_sent: { i, a, f in
            linux(i) {
                var s = AckState(a!.pointee)
                $0.delayedAck.ackSent(&s, facts: AckFacts(f!.pointee))
                a!.pointee = tcplab_ack_state(s)
            }
        },
        set_quick_ack: { i, a, value, f in
            linux(i) {
                var s = AckState(a!.pointee)
                $0.delayedAck.setQuickAck(&s, value: Int(value), facts: AckFacts(f!.pointee))
                a!.pointee = tcplab_ack_state(s)
            }
        }))
    return p
}()

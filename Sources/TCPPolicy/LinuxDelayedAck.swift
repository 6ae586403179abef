/// Linux's delayed-ACK machinery (tcp_input.c, tcp_output.c, tcp_timer.c): quick-ACK credits, pingpong
/// mode, the ato estimate and the delayed-ACK timer. Every rule cites the function it mirrors.
public final class LinuxDelayedAck: DelayedAckPolicy {
    public let name = "linux"
    /// TCP_MAX_QUICKACKS.
    public static let maxQuickAcks = 16
    /// TCP_ATO_MIN = TCP_DELACK_MIN = HZ/25.
    public static let atoMin = Interval.milliseconds(40)
    /// TCP_DELACK_MAX = HZ/5.
    public static let delackMax = Interval.milliseconds(200)
    /// One jiffy (HZ = 1000, as the engine's other timers count them).
    public static let tick = Interval.milliseconds(1)

    /// `outOfOrderAcks` while a compressed SACK is waiting for its timer.
    public static let compressedAckPending: UInt8 = .max

    public init() {}

    @inline(__always) static func inPingpong(_ ack: AckState, _ facts: AckFacts) -> Bool {
        Int(ack.pingpong) >= facts.pingpongThreshold
    }

    /// `tcp_in_quickack_mode`.
    @inline(__always) static func inQuickAckMode(_ ack: AckState, _ facts: AckFacts) -> Bool {
        ack.quick > 0 && !inPingpong(ack, facts)
    }

    /// `tcp_incr_quickack`: credit for half the window in rcv_mss segments, at least 2, at most `max`,
    /// raised only.
    static func incrementQuickAck(_ ack: inout AckState, max: Int, facts: AckFacts) {
        var credits = facts.receiveWindow / (2 * Swift.max(ack.rcvMSS, 1))
        if credits == 0 { credits = 2 }
        credits = Swift.min(credits, max)
        if credits > Int(ack.quick) { ack.quick = UInt8(credits) }
    }

    public func enterQuickAck(_ ack: inout AckState, credits: Int, facts: AckFacts) {
        // tcp_enter_quickack_mode: also leaves pingpong and deflates ato.
        Self.incrementQuickAck(&ack, max: credits, facts: facts)
        ack.pingpong = 0
        ack.ato = Self.atoMin
    }

    public func dataReceived(_ ack: inout AckState, _ data: ReceivedData, facts: AckFacts) {
        ack.pending.insert(.scheduled)  // inet_csk_schedule_ack
        measureReceiveMSS(&ack, data, facts: facts)
        let now = facts.now
        // tcp_event_data_recv: the ato estimate.
        if ack.ato == .zero {
            // The first data ever: quick ACKs for the slow-start phase of the sender.
            Self.incrementQuickAck(&ack, max: Self.maxQuickAcks, facts: facts)
            ack.ato = Self.atoMin
        } else {
            let m = now - ack.lastReceive
            if m <= Self.atoMin / 2 {
                ack.ato = ack.ato / 2 + Self.atoMin / 2
            } else if m < ack.ato {
                ack.ato = min(ack.ato / 2 + m, facts.rto)
            } else if m > facts.rto {
                // "Too long gap. Apparently sender failed to restart window, so that we send ACKs quickly."
                Self.incrementQuickAck(&ack, max: Self.maxQuickAcks, facts: facts)
            }
        }
        ack.lastReceive = now
        ack.outOfOrderAcks = 0
    }

    /// `tcp_measure_rcv_mss`: learn the peer's segment size; short segments mark PUSHED.
    private func measureReceiveMSS(_ ack: inout AckState, _ data: ReceivedData, facts: AckFacts) {
        let lastSize = ack.lastSegmentSize
        ack.lastSegmentSize = 0
        var len = data.length
        if len >= ack.rcvMSS {
            ack.rcvMSS = min(len, facts.advertisedMSS)
            if data.push { ack.pending.insert(.pushed) }
            return
        }
        len += data.headerLength
        // A segment that looks full-sized (≥ 536 + 20, or ≥ 88 + 20 without FIN/URG/SYN/PSH) twice in
        // a row becomes the new rcv_mss.
        if len >= 536 + 20 || (len >= 88 + 20 && !data.finUrgOrSyn && !data.push) {
            len -= facts.tcpHeaderLength
            ack.lastSegmentSize = len
            if len == lastSize {
                ack.rcvMSS = len
                return
            }
        }
        if ack.pending.contains(.pushed) { ack.pending.insert(.pushed2) }
        ack.pending.insert(.pushed)
    }

    public func ackCheck(_ ack: inout AckState, facts: AckFacts) -> AckDecision {
        // tcp_ack_snd_check: nothing scheduled means a data segment already carried the ACK.
        guard ack.pending.contains(.scheduled) else { return .none }
        // __tcp_ack_snd_check: more than one full frame unacknowledged (and the window would not
        // shrink), quick-ACK mode, or a one-time immediate ACK.
        if (facts.unacknowledged > ack.rcvMSS && facts.windowWouldNotShrink)
            || Self.inQuickAckMode(ack, facts) || ack.pending.contains(.now)
        {
            return .now
        }
        if facts.hasOutOfOrderData {
            // SACK compression: the first three duplicate ACKs go at once (fast retransmit needs them),
            // then one per min(5 % of RTT, tcp_comp_sack_delay_ns = 1 ms), on the compressed-ACK timer
            // (kept in `deadline` with TIMER set; `timerFired` tells it from the delayed-ACK timer).
            if ack.outOfOrderAcks < 3 {
                ack.outOfOrderAcks += 1
                return .now
            }
            if ack.pending.contains(.timer), ack.deadline != .never { return .at(ack.deadline) }
            let delay = min((facts.srtt ?? .milliseconds(1)) / 20, .milliseconds(1))
            ack.outOfOrderAcks = Self.compressedAckPending
            ack.pending.insert(.timer)
            ack.deadline = facts.now + delay
            return .at(ack.deadline)
        }
        return sendDelayedAck(&ack, facts: facts)
    }

    /// `tcp_send_delayed_ack`: how long the ACK may wait.
    private func sendDelayedAck(_ ack: inout AckState, facts: AckFacts) -> AckDecision {
        var ato = ack.ato
        if ato > Self.atoMin {
            var maxAto = Interval.milliseconds(500)  // HZ / 2
            if Self.inPingpong(ack, facts) || ack.pending.contains(.pushed) { maxAto = Self.delackMax }
            // Bound by the measured RTT (not the RTO), at least TCP_DELACK_MIN.
            if let srtt = facts.srtt { maxAto = min(maxAto, max(srtt, Self.atoMin)) }
            ato = min(ato, maxAto)
        }
        // tcp_delack_max(): min(icsk_delack_max, rto_min − 1 tick).
        ato = min(ato, min(facts.delackMax, facts.rtoMin - Self.tick))
        // `timeout = jiffies + ato`, kept in `deadline` as Linux keeps it in icsk_ack.timeout.
        var deadline = facts.now + ato
        if ack.pending.contains(.timer) {
            // The timer is about to fire anyway: send now.
            if ack.deadline <= facts.now + ato / 4 { return .now }
            // Keep an earlier deadline.
            if !(deadline < ack.deadline) { deadline = ack.deadline }
        }
        ack.pending.formUnion([.scheduled, .timer])
        ack.deadline = deadline
        // With ato 0 (no data received yet — a lone FIN, say) the timer is due as it is armed, and a
        // timer_list runs at the next tick, never at once: one jiffy here, the end of that range as for
        // every other length. So a close() within the tick carries the ACK on its FIN, as Linux's traces
        // show (6.18 ACKed a lone FIN by itself in 2 of 8 passive closes, where the application took
        // 90 µs–5 ms to close); and another segment within the tick finds the timer due and is ACKed
        // at once, by the rule above.
        return .at(max(deadline, facts.now + Self.tick))
    }

    public func delayThirdAck(_ ack: inout AckState, _ third: ThirdAckFacts, facts: AckFacts) -> AckDecision {
        // tcp_rcv_synsent_state_process: "Save one ACK. Data will be ready after several ticks, if
        // write_pending is set."
        guard third.writePending || third.deferAccept || Self.inPingpong(ack, facts) else { return .now }
        ack.pending.insert(.scheduled)
        enterQuickAck(&ack, credits: Self.maxQuickAcks, facts: facts)
        ack.pending.insert(.timer)
        ack.deadline = facts.now + Self.delackMax
        return .at(ack.deadline)
    }

    public func timerFired(_ ack: inout AckState, facts: AckFacts) -> Bool {
        guard ack.pending.contains(.timer) else { return false }
        if facts.now < ack.deadline { return false }
        ack.pending.remove(.timer)
        if ack.outOfOrderAcks == Self.compressedAckPending {
            // tcp_compressed_ack_kick: the compressed ACK goes; ato and pingpong stay as they are.
            ack.outOfOrderAcks = 3
            return ack.pending.contains(.scheduled)
        }
        // tcp_delack_timer_handler.
        guard ack.pending.contains(.scheduled) else { return false }
        if !Self.inPingpong(ack, facts) {
            // "Delayed ACK missed: inflate ATO."
            ack.ato = min(ack.ato + ack.ato, facts.rto)
        } else {
            // "Delayed ACK missed: leave pingpong mode and deflate ATO."
            ack.pingpong = 0
            ack.ato = Self.atoMin
        }
        return true
    }

    public func dataSent(_ ack: inout AckState, facts: AckFacts) {
        // tcp_event_data_sent: a reply within ato of the last received data counts towards pingpong.
        ack.lastSend = facts.now
        if facts.now - ack.lastReceive < ack.ato, ack.pingpong < .max { ack.pingpong += 1 }
    }

    public func ackSent(_ ack: inout AckState, facts: AckFacts) {
        // tcp_event_ack_sent → tcp_dec_quickack_mode, then the DACK timer is cleared.
        if ack.quick > 0 {
            let packets: UInt8 = ack.pending.contains(.scheduled) ? 1 : 0
            if packets >= ack.quick {
                ack.quick = 0
                ack.ato = Self.atoMin
            } else {
                ack.quick -= packets
            }
        }
        ack.pending = []
        ack.deadline = .never
        if ack.outOfOrderAcks == Self.compressedAckPending { ack.outOfOrderAcks = 3 }
    }

    public func setQuickAck(_ ack: inout AckState, value: Int, facts: AckFacts) {
        // __tcp_sock_set_quickack: 0 enters pingpong; non-zero leaves it (the engine then flushes a
        // pending ACK through cleanup_rbuf, and an even value re-enters pingpong afterwards).
        if value == 0 {
            ack.pingpong = UInt8(clamping: facts.pingpongThreshold)
        } else {
            ack.pingpong = 0
            if ack.pending.contains(.scheduled) { ack.pending.insert(.pushed) }
        }
    }
}

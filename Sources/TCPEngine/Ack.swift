import TCPPolicy
import TCPWire

// `tcp_ack` and what hangs off it: the send window, the retransmit queue, RTT samples, congestion
// control and loss recovery.
//
// Congestion control is Linux's `reno` module (tcp_cong.c: tcp_reno_cong_avoid, tcp_reno_ssthresh), i.e.
// RFC 5681: initial window 10 (RFC 6928; 1 after more than one SYN retransmission), slow start below
// ssthresh, one segment per window above it, counted in packets and only while cwnd-limited
// (tcp_is_cwnd_limited), cwnd halved after idle (RFC 5681 §4.1, tcp_slow_start_after_idle). A loss halves
// ssthresh (max(cwnd/2, 2)); in fast recovery cwnd follows PRR (RFC 6937, tcp_cwnd_reduction) down to
// it; a timeout sets cwnd to 1. Linux's default, CUBIC, is not implemented.
//
// Loss detection is what Linux does on a connection without SACK (tcp_is_reno): three duplicate ACKs
// mark the head lost and start fast recovery (RFC 5681 §3.2), each partial ACK marks the next head lost
// (NewReno, RFC 6582). The sender keeps no SACK scoreboard: SACK blocks the peer sends are ignored (no
// RACK, no SACK-based recovery, no D-SACK undo, no F-RTO). Tail loss probes (RFC 8985 §7) are sent when
// SACK was negotiated, as Linux does.

/// What `tcp_ack` made of a segment's ACK field.
enum AckResult {
    /// Acceptable (new, duplicate or window update).
    case ok
    /// Older than snd_una but within the window: ignored, the segment goes on (Linux returns 0).
    case old
    /// Beyond snd_nxt, or too old (RFC 5961 §5.2): drop the segment (Linux returns < 0).
    case drop
}

extension Host {
    /// `tcp_ack`: the send window, the retransmit queue, RTT, congestion control, loss recovery, and
    /// the retransmit timer.
    /// - Parameter noChallenge: FLAG_NO_CHALLENGE_ACK (outside ESTABLISHED the caller challenges).
    func tcpAck(_ c: Connection, _ seg: borrowing TCPSegment, noChallenge: Bool) -> AckResult {
        let ack = seg.tcp.acknowledgmentNumber
        let seq = seg.tcp.sequenceNumber
        let priorSndUna = c.sndUna
        if ack < priorSndUna {
            // RFC 5961 §5.2: more than the largest window behind (and never more than was ever acked).
            let maxWindow = UInt32(truncatingIfNeeded: min(UInt64(c.maxWindow), c.bytesAcked))
            if ack < priorSndUna - maxWindow {
                emitDropped(.oldAck, seg, socket: c.id)
                if !noChallenge { sendChallengeAck(c, synChallenge: false) }
                return .drop
            }
            return .old
        }
        if ack > c.sndNxt {
            // "If the ack includes data we haven't sent yet, discard this segment (RFC 793 §3.9)."
            emitDropped(.ackBeyondSndNxt, seg, socket: c.id)
            return .drop
        }
        let advanced = ack > priorSndUna
        if advanced { c.retransmits = 0 }
        // tcp_replace_ts_recent: only a segment at the left edge, and never backwards.
        if c.timestampsOK, let ts = seg.timestamps, !(seq > c.rcvWup),
           c.tsRecentStamp == nil || Int32(bitPattern: c.tsRecent &- ts.value) <= 0
        {
            c.tsRecent = ts.value
            c.tsRecentStamp = now
        }
        let hasData = seg.length > 0
        if !hasData { count(.TCPPureAcks) }
        // tcp_ack_update_window.
        var windowUpdate = false
        let nwin = Int(seg.tcp.window) << Int(c.sndWscale)
        if mayUpdateWindow(c, ack: ack, seq: seq, window: nwin) {
            windowUpdate = true
            c.sndWl1 = seq
            if c.sndWnd != nwin {
                c.sndWnd = nwin
                if c.hasUnsent { slowStartAfterIdleCheck(c) }
                if nwin > c.maxWindow { c.maxWindow = nwin }
            }
        }
        // tcp_snd_una_update.
        c.bytesAcked += UInt64(ack - priorSndUna)
        c.sndUna = ack
        // "We passed data and got it acked, remove any soft error log. Something worked..."
        c.softError = nil
        c.probesOut = 0
        c.rcvTstamp = now

        let priorPackets = c.packetsOut
        guard priorPackets > 0 else {
            // Nothing was in flight: the ACK may open a zero window (`tcp_ack_probe`).
            c.sendQueue.removeFirst(max(0, min(SequenceNumber.min(ack, c.dataEnd) - priorSndUna, c.sendQueue.count)))
            ackProbe(c)
            if c.tlpHighSeq != nil { processTLPAck(c, ack: ack, advanced: advanced, notDup: true) }
            return .ok
        }
        let cleaned = cleanRetransmitQueue(c, ack: ack, priorSndUna: priorSndUna, echo: seg.timestamps?.echoReply)
        let notDup = hasData || windowUpdate || cleaned.packets > 0
        if c.tlpHighSeq != nil { processTLPAck(c, ack: ack, advanced: advanced, notDup: notDup) }
        var rexmit = false
        var delivered = cleaned.delivered
        if !notDup || c.caState != .open {
            // tcp_ack_is_dubious → tcp_fastretrans_alert.
            let dupack = !advanced && !notDup
            delivered += fastRetransAlert(c, advanced: advanced, dupack: dupack, rexmit: &rexmit)
        } else if c.retransOut == 0 {
            c.retransStamp = nil
        }
        if cleaned.packets > 0 { setXmitTimer(c) }
        congestionControl(c, delivered: delivered, dataAcked: cleaned.packets > 0)
        if rexmit { xmitRetransmitQueue(c) }
        return .ok
    }

    /// `tcp_may_update_window`: a newer segment, or the same one with a larger (or zero) window.
    func mayUpdateWindow(_ c: Connection, ack: SequenceNumber, seq: SequenceNumber, window: Int) -> Bool {
        ack > c.sndUna || seq > c.sndWl1 || (seq == c.sndWl1 && (window > c.sndWnd || window == 0))
    }

    /// `tcp_clean_rtx_queue`: fully acknowledged segments leave the retransmit queue (a partially
    /// acknowledged one stays, as a single-MSS skb does), the acked bytes leave the send queue, and the
    /// oldest never-retransmitted one gives the RTT sample (Karn); failing that, the TSecr does.
    private func cleanRetransmitQueue(_ c: Connection, ack: SequenceNumber, priorSndUna: SequenceNumber, echo: UInt32?)
        -> (packets: UInt32, delivered: UInt32, retransAcked: Bool)
    {
        var packets: UInt32 = 0
        var firstAckt: Instant?
        var lastAckt: Instant = .zero
        var retransAcked = false
        var delivered: UInt32 = 0
        while let head = c.rtx.first, !(head.end > ack) {
            packets += 1
            if head.flags.contains(.everRetransmitted) {
                if head.flags.contains(.retransmitted) { c.retransOut -= 1 }
                retransAcked = true
            } else {
                lastAckt = head.sentAt
                if firstAckt == nil { firstAckt = head.sentAt }
            }
            if head.flags.contains(.lost) { c.lostOut -= 1 }
            c.rtx.removeFirst()
        }
        // The send queue holds data from snd_una; a FIN takes a sequence number but no byte.
        let bytes = SequenceNumber.min(ack, c.dataEnd) - priorSndUna
        c.sendQueue.removeFirst(max(0, min(bytes, c.sendQueue.count)))
        if packets > 0 {
            var sampleUs: Int64?
            if let firstAckt, !retransAcked {
                sampleUs = microsecondsSince(firstAckt)
                c.rackRttUs = microsecondsSince(lastAckt)
            } else if c.timestampsOK, let echo, echo != 0 {
                // RFC 7323 §4.1 RTTM: only for an ACK of new data.
                sampleUs = timestampRTT(c, echo: echo)
            }
            if let sampleUs {
                rttEstimate(c, sampleUs: sampleUs)
                // RFC 6298 §5.7: only a valid RTT sample resets the backoff.
                c.backoff = 0
            }
            // The sender keeps no SACK scoreboard: it counts as Linux does for a Reno connection.
            delivered = max(packets > c.sackedOut ? packets - c.sackedOut : 0, 1)
            removeRenoSacks(c, acked: packets)
        }
        if c.packetsOut == 0 {
            c.sackedOut = 0
            c.lostOut = 0
            c.retransOut = 0
        }
        return (packets, delivered, retransAcked)
    }

    /// `tcp_ack_probe`: an ACK that opens the window for the waiting data stops the zero-window probes;
    /// one that does not pushes the next probe out.
    private func ackProbe(_ c: Connection) {
        guard c.hasUnsent else { return }
        if !(nextSegmentEnd(c) > c.windowEnd) {
            c.backoff = 0
            c.probesStamp = nil
            clearXmit(c)
        } else {
            armXmit(c, .probe0, after: probe0When(c))
        }
    }

    /// `tcp_process_tlp_ack`: the episode a loss probe began is over once snd_nxt at the probe is acked.
    private func processTLPAck(_ c: Connection, ack: SequenceNumber, advanced: Bool, notDup: Bool) {
        guard let high = c.tlpHighSeq, !(ack < high) else { return }
        if !c.tlpRetrans || ack > high || (!advanced && !notDup) {
            c.tlpHighSeq = nil
        }
    }

    /// `tcp_set_xmit_timer`: a loss probe if one may be scheduled, else the RTO.
    func setXmitTimer(_ c: Connection) {
        if !scheduleLossProbe(c, advancingRTO: true) { rearmRTO(c) }
    }

    /// `tcp_rearm_rto`: the RTO from now, or what is left of it after a loss probe.
    @inline(__always) func rearmRTO(_ c: Connection) {
        guard c.packetsOut > 0 else {
            clearXmit(c)
            return
        }
        var rto = c.rto
        if c.xmitPending == .lossProbe {
            rto = Jiffies.fromMicroseconds(max(rtoDeltaMicroseconds(c), 1))
        }
        armXmit(c, .retransmit, after: rto)
    }

    /// `tcp_rto_delta_us`: how far in the future the head segment's RTO is.
    func rtoDeltaMicroseconds(_ c: Connection) -> Int64 {
        guard let head = c.rtx.first else { return c.rto.nanoseconds / 1000 }
        return (head.sentAt.nanoseconds / 1000 + c.rto.nanoseconds / 1000) - now.nanoseconds / 1000
    }

    /// `tcp_schedule_loss_probe` (RFC 8985 §7): with SACK, not in recovery, a probe after 2·SRTT
    /// (plus TCP_RTO_MIN for a lone segment, the peer's delayed ACK), unless the RTO comes first.
    @discardableResult
    @inline(__always) func scheduleLossProbe(_ c: Connection, advancingRTO: Bool) -> Bool {
        let earlyRetrans = sysctl.tcp_early_retrans
        guard earlyRetrans == 3 || earlyRetrans == 4, c.packetsOut > 0, c.sackOK, c.caState == .open else { return false }
        var timeout: Interval
        if c.srttUs != 0 {
            var us = c.srttUs >> 2
            us += c.packetsOut == 1 ? Int64(sysctl.tcp_rto_min_us) : 2000  // TCP_TIMEOUT_MIN_US
            timeout = Jiffies.fromMicroseconds(us)
        } else {
            timeout = .seconds(1)  // TCP_TIMEOUT_INIT
        }
        let rtoDelta = advancingRTO ? c.rto.nanoseconds / 1000 : rtoDeltaMicroseconds(c)
        if rtoDelta > 0 { timeout = min(timeout, Jiffies.fromMicroseconds(rtoDelta)) }
        armXmit(c, .lossProbe, after: timeout)
        return true
    }

    // MARK: Loss recovery (NewReno, as Linux runs a connection without SACK)

    /// `tcp_fastretrans_alert` for a Reno connection: duplicate ACKs count as SACKed segments; the
    /// third marks the head lost and starts recovery (RFC 5681 §3.2); a partial ACK in recovery marks
    /// the next head lost (RFC 6582).
    /// - Returns: packets newly delivered by duplicate ACKs (for PRR).
    private func fastRetransAlert(_ c: Connection, advanced: Bool, dupack: Bool, rexmit: inout Bool) -> UInt32 {
        var delivered: UInt32 = 0
        // D. State exit: high_seq acknowledged.
        if c.caState == .open {
            c.retransStamp = nil
        } else if c.caState == .recovery, !(c.sndUna < c.highSeq) {
            c.sackedOut = 0
            if holdRecovery(c) { return delivered }
            // tcp_end_cwnd_reduction.
            if c.ssthresh != .max {
                c.cwnd = c.ssthresh
                c.cwndStamp = now
            }
            c.caState = .open
        }
        switch c.caState {
        case .recovery:
            if !advanced, dupack { delivered += addRenoSack(c) }
            markNewRenoLost(c, advanced: advanced)
            rexmit = true
            return delivered
        case .loss:
            // tcp_process_loss (without F-RTO and undo).
            guard !(c.sndUna < c.highSeq) else {
                if advanced { c.sackedOut = 0 }
                rexmit = true
                return delivered
            }
            if holdRecovery(c) { return delivered }
            c.caState = .open
        default:
            break
        }
        if advanced { c.sackedOut = 0 }
        if dupack { delivered += addRenoSack(c) }
        markNewRenoLost(c, advanced: advanced)
        if c.lostOut == 0 {
            // tcp_try_to_open.
            if c.retransOut == 0 { c.retransStamp = nil }
            let state: CAState = c.sackedOut > 0 || c.retransOut > 0 ? .disorder : .open
            if c.caState != state {
                c.caState = state
                c.highSeq = c.sndNxt
            }
            return delivered
        }
        enterRecovery(c)
        rexmit = true
        return delivered
    }

    /// The Reno branch of `tcp_try_undo_recovery` (there is no undo here: no D-SACK or Eifel detection):
    /// "Hold old state until something *above* high_seq is ACKed. For Reno it is MUST to prevent false
    /// fast retransmits (RFC2582)."
    private func holdRecovery(_ c: Connection) -> Bool {
        guard c.sndUna == c.highSeq else { return false }
        if c.retransOut == 0 { c.retransStamp = nil }
        return true
    }

    /// `tcp_add_reno_sack`: one more duplicate ACK, never more than the segments that can be behind it.
    private func addRenoSack(_ c: Connection) -> UInt32 {
        let prior = c.sackedOut
        c.sackedOut += 1
        // tcp_limit_reno_sacked.
        let holes = min(max(c.lostOut, 1), c.packetsOut)
        if c.sackedOut + holes > c.packetsOut { c.sackedOut = c.packetsOut - holes }
        return c.sackedOut > prior ? c.sackedOut - prior : 0
    }

    /// `tcp_remove_reno_sacks`: "One ACK acked hole. The rest eat duplicate ACKs."
    private func removeRenoSacks(_ c: Connection, acked: UInt32) {
        guard acked > 0 else { return }
        if acked - 1 >= c.sackedOut { c.sackedOut = 0 } else { c.sackedOut -= acked - 1 }
    }

    /// `tcp_newreno_mark_lost`.
    private func markNewRenoLost(_ c: Connection, advanced: Bool) {
        guard let headIndex = c.rtx.first.map({ _ in c.rtx.indices.lowerBound }) else { return }
        let dupThreshold = UInt32(sysctl.tcp_reordering)
        if (c.caState.rawValue < CAState.recovery.rawValue && c.sackedOut >= dupThreshold)
            || (c.caState == .recovery && advanced)
        {
            guard !c.rtx[headIndex].flags.contains(.lost) else { return }
            c.rtx[headIndex].flags.insert(.lost)
            c.lostOut += 1
        }
    }

    /// `tcp_enter_recovery` + `tcp_init_cwnd_reduction`: ssthresh halves, PRR starts.
    private func enterRecovery(_ c: Connection) {
        count(.TCPRenoRecovery)
        if c.retransOut == 0 { c.retransStamp = nil }
        if c.caState != .recovery {
            c.highSeq = c.sndNxt
            c.tlpHighSeq = nil
            c.cwndCount = 0
            c.priorCwnd = c.cwnd
            c.prrDelivered = 0
            c.prrOut = 0
            c.ssthresh = renoSsthresh(c)
        }
        c.caState = .recovery
    }

    /// `tcp_enter_loss` + `tcp_timeout_mark_lost`: after an RTO every segment in flight is lost (but
    /// for those sent within the last RACK RTT), cwnd = 1 (what is still in flight + 1).
    func enterLoss(_ c: Connection) {
        c.sackedOut = 0
        let headIndex = c.rtx.indices.lowerBound
        for i in c.rtx.indices {
            if i != headIndex, microsecondsSince(c.rtx[i].sentAt) < c.rackRttUs { continue }
            var s = c.rtx[i]
            if s.flags.contains(.lost) {
                if s.flags.contains(.retransmitted) {
                    // A retransmission lost again.
                    s.flags.remove(.retransmitted)
                    c.retransOut -= 1
                }
            } else {
                s.flags.insert(.lost)
                c.lostOut += 1
            }
            c.rtx[i] = s
        }
        if c.caState.rawValue <= CAState.disorder.rawValue || !(c.highSeq > c.sndUna)
            || (c.caState == .loss && c.retransmits == 0)
        {
            c.ssthresh = renoSsthresh(c)
        }
        c.cwnd = c.packetsInFlight + 1
        c.cwndCount = 0
        c.cwndStamp = now
        c.caState = .loss
        c.highSeq = c.sndNxt
        c.tlpHighSeq = nil
        // F-RTO (RFC 5682, tcp_frto) would start here; it is not implemented.
    }

    /// `tcp_xmit_retransmit_queue`: lost segments again, as cwnd allows.
    func xmitRetransmitQueue(_ c: Connection) {
        guard c.packetsOut > 0 else { return }
        let headIndex = c.rtx.indices.lowerBound
        var rearm = false
        var i = headIndex
        while i < c.rtx.indices.upperBound {
            if Int(c.cwnd) - Int(c.packetsInFlight) <= 0 { break }
            if c.retransOut >= c.lostOut { break }
            let s = c.rtx[i]
            if !s.flags.contains(.lost) || s.flags.contains(.retransmitted) {
                i += 1
                continue
            }
            count(c.caState == .loss ? .TCPSlowStartRetrans : .TCPFastRetrans)
            retransmitSegment(c, i)
            if c.caState == .recovery { c.prrOut += 1 }
            if i == headIndex { rearm = true }
            i += 1
        }
        if rearm { armXmit(c, .retransmit, after: c.rto) }
    }

    // MARK: Congestion control: Linux's reno module (RFC 5681) with PRR (RFC 6937) in recovery

    /// `tcp_reno_ssthresh`: half the window, at least 2.
    func renoSsthresh(_ c: Connection) -> UInt32 { max(c.cwnd >> 1, 2) }

    /// `tcp_cong_control`: PRR while in recovery, else reno's increase when data was acked.
    private func congestionControl(_ c: Connection, delivered: UInt32, dataAcked: Bool) {
        if c.caState == .recovery {
            cwndReduction(c, delivered: delivered)
        } else if dataAcked {
            renoCongAvoid(c, acked: delivered)
        }
    }

    /// `tcp_cwnd_reduction` (PRR, RFC 6937): send as much as the peer delivered, scaled down to ssthresh.
    private func cwndReduction(_ c: Connection, delivered: UInt32) {
        guard delivered > 0, c.priorCwnd > 0 else { return }
        c.prrDelivered += delivered
        let inFlight = Int64(c.packetsInFlight)
        let delta = Int64(c.ssthresh) - inFlight
        var sndcnt: Int64
        if delta < 0 {
            let dividend = Int64(c.ssthresh) * Int64(c.prrDelivered) + Int64(c.priorCwnd) - 1
            sndcnt = dividend / Int64(c.priorCwnd) - Int64(c.prrOut)
        } else {
            sndcnt = max(Int64(c.prrDelivered) - Int64(c.prrOut), Int64(delivered))
        }
        // "Force a fast retransmit upon entering fast recovery."
        sndcnt = max(sndcnt, c.prrOut == 0 ? 1 : 0)
        c.cwnd = UInt32(max(inFlight + sndcnt, 1))
    }

    /// `tcp_reno_cong_avoid`: slow start below ssthresh, then one segment per window (`tcp_cong_avoid_ai`),
    /// and only while the window is what limits us (`tcp_is_cwnd_limited`).
    private func renoCongAvoid(_ c: Connection, acked: UInt32) {
        guard isCwndLimited(c) else { return }
        var acked = acked
        if c.cwnd < c.ssthresh {
            // tcp_slow_start.
            let cwnd = min(c.cwnd + acked, c.ssthresh)
            acked -= cwnd - c.cwnd
            c.cwnd = cwnd
            if acked == 0 { return }
        }
        let w = c.cwnd
        if c.cwndCount >= w {
            c.cwndCount = 0
            c.cwnd += 1
        }
        c.cwndCount += acked
        if c.cwndCount >= w {
            let delta = c.cwndCount / w
            c.cwndCount -= delta * w
            c.cwnd += delta
        }
    }

    /// `tcp_is_cwnd_limited`.
    func isCwndLimited(_ c: Connection) -> Bool {
        if c.isCwndLimited { return true }
        // "If in slow start, ensure cwnd grows to twice what was ACKed."
        if c.cwnd < c.ssthresh { return c.cwnd < 2 * c.maxPacketsOut }
        return false
    }

    /// `tcp_cwnd_validate`: remember whether this window was cwnd-limited.
    func cwndValidate(_ c: Connection, cwndLimited: Bool) {
        if !(c.sndUna < c.cwndUsageSeq) || cwndLimited || (!c.isCwndLimited && c.packetsOut > c.maxPacketsOut) {
            c.isCwndLimited = cwndLimited
            c.maxPacketsOut = c.packetsOut
            c.cwndUsageSeq = c.sndNxt
        }
        if isCwndLimited(c) { c.cwndStamp = now }
    }

    /// `tcp_slow_start_after_idle_check` + `tcp_cwnd_restart` (RFC 5681 §4.1): after more than an RTO
    /// without sending, cwnd halves per RTO idle, down to the initial window.
    func slowStartAfterIdleCheck(_ c: Connection) {
        guard sysctl.tcp_slow_start_after_idle != 0, c.packetsOut == 0 else { return }
        var delta = now - c.lsndtime
        guard delta > c.rto else { return }
        let restart = min(10, c.cwnd)
        var cwnd = c.cwnd
        // tcp_current_ssthresh.
        if c.caState != .recovery {
            c.ssthresh = max(c.ssthresh, (c.cwnd >> 1) + (c.cwnd >> 2))
        }
        while true {
            delta = delta - c.rto
            guard delta > .zero, cwnd > restart else { break }
            cwnd >>= 1
        }
        c.cwnd = max(cwnd, restart)
        c.cwndStamp = now
        c.cwndCount = 0
    }
}

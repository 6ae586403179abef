import TCPPolicy
import TCPWire

/// Kernel timer arithmetic. The engine counts time in nanoseconds; Linux's timers count jiffies. Intervals
/// Linux computes in jiffies are rounded up to whole jiffies here (`usecs_to_jiffies`), with HZ = 1000.
/// Deadlines are exact (no tick alignment, no timer-wheel slack).
enum Jiffies {
    /// One jiffy at HZ = 1000.
    static let tick = Interval.milliseconds(1)

    /// `usecs_to_jiffies`: microseconds rounded up to whole jiffies.
    @inline(__always) static func fromMicroseconds(_ us: Int64) -> Interval {
        .milliseconds((max(us, 0) + 999) / 1000)
    }
}

extension Host {
    /// Runs every timer due at `time`: retransmissions, SYN-ACK retries, delayed ACKs, keepalive,
    /// TIME_WAIT, ARP. Call it at `nextDeadline` (or any later time; nothing is lost).
    public func poll(at time: Instant) {
        advance(time)
        // Most polls find nothing due (drivers poll every host at the end of a run, workers on every
        // wake-up): the check stays small enough to inline into them, the timers run out of line.
        guard timers.earliest <= now || timeWaitTimers.earliest <= now else { return }
        runDueTimers()
    }

    /// Fires every due timer of the general queue and of `timeWaitTimers` together, by deadline then
    /// arming order.
    @inline(never) private func runDueTimers() {
        while true {
            let tw = timeWaitTimers.firstDue(now)
            guard let entry = timers.popDue(now, before: tw.map { ($0.deadline, $0.order) }) else {
                guard let tw else { return }
                timeWaitTimer(tw.tuple, ring: timeWaitTimers.popFirst())
                continue
            }
            switch entry.target {
            case let .connection(c, kind):
                // A stale entry (the timer was re-armed earlier since), a cancelled timer, or one re-armed
                // for later: only the entry the slot points at counts, and it may need to move.
                var slot = c[timer: kind]
                guard slot.entry == entry.handle else { continue }
                slot.entry = -1
                if slot.deadline == .never {
                    c[timer: kind] = slot
                    continue
                }
                if now < slot.deadline {
                    slot.entry = timers.push(slot.deadline, .connection(c, kind))
                    c[timer: kind] = slot
                    continue
                }
                slot.deadline = .never
                c[timer: kind] = slot
                fire(kind, c)
            case let .request(tuple):
                guard var req = requests[tuple], req.deadline == entry.deadline else { continue }
                // The entry is spent: its handle must not cancel whatever reuses it.
                req.timer = -1
                requests[tuple] = req
                requestTimer(tuple)
            case let .arp(ip):
                guard let p = arpPending[ip], p.deadline == entry.deadline else { continue }
                arpTimer(ip)
            case let .timeWait(tuple):
                timeWaitTimer(tuple, ring: nil, queueEntry: entry.handle)
            }
        }
    }

    private func fire(_ kind: ConnectionTimer, _ c: Connection) {
        switch kind {
        case .xmit:
            writeTimer(c)
        case .delack:
            emit(.timerFired(.delayedAck, socket: c.id, tuple: c.tuple))
            delackTimer(c)
        case .keepalive:
            emit(.timerFired(.keepalive, socket: c.id, tuple: c.tuple))
            keepaliveTimer(c)
        }
    }

    // MARK: Arming

    /// Arms (or moves) one of `c`'s timers to `deadline`.
    @inline(__always) func arm(_ c: Connection, _ kind: ConnectionTimer, at deadline: Instant) {
        var slot = c[timer: kind]
        slot.deadline = deadline
        if slot.entry < 0 || deadline < timers.deadline(of: slot.entry) {
            // A later entry queued before is stale now.
            timers.cancel(slot.entry)
            slot.entry = timers.push(deadline, .connection(c, kind))
        }
        c[timer: kind] = slot
    }

    /// Stops one of `c`'s timers; its queued entry lets the connection go at once.
    @inline(__always) func cancel(_ c: Connection, _ kind: ConnectionTimer) {
        var slot = c[timer: kind]
        guard slot.deadline != .never || slot.entry >= 0 else { return }
        timers.cancel(slot.entry)
        slot = TimerSlot()
        c[timer: kind] = slot
    }

    /// `inet_csk_reset_xmit_timer`: the retransmit timer for `what`, at most `rtoMax` away.
    @inline(__always) func armXmit(_ c: Connection, _ what: XmitTimer, after: Interval) {
        let deadline = now + min(after, sysctl.rtoMax)
        c.xmitPending = what
        arm(c, .xmit, at: deadline)
        emit(.timerArmed(what.kind, socket: c.id, tuple: c.tuple, deadline: deadline))
    }

    /// `inet_csk_clear_xmit_timer(ICSK_TIME_RETRANS)`.
    @inline(__always) func clearXmit(_ c: Connection) {
        c.xmitPending = .none
        cancel(c, .xmit)
    }

    func armDelayedAck(_ c: Connection, _ deadline: Instant) {
        guard c.delackTimer.deadline != deadline else { return }
        arm(c, .delack, at: deadline)
        emit(.timerArmed(.delayedAck, socket: c.id, tuple: c.tuple, deadline: deadline))
    }

    /// `inet_csk_reset_keepalive_timer`.
    func armKeepalive(_ c: Connection, after: Interval) {
        arm(c, .keepalive, at: now + after)
        emit(.timerArmed(.keepalive, socket: c.id, tuple: c.tuple, deadline: now + after))
    }

    func cancelAllTimers(_ c: Connection) {
        clearXmit(c)
        cancel(c, .delack)
        cancel(c, .keepalive)
    }

    // MARK: RTT and RTO

    /// `tcp_rtt_estimator` + `tcp_set_rto` (RFC 6298 §2 as Linux does it): srtt and mdev in µs with the
    /// kernel's scaling, an rttvar that never drops below `tcp_rto_min` within a round trip, and
    /// RTO = usecs_to_jiffies(srtt + rttvar), at most `tcp_rto_max`. RFC 6298 §5.7 (backoff reset)
    /// is the caller's.
    @inline(__always) func rttEstimate(_ c: Connection, sampleUs: Int64) {
        var m = sampleUs
        var srtt = c.srttUs
        let rtoMinUs = Int64(sysctl.tcp_rto_min_us)
        if srtt != 0 {
            m -= srtt >> 3
            srtt += m
            if m < 0 {
                m = -m
                m -= c.mdevUs >> 2
                // "Eifel": a finer gain when the RTT falls.
                if m > 0 { m >>= 3 }
            } else {
                m -= c.mdevUs >> 2
            }
            c.mdevUs += m
            if c.mdevUs > c.mdevMaxUs {
                c.mdevMaxUs = c.mdevUs
                if c.mdevMaxUs > c.rttvarUs { c.rttvarUs = c.mdevMaxUs }
            }
            if c.sndUna > c.rttSeq {
                if c.mdevMaxUs < c.rttvarUs { c.rttvarUs -= (c.rttvarUs - c.mdevMaxUs) >> 2 }
                c.rttSeq = c.sndNxt
                c.mdevMaxUs = rtoMinUs
            }
        } else {
            srtt = m << 3
            c.mdevUs = m << 1
            c.rttvarUs = max(c.mdevUs, rtoMinUs)
            c.mdevMaxUs = c.rttvarUs
            c.rttSeq = c.sndNxt
        }
        c.srttUs = max(1, srtt)
        c.rto = min(Jiffies.fromMicroseconds((c.srttUs >> 3) + c.rttvarUs), sysctl.rtoMax)
    }

    /// An RTT sample from `sent` to now, on the µs clock (`tcp_stamp_us_delta`).
    @inline(__always) func microsecondsSince(_ sent: Instant) -> Int64 {
        now.nanoseconds / 1000 - sent.nanoseconds / 1000
    }

    /// `tcp_rtt_tsopt_us`: now − TSecr on the ms TS clock (at least 1 ms); nil for nonsense (a TSecr
    /// from the future).
    func timestampRTT(_ c: Connection, echo: UInt32) -> Int64? {
        let delta = tsClock &- (echo &- c.tsOffset)
        guard delta < UInt32(Int32.max) / 1000 else { return nil }
        return Int64(max(delta, 1)) * 1000
    }

    /// `tcp_ack_update_rtt` from a TSecr alone (RFC 7323 §4.1), as the handshake uses it.
    func timestampRTTSample(_ c: Connection, echo: UInt32) {
        guard let us = timestampRTT(c, echo: echo) else { return }
        rttEstimate(c, sampleUs: us)
    }

    /// `tcp_model_timeout`: how long `boundary` retransmissions take with backoff from `rtoBase`.
    func modelTimeout(boundary: Int, rtoBase: Interval) -> Interval {
        let rtoMax = sysctl.rtoMax
        var k = 0
        while rtoBase * (Int64(1) << (k + 1)) <= rtoMax { k += 1 }
        if boundary <= k { return rtoBase * ((Int64(1) << (boundary + 1)) - 1) }
        return rtoBase * ((Int64(1) << (k + 1)) - 1) + rtoMax * Int64(boundary - k)
    }

    // MARK: The retransmit timer

    /// `tcp_write_timer_handler`: whatever the retransmit timer was armed for.
    func writeTimer(_ c: Connection) {
        guard c.state != .close, c.state != .listen else { return }
        let what = c.xmitPending
        emit(.timerFired(what.kind, socket: c.id, tuple: c.tuple))
        switch what {
        case .none: return
        case .lossProbe:
            sendLossProbe(c)
        case .retransmit:
            c.xmitPending = .none
            retransmitTimer(c)
        case .probe0:
            c.xmitPending = .none
            probeTimer(c)
        }
    }

    /// `tcp_retransmit_timer` + `tcp_write_timeout`.
    func retransmitTimer(_ c: Connection) {
        switch c.state {
        case .synSent, .synRecv:
            synRetransmitTimer(c)
            return
        default:
            break
        }
        guard let head = c.rtx.first else { return }
        if c.sndWnd == 0, !c.orphan {
            // "Receiver dastardly shrinks window. Our retransmits become zero probes, but we should not
            // timeout this connection" — unless nothing was heard for 2 × TCP_RTO_MAX.
            if rtxProbe0TimedOut(c, head: head) {
                writeError(c)
                return
            }
            enterLoss(c)
            retransmitSegment(c, c.rtx.indices.lowerBound)
            rearmAfterTimeout(c)
            return
        }
        count(.TCPTimeouts)
        if writeTimeout(c) { return }
        if c.retransmits == 0 {
            switch c.caState {
            case .recovery: count(.TCPRenoFailures)
            case .loss: count(.TCPLossFailures)
            case .disorder: count(.TCPRenoFailures)
            case .open: if c.sackedOut > 0 { count(.TCPRenoFailures) }
            }
        }
        enterLoss(c)
        // tcp_update_rto_stats.
        c.retransmits += 1
        c.totalRTO += 1
        retransmitSegment(c, c.rtx.indices.lowerBound)
        rearmAfterTimeout(c)
    }

    /// The end of `tcp_retransmit_timer` (out_reset_timer): back off and re-arm, clamped to what
    /// TCP_USER_TIMEOUT leaves.
    private func rearmAfterTimeout(_ c: Connection) {
        c.backoff += 1
        c.rto = min(c.rto * 2, sysctl.rtoMax)
        armXmit(c, .retransmit, after: clampToUserTimeout(c, c.rto))
    }

    /// SYN and SYN-ACK (of a simultaneous open) retransmission.
    private func synRetransmitTimer(_ c: Connection) {
        count(.TCPTimeouts)
        if writeTimeout(c) { return }
        count(.TCPSynRetrans)
        if c.state == .synSent {
            transmit(c, flags: .syn, seq: c.iss, retransmission: c.retransmits + 1)
        } else {
            transmit(c, flags: .synAck, seq: c.iss, retransmission: c.retransmits + 1)
        }
        if c.retransStamp == nil { c.retransStamp = now }
        c.retransmits += 1
        c.totalRTO += 1
        // Linux keeps the SYN's RTO at 1 s for the first tcp_syn_linear_timeouts (6.5+), then doubles.
        if c.state != .synSent || c.totalRTO > sysctl.tcp_syn_linear_timeouts {
            c.backoff += 1
            c.rto = min(c.rto * 2, sysctl.rtoMax)
        }
        armXmit(c, .retransmit, after: clampToUserTimeout(c, c.rto))
    }

    /// `tcp_write_timeout`: give up? Counts for SYNs, the modelled time of `tcp_retries2` (or
    /// `tcp_orphan_retries`) backed-off retransmissions for data, TCP_USER_TIMEOUT's time instead if set.
    private func writeTimeout(_ c: Connection) -> Bool {
        var expired = false
        var retryUntil: Int
        if c.state == .synSent || c.state == .synRecv {
            retryUntil = c.options.synCount ?? sysctl.tcp_syn_retries
            var maxRetransmits = retryUntil
            if c.state == .synSent { maxRetransmits += sysctl.tcp_syn_linear_timeouts }
            expired = c.retransmits >= maxRetransmits
        } else {
            if retransmitsTimedOut(c, boundary: sysctl.tcp_retries1, timeout: .zero) {
                // tcp_retries1 (3 s of backed-off retransmissions): black-hole detection and route
                // re-validation (dst_negative_advice); a simulated route has nothing to re-validate, but
                // the moment is recorded.
                count(.TCPRouteRecheck)
            }
            retryUntil = sysctl.tcp_retries2
            if c.orphan {
                let alive = c.rto < sysctl.rtoMax
                retryUntil = orphanRetries(c, alive: alive)
            }
        }
        if !expired { expired = retransmitsTimedOut(c, boundary: retryUntil, timeout: c.options.userTimeout) }
        if expired { writeError(c) }
        return expired
    }

    /// `tcp_orphan_retries`: 0 means 8 while the socket is alive (> 100 s at a 200 ms RTO).
    private func orphanRetries(_ c: Connection, alive: Bool) -> Int {
        var retries = sysctl.tcp_orphan_retries
        if c.softError != nil && !alive { retries = 0 }
        if retries == 0 && alive { retries = 8 }
        return retries
    }

    /// `retransmits_timed_out`: has the time `boundary` backed-off retransmissions take (or `timeout`,
    /// TCP_USER_TIMEOUT, when non-zero) passed since the first retransmission?
    private func retransmitsTimedOut(_ c: Connection, boundary: Int, timeout: Interval) -> Bool {
        guard c.retransmits > 0, let start = c.retransStamp else { return false }
        var limit = timeout
        if limit == .zero {
            let base = c.state == .synSent || c.state == .synRecv ? Interval.seconds(1) : sysctl.rtoMin
            limit = modelTimeout(boundary: boundary, rtoBase: base)
        }
        // retrans_stamp and the clock are on the ms TS clock.
        return now.milliseconds - start.milliseconds >= limit.milliseconds
    }

    /// `tcp_rtx_probe0_timed_out`.
    private func rtxProbe0TimedOut(_ c: Connection, head: SentSegment) -> Bool {
        let rtxDelta = now - (c.retransStamp ?? head.sentAt)
        var timeout = sysctl.rtoMax * 2
        let userTimeout = c.options.userTimeout
        if userTimeout > .zero {
            if rtxDelta > userTimeout { return true }
            timeout = min(timeout, userTimeout)
        }
        if now - c.rcvTstamp <= timeout { return false }
        return rtxDelta > timeout
    }

    /// `tcp_clamp_rto_to_user_timeout`.
    func clampToUserTimeout(_ c: Connection, _ rto: Interval) -> Interval {
        guard c.options.userTimeout > .zero, let start = c.retransStamp else { return rto }
        let remaining = c.options.userTimeout - .milliseconds(now.milliseconds - start.milliseconds)
        return remaining <= .zero ? Jiffies.tick : min(rto, remaining)
    }

    /// `tcp_write_err`: the pending soft error, or ETIMEDOUT; queues purged, CLOSE. No RST.
    func writeError(_ c: Connection) {
        count(.TCPAbortOnTimeout)
        resetConnection(c, c.softError ?? .ETIMEDOUT, cause: .timeout)
    }

    // MARK: Zero-window probes

    /// `tcp_probe0_base`: the RTO, at least TCP_RTO_MIN.
    func probe0Base(_ c: Connection) -> Interval { max(c.rto, sysctl.rtoMin) }

    /// `tcp_probe0_when`: the base doubled per backoff (at most ilog2(RTO_MAX / RTO_MIN) + 1 times).
    func probe0When(_ c: Connection) -> Interval {
        var k = 0
        while sysctl.rtoMin * (Int64(1) << (k + 1)) <= sysctl.rtoMax { k += 1 }
        let shift = min(k + 1, c.backoff)
        return min(probe0Base(c) * (Int64(1) << shift), sysctl.rtoMax)
    }

    /// `tcp_check_probe_timer`: nothing in flight, data waiting, no timer: probe the window.
    func checkProbeTimer(_ c: Connection) {
        if c.packetsOut == 0 && c.xmitPending == .none {
            armXmit(c, .probe0, after: probe0Base(c))
        }
    }

    /// `tcp_probe_timer`.
    private func probeTimer(_ c: Connection) {
        guard c.packetsOut == 0, c.hasUnsent else {
            c.probesOut = 0
            c.probesStamp = nil
            return
        }
        // RFC 1122 §4.2.2.17: stay open as long as the peer answers probes; TCP_USER_TIMEOUT and
        // orphans put a limit on it.
        if let stamp = c.probesStamp {
            if c.options.userTimeout > .zero, now - stamp >= c.options.userTimeout {
                writeError(c)
                return
            }
        } else {
            c.probesStamp = now
        }
        var maxProbes = sysctl.tcp_retries2
        if c.orphan {
            let alive = probe0Base(c) * Int64(1 << min(c.backoff, 30)) < sysctl.rtoMax
            maxProbes = orphanRetries(c, alive: alive)
            if !alive && c.backoff >= maxProbes {
                writeError(c)
                return
            }
        }
        if c.probesOut >= maxProbes {
            writeError(c)
        } else {
            sendProbe0(c)
        }
    }

    /// `tcp_send_probe0`.
    private func sendProbe0(_ c: Connection) {
        writeWakeup(c, counter: .TCPWinProbe)
        if c.packetsOut > 0 || !c.hasUnsent {
            // The probe opened the window (or the data is gone): no more probing.
            c.probesOut = 0
            c.backoff = 0
            c.probesStamp = nil
            return
        }
        c.probesOut += 1
        if c.backoff < sysctl.tcp_retries2 { c.backoff += 1 }
        var timeout = probe0When(c)
        if c.options.userTimeout > .zero, let stamp = c.probesStamp {
            // tcp_clamp_probe0_to_user_timeout.
            let remaining = c.options.userTimeout - (now - stamp)
            timeout = remaining <= .zero ? Jiffies.tick : min(timeout, remaining)
        }
        armXmit(c, .probe0, after: timeout)
    }

    // MARK: Delayed ACK

    /// `tcp_delack_timer_handler`.
    private func delackTimer(_ c: Connection) {
        guard c.state != .close, c.state != .listen, c.state != .timeWait else { return }
        let compressed = c.ack.outOfOrderAcks == LinuxDelayedAck.compressedAckPending
        if delayedAckPolicy.timerFired(&c.ack, facts: ackFacts(c)) {
            count(compressed ? .TCPAckCompressed : .DelayedACKs)
            sendAck(c)
        } else if c.ack.pending.contains(.timer), c.ack.deadline != .never, c.ack.deadline > now {
            armDelayedAck(c, c.ack.deadline)
        }
    }

    // MARK: Keepalive

    func keepaliveTime(_ c: Connection) -> Interval { .seconds(Int64(c.options.keepIdle ?? sysctl.tcp_keepalive_time)) }
    func keepaliveInterval(_ c: Connection) -> Interval { .seconds(Int64(c.options.keepInterval ?? sysctl.tcp_keepalive_intvl)) }

    /// `keepalive_time_elapsed`: since the later of the last data received and the last ACK received.
    func keepaliveElapsed(_ c: Connection) -> Interval {
        min(now - c.ack.lastReceive, now - c.rcvTstamp)
    }

    /// `tcp_keepalive_timer`: after `keepalive_time` idle, a probe (an ACK with seq = snd_una − 1) every
    /// `keepalive_intvl`; RST and ETIMEDOUT after `keepalive_probes` unanswered, or, with
    /// TCP_USER_TIMEOUT, once that long idle with a probe out.
    func keepaliveTimer(_ c: Connection) {
        if c.state == .finWait2 && c.orphan {
            // The part of an orphan's FIN_WAIT2 timeout above TCP_TIMEWAIT_LEN ran on this timer.
            if c.options.linger2.map({ $0 >= 0 }) ?? true {
                let tmo = finTime(c) - .seconds(60)
                if tmo > .zero {
                    timeWait(c, substate: .finWait2, timeout: tmo)
                    return
                }
            }
            sendActiveReset(c)
            done(c, .finWait2Timeout)
            return
        }
        guard c.options.keepalive, c.state != .close, c.state != .synSent, c.state != .timeWait else { return }
        // "It is alive without keepalive 8)".
        if c.packetsOut > 0 || c.hasUnsent {
            armKeepalive(c, after: keepaliveTime(c))
            return
        }
        let elapsed = keepaliveElapsed(c)
        if elapsed >= keepaliveTime(c) {
            let probes = c.options.keepCount ?? sysctl.tcp_keepalive_probes
            let userTimeout = c.options.userTimeout
            if (userTimeout > .zero && elapsed >= userTimeout && c.probesOut > 0)
                || (userTimeout == .zero && c.probesOut >= probes)
            {
                sendActiveReset(c)
                writeError(c)
                return
            }
            writeWakeup(c, counter: .TCPKeepAlive)
            c.probesOut += 1
            armKeepalive(c, after: keepaliveInterval(c))
        } else {
            armKeepalive(c, after: keepaliveTime(c) - elapsed)
        }
    }

    // MARK: Delayed-ACK facts

    /// The facts the delayed-ACK policy sees for `c` now.
    @inline(__always) func ackFacts(_ c: Connection) -> AckFacts {
        let unacked = c.rcvNxt - c.rcvWup
        return AckFacts(now: now, rto: c.rto, srtt: c.srtt, receiveWindow: c.rcvWnd, advertisedMSS: c.advmss,
                        unacknowledged: max(unacked, 0),
                        windowWouldNotShrink: c.receiveQueue.isEmpty || selectWindowBytesPeek(c) >= c.rcvWnd,
                        hasOutOfOrderData: !c.outOfOrder.isEmpty, pingpongThreshold: sysctl.tcp_pingpong_thresh,
                        rtoMin: sysctl.rtoMin, delackMax: LinuxDelayedAck.delackMax, tcpHeaderLength: c.tcpHeaderLength)
    }

    /// `__tcp_select_window` without its side effects.
    func selectWindowBytesPeek(_ c: Connection) -> Int {
        let quick = c.ack.quick
        defer { c.ack.quick = quick }
        return selectWindowBytes(c)
    }
}

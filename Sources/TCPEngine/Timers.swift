import TCPPolicy
import TCPWire

extension Host {
    /// Runs every timer due at `time`: retransmissions, SYN-ACK retries, delayed ACKs, keepalive,
    /// TIME_WAIT, ARP. Call it at `nextDeadline` (or any later time; nothing is lost).
    public func poll(at time: Instant) {
        advance(time)
        while let entry = timers.popDue(now) {
            switch entry.target {
            case let .socket(id, kind):
                guard let c = connections[id], c.deadline(kind) == entry.deadline else { continue }
                fire(kind, c)
            case let .request(tuple):
                guard let req = requests[tuple], req.deadline == entry.deadline else { continue }
                requestTimer(tuple)
            case let .arp(ip):
                guard let p = arpPending[ip], p.deadline == entry.deadline else { continue }
                arpTimer(ip)
            }
        }
    }

    private func fire(_ kind: TimerKind, _ c: Connection) {
        switch kind {
        case .retransmit, .probe:
            c.retransmitDeadline = .never
            emit(.timerFired(kind, socket: c.id, tuple: c.tuple))
            retransmitTimer(c)
        case .delayedAck:
            c.delayedAckDeadline = .never
            emit(.timerFired(kind, socket: c.id, tuple: c.tuple))
            if delayedAckPolicy.timerFired(&c.ack, facts: ackFacts(c)) {
                count(.DelayedACKs)
                sendAck(c)
            } else if c.ack.pending.contains(.timer), c.ack.deadline != .never {
                armDelayedAck(c, c.ack.deadline)
            }
        case .keepalive:
            c.keepaliveDeadline = .never
            emit(.timerFired(kind, socket: c.id, tuple: c.tuple))
            keepaliveTimer(c)
        case .timeWait:
            c.timeWaitDeadline = .never
            emit(.timerFired(kind, socket: c.id, tuple: c.tuple))
            destroy(c, c.state == .timeWait ? .timeWaitExpired : .finWait2Timeout)
        case .synAck, .arp:
            break
        }
    }

    // MARK: Arming

    func armRetransmit(_ c: Connection, _ after: Interval) {
        c.retransmitDeadline = now + after
        timers.push(c.retransmitDeadline, .socket(c.id, .retransmit))
        emit(.timerArmed(.retransmit, socket: c.id, tuple: c.tuple, deadline: c.retransmitDeadline))
    }

    func cancelRetransmit(_ c: Connection) { c.retransmitDeadline = .never }

    func armDelayedAck(_ c: Connection, _ deadline: Instant) {
        guard c.delayedAckDeadline != deadline else { return }
        c.delayedAckDeadline = deadline
        timers.push(deadline, .socket(c.id, .delayedAck))
        emit(.timerArmed(.delayedAck, socket: c.id, tuple: c.tuple, deadline: deadline))
    }

    func armKeepalive(_ c: Connection, after: Interval? = nil) {
        c.keepaliveDeadline = now + (after ?? keepaliveTime(c))
        timers.push(c.keepaliveDeadline, .socket(c.id, .keepalive))
        emit(.timerArmed(.keepalive, socket: c.id, tuple: c.tuple, deadline: c.keepaliveDeadline))
    }

    func armTimeWait(_ c: Connection, _ after: Interval) {
        c.timeWaitDeadline = now + after
        timers.push(c.timeWaitDeadline, .socket(c.id, .timeWait))
        emit(.timerArmed(.timeWait, socket: c.id, tuple: c.tuple, deadline: c.timeWaitDeadline))
    }

    // MARK: Retransmission

    /// RFC 6298 §2 as Linux does it (`tcp_rtt_estimator`, `__tcp_set_rto`): srtt, and an rttvar never
    /// below `tcp_rto_min`, so RTO = srtt + max(4·mdev, rto_min) within [rto_min, rto_max].
    func rttEstimate(_ c: Connection, sample: Interval) {
        let m = max(sample, .microseconds(1))
        if let srtt = c.srtt {
            let err = m - srtt
            c.srtt = srtt + err / 8
            let deviation = Interval(nanoseconds: abs(err.nanoseconds))
            c.rttvar = c.rttvar + (deviation - c.rttvar) / 4
        } else {
            c.srtt = m
            c.rttvar = m / 2
        }
        let variance = max(c.rttvar * 4, sysctl.rtoMin)
        c.rto = min(max(c.srtt! + variance, sysctl.rtoMin), sysctl.rtoMax)
    }

    /// `tcp_ack_update_rtt` from a TSecr (RFC 7323 §4.1): now − (TSecr − our offset) on the
    /// millisecond TS clock, at least 1 ms; nonsense (a TSecr from the future) gives no sample.
    func timestampRTTSample(_ c: Connection, echo: UInt32) {
        let delta = tsClock &- (echo &- c.tsOffset)
        guard delta < UInt32(Int32.max) / 1000 else { return }
        rttEstimate(c, sample: .milliseconds(Int64(max(delta, 1))))
    }

    /// `tcp_model_timeout`: how long `boundary` retransmissions take with backoff from `rtoBase`.
    func modelTimeout(boundary: Int, rtoBase: Interval) -> Interval {
        let rtoMax = sysctl.rtoMax
        var k = 0
        while rtoBase * (Int64(1) << (k + 1)) <= rtoMax { k += 1 }
        if boundary <= k { return rtoBase * ((Int64(1) << (boundary + 1)) - 1) }
        return rtoBase * ((Int64(1) << (k + 1)) - 1) + rtoMax * Int64(boundary - k)
    }

    /// `tcp_retransmit_timer` + `tcp_write_timeout`.
    func retransmitTimer(_ c: Connection) {
        guard c.sndUna != c.sndMax || c.state == .synSent || c.state == .synRecv else { return }
        count(.TCPTimeouts)
        if writeTimeout(c) { return }
        switch c.state {
        case .synSent:
            // The SYN again, same options, a fresh TSval.
            c.sndNxt = c.iss + 1
            count(.TCPSynRetrans)
            transmit(c, flags: .syn, seq: c.iss, retransmission: c.retransmits + 1)
        case .synRecv:
            count(.TCPSynRetrans)
            transmit(c, flags: .synAck, seq: c.iss, retransmission: c.retransmits + 1)
        default:
            // RFC 5681 §3.1 on a timeout: ssthresh = max(flight / 2, 2 MSS), cwnd = 1 MSS; go back to snd_una.
            c.ssthresh = max(c.inFlight / max(c.mssCache, 1) / 2, 2)
            c.cwnd = 1
            c.rttSeq = nil
            c.sndNxt = c.sndUna
            if c.finSent && c.sendQueue.isEmpty {
                transmit(c, flags: .finAck, seq: c.sndUna, retransmission: c.retransmits + 1)
                c.sndNxt = c.sndUna + 1
            } else {
                sendSegments(c, limit: 1, retransmission: c.retransmits + 1)
            }
        }
        if c.retransStamp == nil { c.retransStamp = now }
        c.retransmits += 1
        c.totalRTO += 1
        // Linux keeps the SYN's RTO at 1 s for the first tcp_syn_linear_timeouts (6.5+), then doubles.
        if c.state != .synSent || c.totalRTO > sysctl.tcp_syn_linear_timeouts {
            c.backoff += 1
            c.rto = min(c.rto * 2, sysctl.rtoMax)
        }
        armRetransmit(c, clampToUserTimeout(c, c.rto))
    }

    /// `tcp_write_timeout`: give up? Counts for SYNs, a modelled time for data, TCP_USER_TIMEOUT if set.
    private func writeTimeout(_ c: Connection) -> Bool {
        var expired: Bool
        if c.state == .synSent || c.state == .synRecv {
            var maxRetransmits = c.options.synCount ?? sysctl.tcp_syn_retries
            if c.state == .synSent { maxRetransmits += sysctl.tcp_syn_linear_timeouts }
            expired = c.retransmits >= maxRetransmits
        } else {
            if c.retransmits >= sysctl.tcp_retries1 {
                // Route re-validation (dst_negative_advice) would happen here.
            }
            let retries = c.orphan ? (sysctl.tcp_orphan_retries == 0 ? 8 : sysctl.tcp_orphan_retries) : sysctl.tcp_retries2
            expired = retransmitsTimedOut(c, boundary: retries)
        }
        if !expired, c.options.userTimeout > .zero, let start = c.retransStamp {
            expired = now - start >= c.options.userTimeout
        }
        if expired {
            // tcp_write_err: the pending soft error, or ETIMEDOUT. No RST.
            count(.TCPAbortOnTimeout)
            let err = c.softError ?? .ETIMEDOUT
            resetConnection(c, err, sendNothing: true, cause: .timeout)
        }
        return expired
    }

    /// `retransmits_timed_out`: has the time `boundary` backed-off retransmissions take passed?
    private func retransmitsTimedOut(_ c: Connection, boundary: Int) -> Bool {
        guard c.retransmits > 0, let start = c.retransStamp else { return false }
        return now - start >= modelTimeout(boundary: boundary, rtoBase: sysctl.rtoMin)
    }

    /// `tcp_clamp_rto_to_user_timeout`.
    private func clampToUserTimeout(_ c: Connection, _ rto: Interval) -> Interval {
        guard c.options.userTimeout > .zero, let start = c.retransStamp else { return rto }
        let remaining = c.options.userTimeout - (now - start)
        return remaining <= .zero ? .milliseconds(1) : min(rto, remaining)
    }

    // MARK: Keepalive, FIN_WAIT2, TIME_WAIT

    func keepaliveTime(_ c: Connection) -> Interval { .seconds(Int64(c.options.keepIdle ?? sysctl.tcp_keepalive_time)) }
    func keepaliveInterval(_ c: Connection) -> Interval { .seconds(Int64(c.options.keepInterval ?? sysctl.tcp_keepalive_intvl)) }

    /// `tcp_keepalive_timer`: after `keepalive_time` idle, a probe (seq = snd_una − 1) every
    /// `keepalive_intvl`; abort with RST and ETIMEDOUT after `keepalive_probes` unanswered.
    func keepaliveTimer(_ c: Connection) {
        if c.state == .finWait2 && c.orphan {
            // The FIN_WAIT2 timeout past 60 s runs on this timer.
            enterTimeWait(c, .finWait2Timeout, finWait2: true)
            return
        }
        guard c.options.keepalive, c.state != .close, c.state != .synSent else { return }
        if c.inFlight > 0 || !c.sendQueue.isEmpty {
            armKeepalive(c)
            return
        }
        let idle = now - max(c.lastReceived, c.ack.lastReceive)
        if idle >= keepaliveTime(c) {
            let probes = c.options.keepCount ?? sysctl.tcp_keepalive_probes
            let userTimeout = c.options.userTimeout
            if (userTimeout > .zero && idle >= userTimeout && c.keepaliveProbes > 0)
                || (userTimeout == .zero && c.keepaliveProbes >= probes)
            {
                sendActiveReset(c)
                resetConnection(c, c.softError ?? .ETIMEDOUT, sendNothing: true, cause: .keepaliveTimeout)
                return
            }
            transmit(c, flags: .ack, seq: c.sndUna - 1)
            count(.TCPKeepAlive)
            c.keepaliveProbes += 1
            armKeepalive(c, after: keepaliveInterval(c))
        } else {
            armKeepalive(c, after: keepaliveTime(c) - idle)
        }
    }

    /// `tcp_fin_time`: max(TCP_LINGER2 or tcp_fin_timeout, 3.5 RTO).
    func finTime(_ c: Connection) -> Interval {
        let linger = Interval.seconds(Int64(c.options.linger2 ?? sysctl.tcp_fin_timeout))
        return max(linger, c.rto * 7 / 2)
    }

    /// An orphan reached FIN_WAIT2: wait at most `tcp_fin_time` for the peer's FIN (the part above 60 s
    /// on the keepalive timer, the rest as a FIN_WAIT2 mini-socket).
    func finWait2Timeout(_ c: Connection) {
        if let l2 = c.options.linger2, l2 < 0 {
            sendActiveReset(c)
            resetConnection(c, .ECONNRESET, sendNothing: true, cause: .finWait2Timeout)
            return
        }
        let tmo = finTime(c)
        if tmo > .seconds(60) {
            armKeepalive(c, after: tmo - .seconds(60))
        } else {
            armTimeWait(c, tmo)
        }
    }

    /// `tcp_time_wait`: TIME_WAIT for 60 s (TCP_TIMEWAIT_LEN).
    func enterTimeWait(_ c: Connection, _ cause: StateCause, finWait2: Bool = false) {
        cancelRetransmit(c)
        c.delayedAckDeadline = .never
        c.keepaliveDeadline = .never
        if finWait2 {
            armTimeWait(c, .seconds(60))
            return
        }
        setState(c, .timeWait, cause)
        count(.TW)
        armTimeWait(c, .seconds(60))
    }

    // MARK: Ends

    /// `tcp_reset` / `tcp_done`: the connection is over with `error`; CLOSE, queues purged.
    func resetConnection(_ c: Connection, _ error: SocketError, sendNothing: Bool = true, cause: StateCause = .rstReceived) {
        if c.state == .synSent || c.state == .synRecv { count(.AttemptFails) }
        c.error = error
        emit(.error(c.id, error))
        setState(c, .close, cause)
        c.sendQueue.removeAll()
        c.outOfOrder.removeAll()
        cancelRetransmit(c)
        c.delayedAckDeadline = .never
        c.keepaliveDeadline = .never
        established[c.tuple] = nil
        if c.orphan { connections[c.id] = nil }
    }

    /// The socket is gone for good: out of every table (TIME_WAIT expired, LAST_ACK acknowledged, …).
    func destroy(_ c: Connection, _ cause: StateCause) {
        setState(c, .close, cause)
        cancelRetransmit(c)
        c.delayedAckDeadline = .never
        c.keepaliveDeadline = .never
        c.timeWaitDeadline = .never
        if established[c.tuple] == c.id { established[c.tuple] = nil }
        if c.orphan || c.state == .close && c.parent == nil && !c.accepted { connections[c.id] = nil }
    }

    /// ICMP host unreachable from our own ARP failure (`tcp_v4_err`).
    func hostUnreachable(_ c: Connection) {
        if c.state == .synSent {
            resetConnection(c, .EHOSTUNREACH, cause: .arpFailed)
        } else {
            c.softError = .EHOSTUNREACH
        }
    }

    /// The facts the delayed-ACK policy sees for `c` now.
    func ackFacts(_ c: Connection) -> AckFacts {
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

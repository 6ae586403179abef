import TCPPolicy
import TCPWire

// The timewait socket (tcp_minisocks.c): TIME_WAIT, and the FIN_WAIT2 substate an orphan waits in.
// Linux replaces the full socket by a small `inet_timewait_sock`; here the connection object stays,
// its buffers and other timers gone, marked `isTimeWaitSock`.

extension Host {
    /// TCP_TIMEWAIT_LEN.
    static let timeWaitLength = Interval.seconds(60)

    /// `tcp_fin_time`: TCP_LINGER2 (or `tcp_fin_timeout`), at least 3.5 RTO.
    func finTime(_ c: Connection) -> Interval {
        var fin = Interval.seconds(Int64(c.options.linger2.flatMap { $0 > 0 ? $0 : nil } ?? sysctl.tcp_fin_timeout))
        let rto = rtoTimes3_5(c)
        if fin < rto { fin = rto }
        return fin
    }

    /// `(rto << 2) - (rto >> 1)` in jiffies.
    private func rtoTimes3_5(_ c: Connection) -> Interval {
        let r = c.rto.milliseconds
        return .milliseconds(4 * r - r / 2)
    }

    /// An orphan reached FIN_WAIT2 (`tcp_rcv_state_process`, TCP_FIN_WAIT1, and `__tcp_close`): wait at
    /// most `tcp_fin_time` for the peer's FIN — the part above TCP_TIMEWAIT_LEN on the keepalive timer,
    /// the rest as a timewait socket in the FIN_WAIT2 substate.
    /// - Parameter finInSegment: the segment that got us here carries a FIN ("Bad case. We could lose
    ///   such FIN otherwise"): keep the full socket so the FIN is processed.
    func orphanFinWait2(_ c: Connection, finInSegment: Bool = false) {
        let tmo = finTime(c)
        if tmo > Self.timeWaitLength {
            armKeepalive(c, after: tmo - Self.timeWaitLength)
        } else if finInSegment {
            armKeepalive(c, after: tmo)
        } else {
            timeWait(c, substate: .finWait2, timeout: tmo)
        }
    }

    /// `tcp_time_wait`: the connection becomes a timewait socket in `substate` (TIME_WAIT for 60 s, or
    /// FIN_WAIT2 for `timeout`, at least 3.5 RTO). Past `tcp_max_tw_buckets` it just closes.
    func timeWait(_ c: Connection, substate: TCPState, timeout: Interval = .zero, cause: StateCause = .finWait2Timeout) {
        if timeWaitCount >= sysctl.tcp_max_tw_buckets {
            count(.TCPTimeWaitOverflow)
            done(c, cause)
            return
        }
        var timeo = max(timeout, rtoTimes3_5(c))
        if substate == .timeWait { timeo = Self.timeWaitLength }
        c.twRcvWnd = c.receiveWindowRemaining
        c.isTimeWaitSock = true
        c.twEntryStamp = now
        timeWaitCount += 1
        // tcp_done of the full socket: its timers stop and its queues go.
        clearXmit(c)
        cancel(c, .delack)
        cancel(c, .keepalive)
        purgeQueues(c)
        // What the user has not read stays readable (tcp_done keeps the receive queue); an orphan's goes.
        if c.orphan { c.receiveQueue.removeAll() }
        c.ack.pending = []
        if substate == .timeWait { setState(c, .timeWait, cause) }
        // __inet_twsk_schedule: TIMEWAITED, or TIMEWAITKILLED for a short (≤ 4 s) one.
        count(timeo > .seconds(4) ? .TW : .TWKilled)
        armTimeWait(c, timeo)
    }

    /// The timewait socket's timer ran out (`tw_timer_handler`).
    func timeWaitExpired(_ c: Connection) {
        guard c.isTimeWaitSock else { return }
        killTimeWait(c, c.state == .timeWait ? .timeWaitExpired : .finWait2Timeout)
    }

    /// `inet_twsk_deschedule_put`: the timewait socket leaves the hash.
    func killTimeWait(_ c: Connection, _ cause: StateCause) {
        timeWaitCount -= 1
        c.isTimeWaitSock = false
        cancel(c, .timeWait)
        setState(c, .close, cause)
        established.remove(c.tuple, ifIdenticalTo: c)
        if c.orphan { connections[c.id] = nil }
    }

    /// `tcp_timewait_state_process` + the TIME_WAIT branch of `tcp_v4_rcv`.
    func timeWaitInput(_ c: Connection, _ seg: borrowing TCPSegment) {
        let seq = seg.tcp.sequenceNumber
        let end = seq + seg.length
        let rcvNxt = c.rcvNxt
        var pawsReject = false
        var tsVal: UInt32?
        if c.tsRecentStamp != nil, let ts = seg.timestamps {
            tsVal = ts.value
            pawsReject = pawsRejects(c, tsVal: ts.value, rst: seg.tcp.flags.contains(.rst))
        }
        if c.state == .finWait2 {
            // "Just repeat all the checks of tcp_rcv_state_process()".
            if pawsReject || !inWindow(seq: seq, end: end, low: rcvNxt, high: rcvNxt + c.twRcvWnd) {
                timeWaitAckRateLimited(c, seg, counter: .TCPACKSkippedFinWait2)
                return
            }
            if seg.tcp.flags.contains(.rst) {
                killTimeWait(c, .rstReceived)
                return
            }
            if seg.tcp.flags.contains(.syn), seq >= rcvNxt {
                timeWaitReset(c, seg)
                return
            }
            // A duplicate ACK.
            if !seg.tcp.flags.contains(.ack) || !(end > rcvNxt) || end == seq { return }
            // New data after a half-duplex close: reset. A FIN: the real TIME_WAIT.
            if !seg.tcp.flags.contains(.fin) || end != rcvNxt + 1 {
                timeWaitReset(c, seg)
                return
            }
            c.rcvNxt = end
            if let tsVal {
                c.tsRecent = tsVal
                c.tsRecentStamp = now
            }
            setState(c, .timeWait, .finReceived)
            c.twEntryStamp = now
            armTimeWait(c, Self.timeWaitLength)
            timeWaitAck(c)
            return
        }
        // Real TIME_WAIT. An in-window segment can only be a RST or a bare ACK.
        if !pawsReject, seq == rcvNxt, seq == end || seg.tcp.flags.contains(.rst) {
            if seg.tcp.flags.contains(.rst) {
                // "TIME_WAIT assassination" (RFC 1337): Linux lets it happen unless tcp_rfc1337 = 1.
                if sysctl.tcp_rfc1337 == 0 {
                    killTimeWait(c, .rstReceived)
                    return
                }
            } else {
                armTimeWait(c, Self.timeWaitLength)
            }
            if let tsVal {
                c.tsRecent = tsVal
                c.tsRecentStamp = now
            }
            return
        }
        // RFC 1122 §4.2.2.13: a new SYN may reopen the connection if it is not an old duplicate: a
        // higher sequence number, or a newer timestamp.
        if seg.tcp.flags.contains(.syn), !seg.tcp.flags.contains(.rst), !seg.tcp.flags.contains(.ack), !pawsReject,
           seq > rcvNxt || (tsVal.map { Int32(bitPattern: c.tsRecent &- $0) < 0 } ?? false)
        {
            var isn = c.sndNxt + UInt32(65535 + 2)
            if isn.rawValue == 0 { isn = isn + 1 }
            let tuple = c.tuple
            if let l = lookupListener(tuple.local) {
                killTimeWait(c, .timeWaitReused)
                timeWaitISN = isn
                listenInput(l, seg, tuple: tuple, interface: c.interface, broadcast: false)
                timeWaitISN = nil
                return
            }
            timeWaitAck(c)
            return
        }
        if pawsReject {
            count(.PAWSTimewait)
            emitDropped(.paws, seg, socket: c.id)
        }
        if !seg.tcp.flags.contains(.rst) {
            // "In this case we must reset the TIMEWAIT timer" — but not for an ACK-less SYN that may be
            // a new connection's with a lower ISN.
            if pawsReject || seg.tcp.flags.contains(.ack) { armTimeWait(c, Self.timeWaitLength) }
            timeWaitAckRateLimited(c, seg, counter: .TCPACKSkippedTimeWait)
        }
    }

    /// `tcp_timewait_check_oow_rate_limit`.
    private func timeWaitAckRateLimited(_ c: Connection, _ seg: borrowing TCPSegment, counter: MIB) {
        if outOfWindowRateLimited(&c.lastOutOfWindowAck, counter: counter, segment: seg) { return }
        timeWaitAck(c)
    }

    /// TCP_TW_RST: `tcp_v4_send_reset` for the segment, and the timewait socket goes.
    private func timeWaitReset(_ c: Connection, _ seg: borrowing TCPSegment) {
        sendReset(replyingTo: seg, interface: c.interface)
        killTimeWait(c, .rstReceived)
    }

    /// `tcp_v4_timewait_ack`: seq = tw_snd_nxt, ack = tw_rcv_nxt, the window it had, TS with the
    /// timewait socket's offset; sent from the control socket (IP ID 0).
    func timeWaitAck(_ c: Connection) {
        var options = TCPOptionList()
        if c.timestampsOK {
            options.appendAlignedTimestamps(value: tsNow(offset: c.tsOffset), echoReply: c.tsRecent)
        }
        let window = UInt16(min(c.twRcvWnd >> Int(c.rcvWscale), 65535))
        let header = TCPHeader(sourcePort: c.tuple.local.port, destinationPort: c.tuple.remote.port, sequenceNumber: c.sndNxt,
                               acknowledgmentNumber: c.rcvNxt, flags: .ack, window: window, options: options)
        output(TCPSegment(ip: ipHeader(to: c.tuple.remote.address, from: c.tuple.local.address, id: 0), tcp: header),
               interface: c.interface, socket: c.id)
    }

    /// `tcp_paws_reject`: any older TSval than ts_recent, unless ts_recent is 0 or older than 24 days;
    /// a RST is spared if ts_recent is older than TCP_PAWS_MSL (60 s).
    func pawsRejects(_ c: Connection, tsVal: UInt32, rst: Bool) -> Bool {
        guard let stamp = c.tsRecentStamp, c.tsRecent != 0 else { return false }
        if Int32(bitPattern: c.tsRecent &- tsVal) <= 0 { return false }
        if now - stamp >= .seconds(24 * 86400) { return false }
        if rst && now - stamp >= .seconds(60) { return false }
        return true
    }
}

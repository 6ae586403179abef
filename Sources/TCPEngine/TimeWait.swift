import TCPPolicy
import TCPWire

/// A timewait socket (`inet_timewait_sock` + `tcp_timewait_sock`, tcp_minisocks.c): what is left of a
/// connection in TIME_WAIT, or in the FIN_WAIT2 substate an orphan waits in. Like Linux, the full
/// socket is freed when it enters TIME_WAIT (while it is still in the cache) and this small value takes
/// its 4-tuple in the established hash's place: a host holds tens of thousands of them (one per
/// connection it closed first in the last 60 s), and each has to answer a retransmitted FIN, an old
/// duplicate, or a SYN that reopens the 4-tuple.
struct TimeWaitSock {
    /// The id the socket had (events and `state(of:)` name it).
    var id: SocketID
    var interface: Int32
    /// `tw_rcv_nxt`, `tw_snd_nxt`.
    var rcvNxt: SequenceNumber
    var sndNxt: SequenceNumber
    /// `tw_ts_recent`, `tw_ts_offset`.
    var tsRecent: UInt32
    var tsOffset: UInt32
    /// `tw_rcv_wnd`: the window it advertises, in bytes.
    var rcvWnd: Int32
    /// `tw_ts_recent_stamp` (nil: no timestamp seen, so the 4-tuple cannot be reused early).
    var tsRecentStamp: Instant?
    /// `tw_entry_stamp`: when it entered TIME_WAIT.
    var entryStamp: Instant
    /// `tw_last_oow_ack_time`.
    var lastOutOfWindowAck: Instant
    /// The timer (`tw_timer`): in TIME_WAIT its sequence number in the host's `TimeWaitTimers`, in the
    /// FIN_WAIT2 substate its entry in the general timer queue; -1 for none.
    var ringTimer: Int64 = -1
    var queueTimer: Int32 = -1
    /// `tw_substate`: TIME_WAIT, or FIN_WAIT2.
    var substate: TCPState
    /// `tw_rcv_wscale`.
    var rcvWscale: UInt8
    /// `tw_reuse` (SO_REUSEADDR of the socket it was).
    var reuseAddress: Bool
    /// The user still holds the socket (shutdown(SHUT_WR), no close()): its state follows this one's.
    var held: Bool
}

extension Host {
    /// TCP_TIMEWAIT_LEN.
    static let timeWaitLength = Interval.seconds(60)

    /// Timewait sockets alive (`tcp_max_tw_buckets` bounds them; `ss -tan state time-wait` would list them).
    public var timeWaitCount: Int { timeWaits.count }

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

    /// `tcp_time_wait`: a timewait socket in `substate` (TIME_WAIT for 60 s, or FIN_WAIT2 for
    /// `timeout`, at least 3.5 RTO) takes the connection's 4-tuple, and the full socket is done: out of
    /// the established hash, its timers and queues gone, freed if it is an orphan (a socket the user
    /// still holds stays, in TIME_WAIT, until the timewait socket goes). Past `tcp_max_tw_buckets` the
    /// connection just closes.
    func timeWait(_ c: Connection, substate: TCPState, timeout: Interval = .zero, cause: StateCause = .finWait2Timeout) {
        if timeWaitCount >= sysctl.tcp_max_tw_buckets {
            count(.TCPTimeWaitOverflow)
            done(c, cause)
            return
        }
        var timeo = max(timeout, rtoTimes3_5(c))
        if substate == .timeWait { timeo = Self.timeWaitLength }
        var tw = TimeWaitSock(id: c.id, interface: Int32(c.interface), rcvNxt: c.rcvNxt, sndNxt: c.sndNxt,
                              tsRecent: c.tsRecent, tsOffset: c.tsOffset, rcvWnd: Int32(clamping: c.receiveWindowRemaining),
                              tsRecentStamp: c.tsRecentStamp, entryStamp: now,
                              // A fresh rate limit: `tw_last_oow_ack_time = 0`.
                              lastOutOfWindowAck: .noOutOfWindowAck,
                              substate: substate, rcvWscale: c.rcvWscale,
                              reuseAddress: c.options.reuseAddress, held: !c.orphan)
        c.isTimeWaitSock = true
        // tcp_done of the full socket: its timers stop and its queues go; what the user has not read
        // stays readable on a socket the user holds.
        clearXmit(c)
        cancel(c, .delack)
        cancel(c, .keepalive)
        purgeQueues(c)
        c.ack.pending = []
        if substate == .timeWait { setState(c, .timeWait, cause) }
        // __inet_twsk_schedule: TIMEWAITED, or TIMEWAITKILLED for a short (≤ 4 s) one.
        count(timeo > .seconds(4) ? .TW : .TWKilled)
        let tuple = c.tuple
        established.remove(tuple, ifIdenticalTo: c)
        if c.orphan { connections[c.id] = nil }
        armTimeWait(&tw, tuple, timeo)
        timeWaits[tuple] = tw
    }

    /// `inet_twsk_schedule` / `inet_twsk_reschedule`: the timewait socket's timer, `after` from now
    /// (replacing the one it had). The caller stores `tw` back.
    @inline(__always) func armTimeWait(_ tw: inout TimeWaitSock, _ tuple: FourTuple, _ after: Interval) {
        let deadline = now + after
        disarmTimeWait(&tw)
        // TIME_WAIT's timers are all TCP_TIMEWAIT_LEN from now, so the ring stays in order; the FIN_WAIT2
        // substate's (any length from 3.5 RTO up) go to the general queue.
        if tw.substate == .timeWait, timeWaitTimers.accepts(deadline) {
            tw.ringTimer = timeWaitTimers.push(deadline, order: timers.nextOrder(), tuple: tuple)
        } else {
            tw.queueTimer = timers.push(deadline, .timeWait(tuple))
        }
        emit(.timerArmed(.timeWait, socket: tw.id, tuple: tuple, deadline: deadline))
    }

    @inline(__always) private func disarmTimeWait(_ tw: inout TimeWaitSock) {
        if tw.ringTimer >= 0 {
            timeWaitTimers.cancel(tw.ringTimer)
            tw.ringTimer = -1
        }
        if tw.queueTimer >= 0 {
            timers.cancel(tw.queueTimer)
            tw.queueTimer = -1
        }
    }

    /// The timer of the timewait socket on `tuple` ran out (`tw_timer_handler`): it goes. `ring` is the
    /// timer's sequence number in `timeWaitTimers` (already disarmed), or nil for `queueEntry`, its
    /// entry in the general queue (already popped).
    func timeWaitTimer(_ tuple: FourTuple, ring: Int64?, queueEntry: Int32 = -1) {
        guard var tw = timeWaits[tuple] else { return }
        if let ring {
            guard tw.ringTimer == ring else { return }
            tw.ringTimer = -1
        } else {
            guard tw.queueTimer == queueEntry else { return }
            tw.queueTimer = -1
        }
        emit(.timerFired(.timeWait, socket: tw.id, tuple: tuple))
        killTimeWait(tuple, tw, tw.substate == .timeWait ? .timeWaitExpired : .finWait2Timeout)
    }

    /// `inet_twsk_deschedule_put`: the timewait socket leaves the hash (CLOSE); a socket the user
    /// still holds is CLOSE with it.
    func killTimeWait(_ tuple: FourTuple, _ tw: TimeWaitSock, _ cause: StateCause) {
        var tw = tw
        disarmTimeWait(&tw)
        timeWaits.removeValue(forKey: tuple)
        emit(.stateChanged(socket: tw.id, tuple: tuple, from: tw.substate, to: .close, cause: cause))
        if tw.held, let c = connections[tw.id] {
            c.isTimeWaitSock = false
            c.state = .close
        }
    }

    /// `tcp_timewait_state_process` + the TIME_WAIT branch of `tcp_v4_rcv`, for the timewait socket
    /// `tw` on `tuple`.
    func timeWaitInput(_ tuple: FourTuple, _ tw: TimeWaitSock, _ seg: borrowing TCPSegment) {
        var tw = tw
        let flags = seg.tcp.flags
        let seq = seg.tcp.sequenceNumber
        let end = seq + seg.length
        let rcvNxt = tw.rcvNxt
        var pawsReject = false
        var tsVal: UInt32?
        if tw.tsRecentStamp != nil, let ts = seg.timestamps {
            tsVal = ts.value
            pawsReject = pawsRejects(tsRecent: tw.tsRecent, stamp: tw.tsRecentStamp, tsVal: ts.value, rst: flags.contains(.rst))
        }
        if tw.substate == .finWait2 {
            // "Just repeat all the checks of tcp_rcv_state_process()".
            if pawsReject || !inWindow(seq: seq, end: end, low: rcvNxt, high: rcvNxt + Int(tw.rcvWnd)) {
                timeWaitAckRateLimited(tuple, &tw, seg, counter: .TCPACKSkippedFinWait2)
                timeWaits[tuple] = tw
                return
            }
            if flags.contains(.rst) {
                killTimeWait(tuple, tw, .rstReceived)
                return
            }
            if flags.contains(.syn), seq >= rcvNxt {
                timeWaitReset(tuple, tw, seg)
                return
            }
            // A duplicate ACK.
            if !flags.contains(.ack) || !(end > rcvNxt) || end == seq { return }
            // New data after a half-duplex close: reset. A FIN: the real TIME_WAIT.
            if !flags.contains(.fin) || end != rcvNxt + 1 {
                timeWaitReset(tuple, tw, seg)
                return
            }
            tw.rcvNxt = end
            if let tsVal {
                tw.tsRecent = tsVal
                tw.tsRecentStamp = now
            }
            tw.substate = .timeWait
            emit(.stateChanged(socket: tw.id, tuple: tuple, from: .finWait2, to: .timeWait, cause: .finReceived))
            tw.entryStamp = now
            armTimeWait(&tw, tuple, Self.timeWaitLength)
            timeWaits[tuple] = tw
            timeWaitAck(tuple, tw)
            return
        }
        // Real TIME_WAIT. An in-window segment can only be a RST or a bare ACK.
        if !pawsReject, seq == rcvNxt, seq == end || flags.contains(.rst) {
            if flags.contains(.rst) {
                // "TIME_WAIT assassination" (RFC 1337): Linux lets it happen unless tcp_rfc1337 = 1.
                if sysctl.tcp_rfc1337 == 0 {
                    killTimeWait(tuple, tw, .rstReceived)
                    return
                }
            } else {
                armTimeWait(&tw, tuple, Self.timeWaitLength)
            }
            if let tsVal {
                tw.tsRecent = tsVal
                tw.tsRecentStamp = now
            }
            timeWaits[tuple] = tw
            return
        }
        // RFC 1122 §4.2.2.13: a new SYN may reopen the connection if it is not an old duplicate: a
        // higher sequence number, or a newer timestamp.
        if flags.contains(.syn), !flags.contains(.rst), !flags.contains(.ack), !pawsReject,
           seq > rcvNxt || (tsVal.map { Int32(bitPattern: tw.tsRecent &- $0) < 0 } ?? false)
        {
            var isn = tw.sndNxt + UInt32(65535 + 2)
            if isn.rawValue == 0 { isn = isn + 1 }
            if let l = lookupListener(tuple.local) {
                killTimeWait(tuple, tw, .timeWaitReused)
                timeWaitISN = isn
                listenInput(l, seg, tuple: tuple, interface: Int(tw.interface), broadcast: false)
                timeWaitISN = nil
                return
            }
            timeWaitAck(tuple, tw)
            return
        }
        if pawsReject {
            count(.PAWSTimewait)
            emitDropped(.paws, seg, socket: tw.id)
        }
        if !flags.contains(.rst) {
            // "In this case we must reset the TIMEWAIT timer" — but not for an ACK-less SYN that may be
            // a new connection's with a lower ISN.
            if pawsReject || flags.contains(.ack) { armTimeWait(&tw, tuple, Self.timeWaitLength) }
            timeWaitAckRateLimited(tuple, &tw, seg, counter: .TCPACKSkippedTimeWait)
            timeWaits[tuple] = tw
        }
    }

    /// `tcp_timewait_check_oow_rate_limit`. The caller stores `tw` back.
    private func timeWaitAckRateLimited(_ tuple: FourTuple, _ tw: inout TimeWaitSock, _ seg: borrowing TCPSegment,
                                        counter: MIB) {
        if outOfWindowRateLimited(&tw.lastOutOfWindowAck, counter: counter, segment: seg) { return }
        timeWaitAck(tuple, tw)
    }

    /// TCP_TW_RST: `tcp_v4_send_reset` for the segment, and the timewait socket goes.
    private func timeWaitReset(_ tuple: FourTuple, _ tw: TimeWaitSock, _ seg: borrowing TCPSegment) {
        sendReset(replyingTo: seg, interface: Int(tw.interface))
        killTimeWait(tuple, tw, .rstReceived)
    }

    /// `tcp_v4_timewait_ack`: seq = tw_snd_nxt, ack = tw_rcv_nxt, the window it had, TS with the
    /// timewait socket's offset (when there is a ts_recent to echo: `tcp_v4_send_ack` adds it for a
    /// non-zero TSecr); sent from the control socket (IP ID 0).
    func timeWaitAck(_ tuple: FourTuple, _ tw: TimeWaitSock) {
        var options = TCPOptionList()
        if tw.tsRecent != 0 {
            options.appendAlignedTimestamps(value: tsNow(offset: tw.tsOffset), echoReply: tw.tsRecent)
        }
        let window = UInt16(min(Int(tw.rcvWnd) >> Int(tw.rcvWscale), 65535))
        let header = TCPHeader(sourcePort: tuple.local.port, destinationPort: tuple.remote.port, sequenceNumber: tw.sndNxt,
                               acknowledgmentNumber: tw.rcvNxt, flags: .ack, window: window, options: options)
        output(TCPSegment(ip: ipHeader(to: tuple.remote.address, from: tuple.local.address, id: 0), tcp: header),
               interface: Int(tw.interface), socket: tw.id)
    }

    /// `tcp_paws_reject`: any older TSval than ts_recent, unless ts_recent is 0 or older than 24 days;
    /// a RST is spared if ts_recent is older than TCP_PAWS_MSL (60 s).
    func pawsRejects(tsRecent: UInt32, stamp: Instant?, tsVal: UInt32, rst: Bool) -> Bool {
        guard let stamp, tsRecent != 0 else { return false }
        if Int32(bitPattern: tsRecent &- tsVal) <= 0 { return false }
        if now - stamp >= .seconds(24 * 86400) { return false }
        if rst && now - stamp >= .seconds(60) { return false }
        return true
    }

    /// The timewait socket that was socket `id` (inspection only: a walk over every one).
    func timeWaitSock(id: SocketID) -> TimeWaitSock? {
        timeWaits.firstValue { $0.id == id }
    }
}

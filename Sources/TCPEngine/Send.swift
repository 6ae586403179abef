import TCPPolicy
import TCPWire

/// Nagle's mode for a push (`tp->nonagle`, TCP_NAGLE_*).
enum NagleMode {
    /// Nagle's algorithm with Minshall's variant.
    case normal
    /// TCP_NODELAY, or a FIN: send a short tail at once.
    case off
}

extension Host {
    /// `tcp_sendmsg`: queue `bytes` and send what the windows allow. Before ESTABLISHED the data waits
    /// (a writer blocked in `sk_stream_wait_connect`, which delays the third ACK so it rides on the data).
    /// The segment carrying the end of the write gets PSH (`tcp_mark_push`).
    /// - Returns: bytes accepted (less than `bytes.count` when the send buffer is full).
    @discardableResult
    public func send(_ id: SocketID, _ bytes: [UInt8], at time: Instant) throws(SocketError) -> Int {
        advance(time)
        guard let c = connections[id] else { throw listeners[id] != nil ? .ENOTCONN : .EBADF }
        if let err = c.error { throw err }
        switch c.state {
        case .synSent, .synRecv:
            c.writePending = true
        case .established, .closeWait:
            break
        default:
            throw .EPIPE
        }
        // SEND_SHUTDOWN.
        if c.finQueued { throw .EPIPE }
        let room = max(0, c.sendBufferLimit - c.sendQueue.count)
        guard room > 0 else { throw .EAGAIN }
        let accepted = min(room, bytes.count)
        guard accepted > 0 else { return 0 }
        // tcp_skb_entail → tcp_slow_start_after_idle_check, for the first new segment.
        if c.unsentBytes == 0, c.state == .established || c.state == .closeWait { slowStartAfterIdleCheck(c) }
        if accepted == bytes.count {
            c.sendQueue.append(contentsOf: bytes)
        } else {
            c.sendQueue.append(contentsOf: bytes[..<accepted])
        }
        c.writeSeq += accepted
        c.pushSeq = c.writeSeq
        pushPendingFrames(c)
        return accepted
    }

    /// `tcp_push_pending_frames`: send what the windows allow; with nothing in flight and data held
    /// back by the peer's window, probe it (`tcp_check_probe_timer`).
    @inline(__always) func pushPendingFrames(_ c: Connection, nagle: NagleMode? = nil) {
        switch c.state {
        case .established, .closeWait, .finWait1, .lastAck, .closing: break
        default: return
        }
        if c.writePending && c.state == .established { c.writePending = false }
        guard c.hasUnsent else { return }
        if writeXmit(c, nagle: nagle ?? (c.options.noDelay ? .off : .normal)) { checkProbeTimer(c) }
    }

    /// The next segment `tcp_write_xmit` would send: up to an MSS of unsent data, and the FIN if it is
    /// the tail of the queue. Returns its end sequence number.
    func nextSegmentEnd(_ c: Connection) -> SequenceNumber {
        let unsent = c.unsentBytes
        let length = min(unsent, max(c.mssCache, 1))
        let fin = c.finQueued && !c.finSent && length == unsent
        return c.sndNxt + length + (fin ? 1 : 0)
    }

    /// `tcp_write_xmit`: new segments while cwnd (in packets), the peer's window (a segment must fit
    /// whole: `tcp_snd_wnd_test`) and Nagle (RFC 896, Minshall's variant) allow.
    /// - Parameter pushOne: 2 for a loss probe, which may exceed cwnd by one segment.
    /// - Returns: true when nothing is in flight and data waits (the caller arms the probe timer).
    @discardableResult
    func writeXmit(_ c: Connection, nagle: NagleMode, pushOne: Int = 0) -> Bool {
        let mss = max(c.mssCache, 1)
        var sent = 0
        var cwndLimited = false
        while c.hasUnsent {
            if c.packetsInFlight >= c.cwnd {
                if pushOne != 2 {
                    cwndLimited = true
                    break
                }
            }
            let unsent = c.unsentBytes
            let length = min(unsent, mss)
            let fin = c.finQueued && !c.finSent && length == unsent
            let seq = c.sndNxt
            let end = seq + length + (fin ? 1 : 0)
            if end > c.windowEnd { break }
            // tcp_nagle_test: a short tail waits while a short segment is unacknowledged (Minshall),
            // unless TCP_NODELAY or a FIN.
            if length < mss, !fin, nagle == .normal, c.packetsOut > 0, c.sndSml > c.sndUna, !(c.sndSml > c.sndNxt) { break }
            if length == 0 && !fin { break }
            sendNewSegment(c, seq: seq, length: length, fin: fin)
            if length < mss { c.sndSml = c.sndNxt }
            sent += 1
            if pushOne != 0 { break }
        }
        cwndLimited = cwndLimited || c.packetsInFlight >= c.cwnd
        if sent > 0 || cwndLimited { cwndValidate(c, cwndLimited: cwndLimited) }
        if sent > 0 {
            // "Send one loss probe per tail loss episode."
            if pushOne != 2 { scheduleLossProbe(c, advancingRTO: false) }
            return false
        }
        return c.packetsOut == 0 && c.hasUnsent
    }

    /// Transmits a new segment and `tcp_event_new_data_sent`: snd_nxt moves, the segment joins the
    /// retransmit queue, the RTO starts if nothing was in flight.
    /// - Parameter push: PSH whatever the write boundaries (a window probe); nil: PSH on the segment
    ///   that carries the end of the latest write.
    private func sendNewSegment(_ c: Connection, seq: SequenceNumber, length: Int, fin: Bool, push: Bool? = nil) {
        let offset = seq - c.sendQueueStart
        var flags: TCPFlags = .ack
        var segFlags: SentSegment.Flags = []
        if length > 0, push ?? (seq < c.pushSeq && !(c.pushSeq > seq + length)) {
            flags.insert(.psh)
            segFlags.insert(.psh)
        }
        if fin {
            flags.insert(.fin)
            segFlags.insert(.fin)
            c.finSent = true
        }
        let payload = length > 0 ? Array(c.sendQueue.peek(offset: offset, length: length)) : []
        transmit(c, flags: flags, seq: seq, payload: payload)
        let priorPackets = c.packetsOut
        c.sndNxt = seq + length + (fin ? 1 : 0)
        if c.rtx.hasNoBuffer, spareRetransmitBuffer.capacity > 0 { c.rtx.adopt(&spareRetransmitBuffer) }
        c.rtx.append(SentSegment(seq: seq, length: Int32(length), flags: segFlags, sentAt: now))
        if priorPackets == 0 || c.xmitPending == .lossProbe { rearmRTO(c) }
        count(.TCPOrigDataSent)
    }

    /// `tcp_retransmit_skb` (or `__tcp_retransmit_skb` for a loss probe): segment `index` again, trimmed to
    /// snd_una, cut to the window, merged with the small segments after it (`tcp_retrans_try_collapse`).
    /// - Returns: false when the window does not let it go.
    @discardableResult
    func retransmitSegment(_ c: Connection, _ index: Int, lossProbe: Bool = false) -> Bool {
        var s = c.rtx[index]
        if s.seq < c.sndUna {
            // Partly acknowledged: tcp_trim_head.
            let acked = c.sndUna - s.seq
            s.seq = c.sndUna
            s.length -= Int32(min(acked, Int(s.length)))
        }
        let mss = max(c.mssCache, 1)
        var available = c.windowEnd - s.seq
        if available <= 0 {
            // The window shrank to zero: the head's retransmission serves as a zero-window probe.
            guard s.seq == c.sndUna else { return false }
            available = mss
        }
        var length = min(mss, available)
        if Int(s.length) > length {
            // tcp_fragment: the rest becomes a segment of its own, still in the queue.
            let rest = SentSegment(seq: s.seq + length, length: s.length - Int32(length), flags: s.flags, sentAt: s.sentAt)
            s.length = Int32(length)
            s.flags.subtract([.fin, .psh])
            c.rtx[index] = s
            c.rtx.insert(rest, at: index + 1)
            if rest.flags.contains(.lost) { c.lostOut += 1 }
        } else {
            c.rtx[index] = s
            length = min(length, mss)
            if Int(s.length) < length, sysctl.tcp_retrans_collapse != 0 { retransTryCollapse(c, index, space: length) }
            s = c.rtx[index]
        }
        var flags: TCPFlags = .ack
        if s.flags.contains(.psh) { flags.insert(.psh) }
        if s.flags.contains(.fin) { flags.insert(.fin) }
        let offset = s.seq - c.sendQueueStart
        let payload = s.length > 0 ? Array(c.sendQueue.peek(offset: offset, length: Int(s.length))) : []
        transmit(c, flags: flags, seq: s.seq, payload: payload, retransmission: max(c.retransmits, 1))
        s.sentAt = now
        s.flags.insert(.everRetransmitted)
        if !lossProbe, !s.flags.contains(.retransmitted) {
            s.flags.insert(.retransmitted)
            c.retransOut += 1
        }
        c.rtx[index] = s
        // "Save stamp of the first (attempted) retransmit."
        if !lossProbe, c.retransStamp == nil { c.retransStamp = now }
        return true
    }

    /// `tcp_retrans_try_collapse`: small segments after `index` ride along, up to `space` bytes.
    private func retransTryCollapse(_ c: Connection, _ index: Int, space: Int) {
        var space = space - Int(c.rtx[index].length)
        while index + 1 < c.rtx.indices.upperBound {
            let next = c.rtx[index + 1]
            space -= Int(next.length)
            if space < 0 || next.end > c.windowEnd { break }
            if next.flags.contains(.lost) { c.lostOut -= 1 }
            if next.flags.contains(.retransmitted) { c.retransOut -= 1 }
            c.rtx.mergeNext(index)
            if next.flags.contains(.fin) { break }
        }
    }

    /// `tcp_send_loss_probe` (RFC 8985 §7.3): new data if the window allows, else the last segment
    /// again; then the RTO from now.
    func sendLossProbe(_ c: Connection) {
        var sentProbe = false
        if c.tlpHighSeq == nil {
            c.tlpRetrans = false
            if c.hasUnsent, !(nextSegmentEnd(c) > c.windowEnd) {
                let before = c.packetsOut
                writeXmit(c, nagle: .off, pushOne: 2)
                sentProbe = c.packetsOut > before
            } else if !c.rtx.isEmpty {
                sentProbe = retransmitSegment(c, c.rtx.indices.upperBound - 1, lossProbe: true)
                if sentProbe { c.tlpRetrans = true }
            }
        }
        if sentProbe {
            c.tlpHighSeq = c.sndNxt
            count(.TCPLossProbes)
            // "Reset s.t. tcp_rearm_rto will restart timer from now."
            c.xmitPending = .none
        }
        rearmRTO(c)
    }

    /// `tcp_write_wakeup`: a zero-window or keepalive probe. If the window has room for some of the
    /// waiting data, that goes (with PSH); otherwise an ACK with seq = snd_una − 1 draws the peer's ACK
    /// (`tcp_xmit_probe_skb`).
    func writeWakeup(_ c: Connection, counter: MIB) {
        guard c.state != .close else { return }
        if c.hasUnsent, c.sndNxt < c.windowEnd {
            // The head segment, cut to what the window takes ("must have been a result SWS avoidance").
            let unsent = c.unsentBytes
            var length = min(unsent, max(c.mssCache, 1))
            var fin = c.finQueued && !c.finSent && length == unsent
            let room = c.windowEnd - c.sndNxt
            if room < length + (fin ? 1 : 0) {
                length = min(room, length)
                fin = false
            }
            sendNewSegment(c, seq: c.sndNxt, length: length, fin: fin, push: true)
            return
        }
        count(counter)
        transmit(c, flags: .ack, seq: c.sndUna - 1)
    }

    /// `tcp_recvmsg`: up to `max` bytes in order. Empty at end of stream; EAGAIN when nothing is there yet.
    public func receive(_ id: SocketID, max: Int = Int.max, at time: Instant) throws(SocketError) -> [UInt8] {
        advance(time)
        guard let c = connections[id] else { throw listeners[id] != nil ? .ENOTCONN : .EBADF }
        if c.receiveQueue.isEmpty {
            if let err = c.error { throw err }
            if c.finReceived || c.shutdownRead { return [] }
            throw .EAGAIN
        }
        let n = min(max, c.receiveQueue.count)
        let data = c.receiveQueue.popFirst(n)
        cleanupReceiveBuffer(c, copied: n)
        return data
    }

    /// `__tcp_cleanup_rbuf`: after a read, send a pending ACK if more than rcv_mss is unacknowledged or
    /// the queue drained after a push, and a window update if the read at least doubled the window.
    func cleanupReceiveBuffer(_ c: Connection, copied: Int) {
        guard c.state != .close, c.state != .synSent, !c.isTimeWaitSock else { return }
        var timeToAck = false
        if c.ack.pending.contains(.scheduled) {
            let unacked = c.rcvNxt - c.rcvWup
            let pingpong = Int(c.ack.pingpong) >= sysctl.tcp_pingpong_thresh
            if unacked > c.ack.rcvMSS
                || (copied > 0
                    && (c.ack.pending.contains(.pushed2) || (c.ack.pending.contains(.pushed) && !pingpong))
                    && c.receiveQueue.isEmpty && c.outOfOrder.isEmpty)
            {
                timeToAck = true
            }
        }
        // "Even if window raised up to infinity, do not send window open ACK in states, where we will
        // not receive more."
        if copied > 0, !timeToAck, !c.shutdownRead {
            let current = c.receiveWindowRemaining
            if 2 * current <= c.windowClamp {
                let newWindow = selectWindowBytesPeek(c)
                if newWindow > 0, newWindow >= 2 * current { timeToAck = true }
            }
        }
        if timeToAck { sendAck(c) }
    }
}

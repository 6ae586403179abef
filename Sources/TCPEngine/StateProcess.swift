import TCPPolicy
import TCPWire

extension Host {
    /// A segment for a full socket: `tcp_rcv_state_process` (and `tcp_rcv_established`, whose fast
    /// path gives the same result), dispatched by state.
    func connectionInput(_ c: Connection, _ seg: TCPSegment) {
        switch c.state {
        case .synSent:
            // tcp_rcv_state_process returns straight after tcp_rcv_synsent_state_process: no
            // tcp_ack_snd_check, so a third ACK it chose to delay (write pending, TCP_DEFER_ACCEPT,
            // pingpong) is not sent here by the quick-ACK credit it was just granted.
            synSentInput(c, seg)
            return
        case .timeWait: timeWaitInput(c, seg)
        case .close, .listen, .newSynRecv: sendReset(replyingTo: seg, interface: c.interface)
        default: synchronizedInput(c, seg)
        }
        afterInput(c)
    }

    /// `tcp_validate_incoming` and the rest of `tcp_rcv_state_process` for SYN_RECV and the
    /// synchronized states.
    private func synchronizedInput(_ c: Connection, _ seg: TCPSegment) {
        let th = seg.tcp
        let record = SegmentRecord(seg)
        let seq = th.sequenceNumber
        let end = seq + seg.sequenceLength
        c.lastReceived = now
        let ts = c.timestampsOK ? th.options.timestamps : nil
        // 1. PAWS (RFC 7323 §5): an older TSval than the last one kept is a stale duplicate. RSTs bypass it.
        if let ts, !th.flags.contains(.rst), Int32(bitPattern: c.tsRecent &- ts.value) > 1,
           let stamp = c.tsRecentStamp, now - stamp < .seconds(24 * 86400)
        {
            count(.PAWSEstab)
            emit(.dropped(.paws, segment: record, socket: c.id))
            if th.flags.contains(.syn) { sendChallengeAck(c, synChallenge: true) } else { sendDupAck(c, seg, counter: .TCPACKSkippedPAWS) }
            return
        }
        // 2. Sequence acceptability (`tcp_sequence`).
        let window = c.receiveWindowRemaining
        // 23e89e8ee7be: in a simultaneous open the peer's bare SYN-ACK (no data, no FIN: seq + 1 ==
        // end_seq) completes the handshake instead of drawing a challenge ACK.
        let exactSynAck = c.state == .synRecv && c.parent == nil && th.flags.contains(.syn) && th.flags.contains(.ack)
            && end == seq + 1 && seq + 1 == c.rcvNxt && th.acknowledgmentNumber == c.sndNxt
        if !exactSynAck, end < c.rcvWup || seq > c.rcvNxt + window {
            emit(.dropped(.outOfWindow, segment: record, socket: c.id))
            if th.flags.contains(.rst) { return }  // RFC 5961 §3.2: out-of-window RSTs are dropped silently.
            if th.flags.contains(.syn) { sendChallengeAck(c, synChallenge: true) } else { sendDupAck(c, seg) }
            return
        }
        // 3. RST: only one exactly at rcv_nxt resets; any other in the window draws a challenge ACK (RFC 5961 §3.2).
        if th.flags.contains(.rst) {
            if seq == c.rcvNxt {
                let err: SocketError = c.state == .synRecv && c.parent == nil ? .ECONNREFUSED
                    : c.state == .closeWait ? .EPIPE : .ECONNRESET
                if c.state.isSynchronized || c.state == .synRecv { count(.EstabResets) }
                resetConnection(c, err)
            } else {
                sendChallengeAck(c, synChallenge: false)
            }
            return
        }
        // 4. A SYN in a synchronized state: challenge ACK (RFC 5961 §4.2).
        if th.flags.contains(.syn), !exactSynAck {
            sendChallengeAck(c, synChallenge: true)
            emit(.dropped(.outOfWindow, segment: record, socket: c.id))
            return
        }
        // Keep the peer's latest TSval (RFC 7323 §4.3: only when the segment covers rcv_wup).
        if let ts, !(seq > c.rcvWup) {
            c.tsRecent = ts.value
            c.tsRecentStamp = now
        }
        // 5. The ACK field.
        guard th.flags.contains(.ack) else {
            emit(.dropped(.noAckFlag, segment: record, socket: c.id))
            return
        }
        if c.state == .synRecv {
            guard th.acknowledgmentNumber > c.sndUna, th.acknowledgmentNumber <= c.sndNxt else {
                emit(.dropped(.badAckForRequest, segment: record, socket: c.id))
                sendReset(replyingTo: seg, interface: c.interface)
                return
            }
            synRecvEstablish(c, seg, cause: .ackReceived)
            return
        }
        guard processAck(c, seg) else { return }
        receiveData(c, seg)
    }

    /// SYN_RECV → ESTABLISHED on an acceptable ACK (a child after `tcp_check_req`, or a simultaneous open).
    func synRecvEstablish(_ c: Connection, _ seg: TCPSegment, cause: StateCause) {
        let th = seg.tcp
        c.sndUna = th.acknowledgmentNumber
        // The third ACK's window is scaled (unlike the SYN-ACK's).
        c.sndWnd = Int(th.window) << Int(c.sndWscale)
        c.maxWindow = max(c.maxWindow, c.sndWnd)
        c.sndWl1 = th.sequenceNumber
        c.sndWl2 = th.acknowledgmentNumber
        // tcp_rcv_state_process, TCP_SYN_RECV: the timestamp bytes come off advmss now, for a child and
        // for a simultaneous open alike (before tcp_init_transfer sizes the window clamp from it).
        if c.timestampsOK, c.advmss > 12 { c.advmss -= 12 }
        c.mssCache = max(min(interfaces[c.interface].mtu - 40, c.mssClamp) - (c.timestampsOK ? 12 : 0), 48)
        c.ack.rcvMSS = max(min(c.advmss, c.mssCache, c.rcvWnd / 2, 536), 88)
        if let ts = c.timestampsOK ? th.options.timestamps : nil {
            c.tsRecent = ts.value
            c.tsRecentStamp = now
            // tcp_synack_rtt_meas → tcp_ack_update_rtt: no timed SYN-ACK, but a TSecr times it.
            if c.srtt == nil, ts.echoReply != 0 { timestampRTTSample(c, echo: ts.echoReply) }
        }
        cancelRetransmit(c)
        c.retransmits = 0
        setState(c, .established, cause)
        c.establishedAt = now
        c.lastReceived = now
        initTransfer(c)
        if c.parent == nil { emit(.connected(c.id)) }
        receiveData(c, seg)
        afterInput(c)
    }

    /// `tcp_ack`. Returns false when the segment is to be dropped.
    private func processAck(_ c: Connection, _ seg: TCPSegment) -> Bool {
        let th = seg.tcp
        let ack = th.acknowledgmentNumber
        if ack > c.sndNxt {
            // Acknowledges data never sent: dropped (ESTABLISHED) or challenged (closing states).
            emit(.dropped(.ackBeyondSndNxt, segment: SegmentRecord(seg), socket: c.id))
            if c.state != .established { sendChallengeAck(c, synChallenge: false) }
            return false
        }
        if ack < c.sndUna {
            // RFC 5961 §5.2: far too old → challenge ACK; merely old → ignored, the data still counts.
            if ack < c.sndUna - UInt32(max(c.maxWindow, 1)) {
                emit(.dropped(.oldAck, segment: SegmentRecord(seg), socket: c.id))
                sendChallengeAck(c, synChallenge: false)
                return false
            }
            return true
        }
        // RFC 9293 §3.10.7.4: update the send window from the newest segment.
        if c.sndWl1 < th.sequenceNumber || (c.sndWl1 == th.sequenceNumber && c.sndWl2 <= ack) || ack > c.sndUna {
            c.sndWnd = Int(th.window) << Int(c.sndWscale)
            c.maxWindow = max(c.maxWindow, c.sndWnd)
            c.sndWl1 = th.sequenceNumber
            c.sndWl2 = ack
        }
        guard ack > c.sndUna else { return true }
        // New data acknowledged.
        if c.options.keepalive { c.keepaliveProbes = 0 }
        var acked = ack - c.sndUna
        var finAcked = false
        if c.finSent && ack == c.sndMax {
            finAcked = true
            acked -= 1
        }
        let dataAcked = min(acked, c.sendQueue.count)
        c.sendQueue.removeFirst(dataAcked)
        if let rttSeq = c.rttSeq, ack >= rttSeq {
            rttEstimate(c, sample: now - c.rttStart)
            c.rttSeq = nil
        }
        c.sndUna = ack
        if c.sndNxt < c.sndUna { c.sndNxt = c.sndUna }
        c.retransmits = 0
        c.backoff = 0
        c.retransStamp = nil
        // RFC 5681 slow start and congestion avoidance, in segments.
        if c.cwnd < c.ssthresh { c.cwnd += max(1, dataAcked / max(c.mssCache, 1)) } else { c.cwndCount += 1; if c.cwndCount >= c.cwnd { c.cwnd += 1; c.cwndCount = 0 } }
        if c.sndUna == c.sndMax { cancelRetransmit(c) } else { armRetransmit(c, c.rto) }
        if finAcked {
            switch c.state {
            case .finWait1:
                setState(c, .finWait2, .ackReceived)
                if c.orphan { finWait2Timeout(c) }
            case .closing:
                enterTimeWait(c, .ackReceived)
            case .lastAck:
                setState(c, .close, .ackReceived)
                destroy(c, .ackReceived)
                return false
            default: break
            }
        }
        return true
    }

    /// `tcp_data_queue` and `tcp_fin`: in-order data to the receive queue, out-of-order data aside,
    /// duplicates and out-of-window data answered at once.
    private func receiveData(_ c: Connection, _ seg: TCPSegment) {
        let th = seg.tcp
        let hasFin = th.flags.contains(.fin)
        guard !seg.payload.isEmpty || hasFin else { return }
        guard c.state == .established || c.state == .finWait1 || c.state == .finWait2 else { return }
        var seq = th.sequenceNumber
        var payload = seg.payload
        let end = seq + payload.count + (hasFin ? 1 : 0)
        if !(end > c.rcvNxt) {
            // A retransmit: "force an immediate ACK".
            delayedAckPolicy.enterQuickAck(&c.ack, credits: LinuxDelayedAck.maxQuickAcks, facts: ackFacts(c))
            c.ack.pending.insert(.scheduled)
            return
        }
        let window = c.receiveWindowRemaining
        if !(seq < c.rcvNxt + max(window, 1)) {
            // Out of window (a zero-window probe, say): ACK at once, drop.
            delayedAckPolicy.enterQuickAck(&c.ack, credits: LinuxDelayedAck.maxQuickAcks, facts: ackFacts(c))
            c.ack.pending.insert(.scheduled)
            emit(.dropped(.outOfWindow, segment: SegmentRecord(seg), socket: c.id))
            return
        }
        if seq < c.rcvNxt {
            // Partial overlap: keep the new part.
            payload.removeFirst(c.rcvNxt - seq)
            seq = c.rcvNxt
        }
        if seq > c.rcvNxt {
            // Out of order: keep it aside (sorted, no duplicates), ACK with SACK.
            if c.outOfOrder.count >= 256 {
                emit(.dropped(.outOfOrderQueueFull, segment: SegmentRecord(seg), socket: c.id))
                return
            }
            if !c.outOfOrder.contains(where: { $0.seq == seq }) {
                let index = c.outOfOrder.firstIndex(where: { seq < $0.seq }) ?? c.outOfOrder.endIndex
                c.outOfOrder.insert((seq, payload, hasFin), at: index)
                count(.TCPOFOQueue)
            }
            c.ack.pending.insert(.scheduled)
            return
        }
        // In order.
        let free = ReceiveWindow.fromSpace(c.receiveBufferLimit) - c.receiveQueue.count
        if payload.count > max(free, 0) + window {
            count(.TCPRcvQDrop)
            emit(.dropped(.receiveBufferFull, segment: SegmentRecord(seg), socket: c.id))
            return
        }
        deliver(c, payload, fin: hasFin, headerLength: th.headerLength, push: th.flags.contains(.psh))
        if !c.outOfOrder.isEmpty {
            var filled = false
            while let first = c.outOfOrder.first, !(first.seq > c.rcvNxt) {
                c.outOfOrder.removeFirst()
                let overlap = c.rcvNxt - first.seq
                guard overlap < first.data.count || first.fin else { continue }
                deliver(c, Array(first.data.dropFirst(overlap)), fin: first.fin, headerLength: 20, push: false)
                filled = true
            }
            // RFC 5681 §4.2: ACK at once when a hole is filled.
            if filled || c.outOfOrder.isEmpty { c.ack.pending.insert(.now) }
        }
    }

    private func deliver(_ c: Connection, _ data: [UInt8], fin: Bool, headerLength: Int, push: Bool) {
        if !data.isEmpty {
            if !c.shutdownRead { c.receiveQueue.append(contentsOf: data) }
            c.rcvNxt += data.count
            delayedAckPolicy.dataReceived(&c.ack, ReceivedData(length: data.count, headerLength: headerLength, push: push,
                                                                finUrgOrSyn: fin), facts: ackFacts(c))
            emit(.readable(c.id, bytes: c.receiveQueue.count))
        }
        if fin { receiveFin(c) }
    }

    /// `tcp_fin`.
    private func receiveFin(_ c: Connection) {
        c.rcvNxt += 1
        c.finReceived = true
        c.ack.pending.insert(.scheduled)
        emit(.readable(c.id, bytes: c.receiveQueue.count))
        switch c.state {
        case .established:
            setState(c, .closeWait, .finReceived)
            // The application will answer soon: delay the ACK so it can ride on our FIN.
            c.ack.pingpong = UInt8(clamping: sysctl.tcp_pingpong_thresh)
        case .finWait1:
            sendAck(c)
            setState(c, .closing, .finReceived)
        case .finWait2:
            sendAck(c)
            enterTimeWait(c, .finReceived)
        default: break
        }
    }

    /// After a segment: send what the window now allows, then ACK as the delayed-ACK policy decides
    /// (`tcp_data_snd_check`, `tcp_ack_snd_check`).
    func afterInput(_ c: Connection) {
        guard connections[c.id] != nil, c.state != .close, c.state != .synSent, c.state != .timeWait else { return }
        pushPendingData(c)
        ackCheck(c)
    }

    func ackCheck(_ c: Connection) {
        switch delayedAckPolicy.ackCheck(&c.ack, facts: ackFacts(c)) {
        case .none: break
        case .now: sendAck(c)
        case let .at(deadline): armDelayedAck(c, deadline)
        }
    }

    /// `tcp_send_challenge_ack`, rate-limited per socket (`tcp_invalid_ratelimit`).
    func sendChallengeAck(_ c: Connection, synChallenge: Bool) {
        if synChallenge { count(.TCPSYNChallenge) }
        var last = c.lastOutOfWindowAck ?? .noOutOfWindowAck
        if outOfWindowRateLimited(&last, counter: .TCPACKSkippedChallenge) {
            emit(.dropped(.challengeAckRateLimited, segment: nil, socket: c.id))
            return
        }
        c.lastOutOfWindowAck = last
        count(.TCPChallengeACK)
        sendAck(c)
    }

    /// `tcp_send_dupack` behind `tcp_oow_rate_limited` (`counter`: TCPACKSkippedSeq, or
    /// TCPACKSkippedPAWS for a PAWS failure).
    private func sendDupAck(_ c: Connection, _ seg: TCPSegment, counter: MIB = .TCPACKSkippedSeq) {
        delayedAckPolicy.enterQuickAck(&c.ack, credits: LinuxDelayedAck.maxQuickAcks, facts: ackFacts(c))
        var last = c.lastOutOfWindowAck ?? .noOutOfWindowAck
        if outOfWindowRateLimited(&last, counter: counter, segment: seg) { return }
        c.lastOutOfWindowAck = last
        sendAck(c)
    }

    /// A segment for a TIME_WAIT socket (`tcp_timewait_state_process`).
    private func timeWaitInput(_ c: Connection, _ seg: TCPSegment) {
        let th = seg.tcp
        if th.flags.contains(.rst) {
            // RFC 1337 hazard: Linux lets an in-window RST kill TIME_WAIT unless tcp_rfc1337 = 1.
            if sysctl.tcp_rfc1337 == 0, th.sequenceNumber == c.rcvNxt {
                count(.TWKilled)
                destroy(c, .rstReceived)
            }
            return
        }
        if th.flags.contains(.syn), !th.flags.contains(.ack), th.sequenceNumber > c.rcvNxt {
            // A new incarnation of the connection: forget TIME_WAIT and let the listener take the SYN.
            count(.TWRecycled)
            let tuple = c.tuple
            destroy(c, .timeWaitReused)
            if let l = lookupListener(tuple.local) {
                listenInput(l, seg, tuple: tuple, interface: c.interface, broadcast: false)
            }
            return
        }
        if th.flags.contains(.fin) || th.sequenceNumber + seg.sequenceLength == c.rcvNxt {
            // A retransmitted FIN: ACK it again and restart the 60 s.
            sendAck(c)
            armTimeWait(c, .seconds(60))
        }
    }
}

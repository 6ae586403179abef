import TCPPolicy
import TCPWire

extension Host {
    /// A segment for a full socket: `tcp_rcv_state_process`, and `tcp_rcv_established` for
    /// ESTABLISHED (its fast path gives the same result as the slow path taken here).
    func connectionInput(_ c: Connection, _ seg: borrowing TCPSegment) {
        switch c.state {
        case .synSent:
            // tcp_rcv_state_process returns straight after tcp_rcv_synsent_state_process: no
            // tcp_ack_snd_check, so a third ACK it chose to delay (write pending, TCP_DEFER_ACCEPT,
            // pingpong) is not sent here by the quick-ACK credit it was just granted.
            synSentInput(c, seg)
        case .close, .listen, .newSynRecv, .timeWait:
            sendReset(replyingTo: seg, interface: c.interface)
        default:
            rcvStateProcess(c, seg)
        }
    }

    /// `tcp_rcv_state_process` (and `tcp_rcv_established`) for SYN_RECV and the synchronized states.
    private func rcvStateProcess(_ c: Connection, _ seg: borrowing TCPSegment) {
        let flags = seg.tcp.flags
        guard flags.contains(.ack) || flags.contains(.rst) || flags.contains(.syn) else {
            emitDropped(.noAckFlag, seg, socket: c.id)
            return
        }
        guard validateIncoming(c, seg) else { return }

        // Step 5: the ACK field.
        if c.state == .synRecv {
            // A simultaneous open (a child reaches ESTABLISHED in `synRecvSock`): our SYN-ACK must be
            // the one acknowledged, else one RST.
            let ack = seg.tcp.acknowledgmentNumber
            guard ack > c.sndUna, ack <= c.sndNxt else {
                emitDropped(.badAckForRequest, seg, socket: c.id)
                sendReset(replyingTo: seg, interface: c.interface)
                return
            }
            synRecvEstablish(c, seg, cause: .ackReceived)
            return
        }
        switch tcpAck(c, seg, noChallenge: c.state != .established) {
        case .drop:
            // "accept old ack during closing", but not a too old one or one beyond snd_nxt.
            if c.state != .established { sendChallengeAck(c, synChallenge: false) }
            return
        case .old, .ok:
            break
        }
        let writeSeq = c.writeSeq
        switch c.state {
        case .finWait1 where c.sndUna == writeSeq:
            setState(c, .finWait2, .ackReceived)
            if c.orphan {
                if let l2 = c.options.linger2, l2 < 0 {
                    count(.TCPAbortOnData)
                    done(c, .ackReceived)
                    sendReset(replyingTo: seg, interface: c.interface)
                    return
                }
                let end = seg.tcp.sequenceNumber + seg.length
                if seg.length > 0, end - (flags.contains(.fin) ? 1 : 0) > c.rcvNxt {
                    // "Receive out of order FIN after close()", or data nobody will read.
                    count(.TCPAbortOnData)
                    done(c, .ackReceived)
                    sendReset(replyingTo: seg, interface: c.interface)
                    return
                }
                orphanFinWait2(c, finInSegment: flags.contains(.fin))
                if c.isTimeWaitSock { return }
            }
        case .closing where c.sndUna == writeSeq:
            timeWait(c, substate: .timeWait, cause: .ackReceived)
            return
        case .lastAck where c.sndUna == writeSeq:
            done(c, .ackReceived)
            return
        default:
            break
        }

        // Step 7: the segment text.
        switch c.state {
        case .closeWait, .closing, .lastAck:
            // The peer's FIN came already: nothing new can be read, but a retransmission still gets
            // its (duplicate) ACK.
            if !(seg.tcp.sequenceNumber < c.rcvNxt) { break }
            fallthrough
        case .finWait1, .finWait2:
            // RFC 1122 §4.2.2.13: new data for a socket that will not read any more: reset.
            if c.shutdownRead {
                let end = seg.tcp.sequenceNumber + seg.length
                if seg.length > 0, end - (flags.contains(.fin) ? 1 : 0) > c.rcvNxt {
                    count(.TCPAbortOnData)
                    tcpReset(c)
                    sendReset(replyingTo: seg, interface: c.interface)
                    return
                }
            }
            fallthrough
        case .established:
            dataQueue(c, seg)
        default:
            break
        }
        afterInput(c)
    }

    /// `tcp_validate_incoming`: PAWS, the sequence number, RST (RFC 5961 §3.2), SYN (§4.2).
    /// Returns false when the segment was handled or dropped here.
    private func validateIncoming(_ c: Connection, _ seg: borrowing TCPSegment) -> Bool {
        let seq = seg.tcp.sequenceNumber
        let end = seq + seg.length
        // 1. PAWS (RFC 7323 §5). RSTs bypass it.
        if c.timestampsOK, let ts = seg.timestamps, pawsDiscard(c, seg, tsVal: ts.value) {
            if !seg.tcp.flags.contains(.rst) {
                if seg.tcp.flags.contains(.syn) {
                    synChallenge(c, seg)
                    return false
                }
                count(.PAWSEstab)
                emitDropped(.paws, seg, socket: c.id)
                if !outOfWindowRateLimited(&c.lastOutOfWindowAck, counter: .TCPACKSkippedPAWS, segment: seg) {
                    sendDupAck(c, seg)
                }
                return false
            }
        }
        // 2. Sequence acceptability (`tcp_sequence`).
        let window = c.receiveWindowRemaining
        let right = c.rcvNxt + window
        // 23e89e8ee7be: in a simultaneous open the peer's bare SYN-ACK (no data, no FIN: seq + 1 ==
        // end_seq) completes the handshake instead of drawing a challenge ACK.
        let exactSynAck = c.state == .synRecv && c.parent == nil && seg.tcp.flags.contains(.syn) && seg.tcp.flags.contains(.ack)
            && end == seq + 1 && seq + 1 == c.rcvNxt && seg.tcp.acknowledgmentNumber == c.sndNxt
        var unacceptable = end < c.rcvWup
        if !unacceptable, end > right {
            // Beyond the window: a segment that starts beyond it, or (6.17+, "tcp: do not accept packets
            // beyond window") one that ends beyond it while the receive queue holds data.
            if seq > right || !c.receiveQueue.isEmpty {
                unacceptable = true
                count(.BeyondWindow)
            }
        }
        if !exactSynAck, unacceptable {
            emitDropped(.outOfWindow, seg, socket: c.id)
            if !seg.tcp.flags.contains(.rst) {
                if seg.tcp.flags.contains(.syn) {
                    synChallenge(c, seg)
                    return false
                }
                if !outOfWindowRateLimited(&c.lastOutOfWindowAck, counter: .TCPACKSkippedSeq, segment: seg) {
                    sendDupAck(c, seg)
                }
            } else if resetCheck(c, seq) {
                tcpReset(c)
            }
            // RFC 5961 §3.2: any other out-of-window RST is dropped silently.
            return false
        }
        // 3. RST: only one exactly at rcv_nxt (or rcv_nxt − 1 after a FIN, or at the right edge of our
        // highest SACK block) resets; any other in the window draws a challenge ACK.
        if seg.tcp.flags.contains(.rst) {
            if seq == c.rcvNxt || resetCheck(c, seq)
                || (c.sackOK && !c.sackBlocks.isEmpty && seq == c.sackBlocks.dropFirst().reduce(c.sackBlocks[0].right) {
                    SequenceNumber.max($0, $1.right)
                })
            {
                tcpReset(c)
            } else {
                emitDropped(.outOfWindow, seg, socket: c.id)
                sendChallengeAck(c, synChallenge: false)
            }
            return false
        }
        // 4. A SYN in a synchronized state: challenge ACK (RFC 5961 §4.2).
        if seg.tcp.flags.contains(.syn), !exactSynAck {
            synChallenge(c, seg)
            return false
        }
        return true
    }

    /// `tcp_reset_check`: a RST at rcv_nxt − 1 once the peer's FIN is in (CLOSE_WAIT, LAST_ACK, CLOSING).
    private func resetCheck(_ c: Connection, _ seq: SequenceNumber) -> Bool {
        seq == c.rcvNxt - 1 && (c.state == .closeWait || c.state == .lastAck || c.state == .closing)
    }

    /// `tcp_paws_discard`: PAWS with TCP_PAWS_WINDOW (1), except for an old duplicate pure ACK within
    /// the replay window (`tcp_disordered_ack`).
    private func pawsDiscard(_ c: Connection, _ seg: borrowing TCPSegment, tsVal: UInt32) -> Bool {
        guard let stamp = c.tsRecentStamp, c.tsRecent != 0 else { return false }
        let older = Int32(bitPattern: c.tsRecent &- tsVal)
        if older <= 1 || now - stamp >= .seconds(24 * 86400) { return false }
        let seq = seg.tcp.sequenceNumber
        let disordered = seg.tcp.flags.contains(.ack) && seg.length == 0 && seq == c.rcvNxt
            && seg.tcp.acknowledgmentNumber == c.sndUna
            && !mayUpdateWindow(c, ack: seg.tcp.acknowledgmentNumber, seq: seq, window: Int(seg.tcp.window) << Int(c.sndWscale))
            && Int64(older) <= c.rto.milliseconds * 1024 / 1000
        return !disordered
    }

    /// `tcp_reset`: a RST we accept. ECONNREFUSED in SYN_SENT, EPIPE in CLOSE_WAIT, else ECONNRESET.
    func tcpReset(_ c: Connection) {
        let err: SocketError = c.state == .synRecv && c.parent == nil ? .ECONNREFUSED
            : c.state == .closeWait ? .EPIPE : .ECONNRESET
        resetConnection(c, err)
    }

    /// The SYN branch of `tcp_validate_incoming` (TCPSYNChallenge, then a challenge ACK).
    private func synChallenge(_ c: Connection, _ seg: borrowing TCPSegment) {
        emitDropped(.outOfWindow, seg, socket: c.id)
        sendChallengeAck(c, synChallenge: true)
    }

    /// SYN_RECV → ESTABLISHED on an acceptable ACK (a child after `tcp_check_req`, or a simultaneous open).
    func synRecvEstablish(_ c: Connection, _ seg: borrowing TCPSegment, cause: StateCause) {
        c.sndUna = seg.tcp.acknowledgmentNumber
        // The third ACK's window is scaled (unlike the SYN-ACK's).
        c.sndWnd = Int(seg.tcp.window) << Int(c.sndWscale)
        c.maxWindow = max(c.maxWindow, c.sndWnd)
        c.sndWl1 = seg.tcp.sequenceNumber
        // tcp_rcv_state_process, TCP_SYN_RECV: the timestamp bytes come off advmss now, for a child and
        // for a simultaneous open alike (before tcp_init_transfer sizes the window clamp from it).
        if c.timestampsOK, c.advmss > 12 { c.advmss -= 12 }
        c.mssCache = max(min(interfaces[c.interface].mtu - 40, c.mssClamp) - (c.timestampsOK ? 12 : 0), 48)
        c.ack.rcvMSS = max(min(c.advmss, c.mssCache, c.rcvWnd / 2, 536), 88)
        if let ts = c.timestampsOK ? seg.timestamps : nil {
            c.tsRecent = ts.value
            c.tsRecentStamp = now
            // tcp_synack_rtt_meas → tcp_ack_update_rtt: no timed SYN-ACK, but a TSecr times it.
            if c.srttUs == 0, ts.echoReply != 0 { timestampRTTSample(c, echo: ts.echoReply) }
        }
        clearXmit(c)
        c.retransmits = 0
        c.backoff = 0
        c.retransStamp = nil
        setState(c, .established, cause)
        // "Prevent spurious tcp_cwnd_restart() on first data packet."
        c.lsndtime = now
        c.rcvTstamp = now
        c.ack.lastReceive = now
        initTransfer(c)
        if c.parent == nil { emit(.connected(c.id)) }
        dataQueue(c, seg)
        afterInput(c)
    }

    /// After a segment: send what the windows now allow, then ACK as the delayed-ACK policy decides
    /// (`tcp_data_snd_check`, `tcp_ack_snd_check`).
    @inline(__always) func afterInput(_ c: Connection) {
        guard c.state != .close, c.state != .synSent, !c.isTimeWaitSock else { return }
        pushPendingFrames(c)
        ackCheck(c)
    }

    /// `tcp_ack_snd_check`.
    @inline(__always) func ackCheck(_ c: Connection) {
        guard c.ack.pending.contains(.scheduled) else { return }
        // __tcp_ack_snd_check: without SACK, out-of-order data is ACKed at once (no SACK compression).
        if !c.sackOK, !c.outOfOrder.isEmpty { c.ack.pending.insert(.now) }
        switch delayedAckPolicy.ackCheck(&c.ack, facts: ackFacts(c)) {
        case .none: break
        case .now: sendAck(c)
        case let .at(deadline): armDelayedAck(c, deadline)
        }
    }

    /// `tcp_send_challenge_ack`: rate-limited per socket (`tcp_invalid_ratelimit`), then by the
    /// host-wide `tcp_challenge_ack_limit` (none at its default, INT_MAX).
    func sendChallengeAck(_ c: Connection, synChallenge: Bool) {
        if synChallenge { count(.TCPSYNChallenge) }
        if outOfWindowRateLimited(&c.lastOutOfWindowAck, counter: .TCPACKSkippedChallenge) {
            emit(.dropped(.challengeAckRateLimited, segment: nil, socket: c.id))
            return
        }
        let limit = sysctl.tcp_challenge_ack_limit
        if limit != Int(Int32.max) {
            let second = now.nanoseconds / 1_000_000_000
            if second != challengeSecond {
                // A per-second budget drawn from [limit/2, 1.5·limit) (CVE-2016-5696).
                let half = (limit + 1) >> 1
                challengeSecond = second
                challengeBudget = half + Int(rng.next() % UInt64(max(limit, 1)))
            }
            guard challengeBudget > 0 else {
                emit(.dropped(.challengeAckRateLimited, segment: nil, socket: c.id))
                return
            }
            challengeBudget -= 1
        }
        count(.TCPChallengeACK)
        sendAck(c)
    }

    /// `tcp_send_dupack`: a duplicate ACK for an unacceptable segment; for one that repeats data
    /// already received, quick-ACK mode and a D-SACK block (RFC 2883).
    func sendDupAck(_ c: Connection, _ seg: borrowing TCPSegment) {
        let seq = seg.tcp.sequenceNumber
        let end = seq + seg.length
        if end != seq, seq < c.rcvNxt {
            count(.DelayedACKLost)
            delayedAckPolicy.enterQuickAck(&c.ack, credits: LinuxDelayedAck.maxQuickAcks, facts: ackFacts(c))
            dsackSet(c, seq, end > c.rcvNxt ? c.rcvNxt : end)
        }
        sendAck(c)
    }
}

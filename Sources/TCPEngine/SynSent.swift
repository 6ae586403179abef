import TCPPolicy
import TCPWire

extension Host {
    /// `tcp_rcv_synsent_state_process`: our SYN is out; what came back?
    func synSentInput(_ c: Connection, _ seg: TCPSegment) {
        let th = seg.tcp
        let record = SegmentRecord(seg)
        let ts = sysctl.tcp_timestamps != 0 ? th.options.timestamps : nil
        if th.flags.contains(.ack) {
            // RFC 9293 §3.10.7.3: SEG.ACK ≤ ISS or > SND.NXT is unacceptable → <SEQ=SEG.ACK><CTL=RST>.
            if th.acknowledgmentNumber <= c.iss || th.acknowledgmentNumber > c.sndNxt {
                emit(.dropped(.unacceptableAckInSynSent, segment: record, socket: c.id))
                // "Previous FIN/ACK or RST/ACK might be ignored": retry the SYN after TCP_TIMEOUT_MIN.
                if c.retransmits == 0 { armRetransmit(c, .milliseconds(2)) }
                sendReset(replyingTo: seg, interface: c.interface)
                return
            }
            // PAWS for the SYN-ACK: TSecr must echo a TSval we sent since the first SYN.
            if let ts, ts.echoReply != 0,
               !SequenceNumber(ts.echoReply &- c.tsOffset).isBetween(SequenceNumber(c.synStampTS), SequenceNumber(tsClock))
            {
                count(.PAWSActive)
                emit(.dropped(.pawsActiveRejected, segment: record, socket: c.id))
                sendReset(replyingTo: seg, interface: c.interface)
                return
            }
            if th.flags.contains(.rst) {
                // An acceptable RST: the port is closed (tcp_reset in SYN_SENT → ECONNREFUSED).
                resetConnection(c, .ECONNREFUSED)
                return
            }
            guard th.flags.contains(.syn) else {
                emit(.dropped(.noAckInSynSent, segment: record, socket: c.id))
                return
            }
            synAckReceived(c, seg)
            return
        }
        if th.flags.contains(.rst) {
            emit(.dropped(.rstInSynSentWithoutAck, segment: record, socket: c.id))
            return
        }
        if th.flags.contains(.syn) {
            // Crossed SYNs: a simultaneous open (or a connect to ourselves).
            if let ts, let stamp = c.tsRecentStamp, now - stamp < .seconds(24 * 86400),
               Int32(bitPattern: c.tsRecent &- ts.value) > 1
            {
                emit(.dropped(.paws, segment: record, socket: c.id))
                return
            }
            simultaneousOpen(c, seg)
            return
        }
        emit(.dropped(.noAckInSynSent, segment: record, socket: c.id))
    }

    /// Applies the peer's SYN options to the connection (what `tcp_rcv_synsent_state_process` honours).
    /// - Parameter crossedSyn: the segment is a SYN without ACK (simultaneous open). That branch of the
    ///   kernel function neither clears `rcv_wscale` when the peer has no window scale nor takes the
    ///   timestamp bytes off `advmss`: our SYN-ACK still offers our scale and MSS, and advmss shrinks on
    ///   reaching ESTABLISHED (`tcp_rcv_state_process`, TCP_SYN_RECV).
    private func applySynOptions(_ c: Connection, _ seg: TCPSegment, crossedSyn: Bool = false) {
        let opts = SynOptions(seg.tcp.options, sysctl: sysctl, userMSS: c.options.maxSegment)
        c.mssClamp = Int(opts.mss)
        c.sackOK = opts.sack
        if let ws = opts.windowScale, sysctl.tcp_window_scaling != 0 {
            c.windowScaleOK = true
            c.sndWscale = ws
        } else {
            // Window scaling only if both SYNs offered it (RFC 7323 §2.2).
            c.windowScaleOK = false
            c.sndWscale = 0
            if !crossedSyn {
                c.rcvWscale = 0
                c.windowClamp = min(c.windowClamp, 65535)
            }
        }
        if let ts = opts.timestamps {
            c.timestampsOK = true
            c.tsRecent = ts.value
            c.tsRecentStamp = now
            if !crossedSyn { c.advmss -= 12 }
        } else {
            c.timestampsOK = false
        }
        // tcp_sync_mss: the payload we send is the peer's MSS less our options.
        c.mssCache = max(min(interfaces[c.interface].mtu - 40, c.mssClamp) - (c.timestampsOK ? 12 : 0), 48)
        c.ack.rcvMSS = max(min(c.advmss, c.mssCache, c.rcvWnd / 2, 536), 88)
    }

    /// SYN-ACK in SYN_SENT: ESTABLISHED (`tcp_finish_connect`), then the third ACK — at once, or
    /// delayed so it rides on data, as the delayed-ACK policy decides.
    private func synAckReceived(_ c: Connection, _ seg: TCPSegment) {
        let th = seg.tcp
        c.irs = th.sequenceNumber
        c.rcvNxt = th.sequenceNumber + 1
        c.rcvWup = c.rcvNxt
        c.sndWl1 = th.sequenceNumber
        c.sndWl2 = th.acknowledgmentNumber
        // The window in a SYN-ACK is never scaled.
        c.sndWnd = Int(th.window)
        c.maxWindow = c.sndWnd
        applySynOptions(c, seg)
        // tcp_ack: the SYN is acknowledged; RTT from the SYN unless it was retransmitted (Karn), else
        // from the TSecr (tcp_ack_update_rtt); with neither, tcp_init_transfer falls back to 3 s.
        c.sndUna = th.acknowledgmentNumber
        if c.retransmits == 0 {
            rttEstimate(c, sample: now - (c.retransStamp ?? now))
        } else if c.timestampsOK, let echo = th.options.timestamps?.echoReply, echo != 0 {
            timestampRTTSample(c, echo: echo)
        }
        c.synRetransmissions = c.retransmits
        // The SYN's retransmissions are over (tcp_ack clears icsk_retransmits, retrans_stamp goes).
        c.retransmits = 0
        c.backoff = 0
        c.retransStamp = nil
        cancelRetransmit(c)
        finishConnect(c, .synAckReceived)
        if !seg.payload.isEmpty {
            // Data in a SYN-ACK is discarded unless TCP Fast Open.
            emit(.dropped(.outOfWindow, segment: SegmentRecord(seg), socket: c.id))
        }
        let facts = ackFacts(c)
        switch delayedAckPolicy.delayThirdAck(&c.ack, ThirdAckFacts(writePending: c.writePending,
                                                                     deferAccept: c.options.deferAcceptSeconds > 0),
                                              facts: facts) {
        case .now, .none:
            sendAck(c)
        case let .at(deadline):
            armDelayedAck(c, deadline)
        }
        // A writer blocked in send() wakes and its data goes out, carrying the ACK.
        pushPendingData(c)
    }

    /// `tcp_finish_connect` + `tcp_init_transfer`: ESTABLISHED, buffers and cwnd set up, keepalive armed.
    func finishConnect(_ c: Connection, _ cause: StateCause) {
        setState(c, .established, cause)
        c.establishedAt = now
        c.lastReceived = now
        initTransfer(c)
        emit(.connected(c.id))
    }

    /// `tcp_init_transfer` / `tcp_init_metrics` / `tcp_init_buffer_space`.
    func initTransfer(_ c: Connection) {
        // tcp_init_metrics: "We've failed to get a valid RTT sample from 3WHS" (a retransmitted SYN or
        // SYN-ACK without timestamps, a SYN cookie): RTO = TCP_TIMEOUT_FALLBACK (RFC 6298 §5.7).
        if c.srtt == nil { c.rto = .seconds(3) }
        // RFC 6928 IW10, or 1 after more than one SYN/SYN-ACK retransmission.
        c.cwnd = c.synRetransmissions > 1 ? 1 : 10
        let maxWindow = ReceiveWindow.fromSpace(c.receiveBufferLimit)
        if c.windowClamp >= maxWindow {
            c.windowClamp = maxWindow
            if sysctl.tcp_app_win > 0 && maxWindow > 4 * c.advmss {
                c.windowClamp = max(maxWindow - (maxWindow >> sysctl.tcp_app_win), 4 * c.advmss)
            }
        }
        // "Force reservation of one segment."
        if sysctl.tcp_app_win > 0 && c.windowClamp > 2 * c.advmss && c.windowClamp + c.advmss > maxWindow {
            c.windowClamp = max(2 * c.advmss, maxWindow - c.advmss)
        }
        c.rcvSsthresh = min(c.rcvSsthresh, c.windowClamp)
        if c.options.keepalive { armKeepalive(c) }
    }

    /// A SYN without ACK in SYN_SENT: SYN_RECV, and our SYN again with ACK added (`tcp_send_synack`).
    private func simultaneousOpen(_ c: Connection, _ seg: TCPSegment) {
        let th = seg.tcp
        setState(c, .synRecv, .synReceived)
        c.irs = th.sequenceNumber
        c.rcvNxt = th.sequenceNumber + 1
        c.rcvWup = c.rcvNxt
        c.sndWnd = Int(th.window)
        c.sndWl1 = th.sequenceNumber
        c.maxWindow = c.sndWnd
        applySynOptions(c, seg, crossedSyn: true)
        transmit(c, flags: .synAck, seq: c.iss)
        // Our SYN stays in flight: the retransmission timer keeps running for it.
    }
}

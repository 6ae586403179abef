import TCPPolicy
import TCPWire

extension Host {
    /// `tcp_rcv_synsent_state_process`: our SYN is out; what came back?
    func synSentInput(_ c: Connection, _ seg: borrowing TCPSegment) {
        // One walk of the options serves the timestamps here and the SYN options applied below (the
        // first TS option is what `seg.timestamps` reads too).
        let options = seg.tcp.options.negotiated
        let ts = sysctl.tcp_timestamps != 0 ? options.timestamps : nil
        if seg.tcp.flags.contains(.ack) {
            // RFC 9293 §3.10.7.3: SEG.ACK ≤ ISS or > SND.NXT is unacceptable → <SEQ=SEG.ACK><CTL=RST>.
            if seg.tcp.acknowledgmentNumber <= c.iss || seg.tcp.acknowledgmentNumber > c.sndNxt {
                emitDropped(.unacceptableAckInSynSent, seg, socket: c.id)
                // "Previous FIN/ACK or RST/ACK might be ignored": retry the SYN after TCP_TIMEOUT_MIN.
                if c.retransmits == 0 { armXmit(c, .retransmit, after: .milliseconds(2)) }
                sendReset(replyingTo: seg, interface: c.interface)
                return
            }
            // PAWS for the SYN-ACK: TSecr must echo a TSval we sent since the first SYN.
            if let ts, ts.echoReply != 0,
               !SequenceNumber(ts.echoReply &- c.tsOffset).isBetween(SequenceNumber(c.synStampTS), SequenceNumber(tsClock))
            {
                count(.PAWSActive)
                emitDropped(.pawsActiveRejected, seg, socket: c.id)
                sendReset(replyingTo: seg, interface: c.interface)
                return
            }
            if seg.tcp.flags.contains(.rst) {
                // An acceptable RST: the port is closed (tcp_reset in SYN_SENT → ECONNREFUSED).
                resetConnection(c, .ECONNREFUSED)
                return
            }
            guard seg.tcp.flags.contains(.syn) else {
                emitDropped(.noAckInSynSent, seg, socket: c.id)
                return
            }
            synAckReceived(c, seg, options)
            return
        }
        if seg.tcp.flags.contains(.rst) {
            emitDropped(.rstInSynSentWithoutAck, seg, socket: c.id)
            return
        }
        if seg.tcp.flags.contains(.syn) {
            // Crossed SYNs: a simultaneous open (or a connect to ourselves).
            if let ts, let stamp = c.tsRecentStamp, now - stamp < .seconds(24 * 86400),
               Int32(bitPattern: c.tsRecent &- ts.value) > 1
            {
                emitDropped(.paws, seg, socket: c.id)
                return
            }
            simultaneousOpen(c, seg, options)
            return
        }
        emitDropped(.noAckInSynSent, seg, socket: c.id)
    }

    /// Applies the peer's SYN options to the connection (what `tcp_rcv_synsent_state_process` honours).
    /// - Parameter crossedSyn: the segment is a SYN without ACK (simultaneous open). That branch of the
    ///   kernel function neither clears `rcv_wscale` when the peer has no window scale nor takes the
    ///   timestamp bytes off `advmss`: our SYN-ACK still offers our scale and MSS, and advmss shrinks on
    ///   reaching ESTABLISHED (`tcp_rcv_state_process`, TCP_SYN_RECV).
    private func applySynOptions(_ c: Connection, _ options: NegotiatedOptions, crossedSyn: Bool = false) {
        let opts = SynOptions(options, sysctl: sysctl, userMSS: c.options.maxSegment)
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
    private func synAckReceived(_ c: Connection, _ seg: borrowing TCPSegment, _ options: NegotiatedOptions) {
        c.irs = seg.tcp.sequenceNumber
        c.rcvNxt = seg.tcp.sequenceNumber + 1
        c.rcvWup = c.rcvNxt
        c.sndWl1 = seg.tcp.sequenceNumber
        // The window in a SYN-ACK is never scaled.
        c.sndWnd = Int(seg.tcp.window)
        c.maxWindow = c.sndWnd
        applySynOptions(c, options)
        // tcp_ack: the SYN is acknowledged; RTT from the SYN unless it was retransmitted (Karn), else
        // from the TSecr (tcp_ack_update_rtt); with neither, tcp_init_transfer falls back to 3 s.
        c.sndUna = seg.tcp.acknowledgmentNumber
        c.sndSml = c.sndUna
        if c.retransmits == 0 {
            rttEstimate(c, sampleUs: microsecondsSince(c.synSentAt))
        } else if c.timestampsOK, let echo = options.timestamps?.echoReply, echo != 0 {
            timestampRTTSample(c, echo: echo)
        }
        c.synRetransmissions = c.retransmits
        // The SYN's retransmissions are over (tcp_ack clears icsk_retransmits, retrans_stamp goes).
        c.retransmits = 0
        c.backoff = 0
        c.retransStamp = nil
        clearXmit(c)
        finishConnect(c, .synAckReceived)
        if !seg.payload.isEmpty {
            // Data in a SYN-ACK is discarded unless TCP Fast Open.
            emitDropped(.outOfWindow, seg, socket: c.id)
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
        pushPendingFrames(c)
    }

    /// `tcp_finish_connect` + `tcp_init_transfer`: ESTABLISHED, buffers and cwnd set up, keepalive armed.
    func finishConnect(_ c: Connection, _ cause: StateCause) {
        setState(c, .established, cause)
        // tcp_finish_connect: lrcvtime and lsndtime start now (keepalive and slow start after idle).
        c.ack.lastReceive = now
        c.lsndtime = now
        c.rcvTstamp = now
        initTransfer(c)
        emit(.connected(c.id))
    }

    /// `tcp_init_transfer` / `tcp_init_metrics` / `tcp_init_buffer_space`.
    func initTransfer(_ c: Connection) {
        // tcp_init_metrics: "We've failed to get a valid RTT sample from 3WHS" (a retransmitted SYN or
        // SYN-ACK without timestamps, a SYN cookie): RTO = TCP_TIMEOUT_FALLBACK (RFC 6298 §5.7).
        if c.srttUs == 0 {
            c.rttvarUs = 3_000_000
            c.mdevUs = c.rttvarUs
            c.mdevMaxUs = c.rttvarUs
            c.rto = .seconds(3)
        }
        c.ssthresh = .max  // TCP_INFINITE_SSTHRESH
        c.cwndStamp = now
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
        if c.options.keepalive { armKeepalive(c, after: keepaliveTime(c)) }
    }

    /// A SYN without ACK in SYN_SENT: SYN_RECV, and our SYN again with ACK added (`tcp_send_synack`).
    private func simultaneousOpen(_ c: Connection, _ seg: borrowing TCPSegment, _ options: NegotiatedOptions) {
        setState(c, .synRecv, .synReceived)
        c.irs = seg.tcp.sequenceNumber
        c.rcvNxt = seg.tcp.sequenceNumber + 1
        c.rcvWup = c.rcvNxt
        c.sndWnd = Int(seg.tcp.window)
        c.sndWl1 = seg.tcp.sequenceNumber
        c.maxWindow = c.sndWnd
        applySynOptions(c, options, crossedSyn: true)
        transmit(c, flags: .synAck, seq: c.iss)
        // Our SYN stays in flight: the retransmission timer keeps running for it.
    }
}

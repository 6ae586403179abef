import TCPPolicy
import TCPWire

extension Host {
    /// `tcp_check_req`: a segment for a request sock in NEW_SYN_RECV — a retransmitted SYN, the third
    /// ACK, or something wrong.
    func checkRequest(_ req: RequestSock, tuple: FourTuple, _ seg: borrowing TCPSegment, listener l: Listener) {
        var req = req
        var flags = seg.tcp.flags.intersection([.rst, .syn, .ack])
        var pawsReject = false
        var tsecrReject = false
        var tsVal: UInt32?
        if req.flags.contains(.timestamps) || sysctl.tcp_timestamps != 0, let ts = seg.timestamps {
            tsVal = ts.value
            if ts.echoReply != 0, req.flags.contains(.timestamps) {
                // TSecr must echo one of our SYN-ACKs' TSvals.
                tsecrReject = !SequenceNumber(ts.echoReply).isBetween(SequenceNumber(req.firstSynAckTS), SequenceNumber(req.lastSynAckTS))
            }
            pawsReject = requestPawsReject(req, tsVal: ts.value, rst: flags.contains(.rst))
        }
        // A pure retransmitted SYN: send the SYN-ACK again (rate-limited) and push the timer out.
        if seg.tcp.sequenceNumber == req.irs, flags == .syn, !pawsReject {
            if !outOfWindowRateLimited(&req.lastOutOfWindowAck, counter: .TCPACKSkippedSynRecv, segment: seg) {
                req.numRetrans &+= 1
                count(.RetransSegs)
                count(.TCPSynRetrans)
                requests[tuple] = req
                sendSynAck(req, listener: l, tuple: tuple, retransmission: Int(req.numRetrans))
                req = requests[tuple]!
                req.deadline = now + requestTimeout(req)
                timers.cancel(req.timer)
                req.timer = timers.push(req.deadline, .request(tuple))
            }
            requests[tuple] = req
            emitDropped(.duplicateSyn, seg, socket: l.id)
            return
        }
        // An ACK for something other than our SYN-ACK goes back to the listener, which resets it.
        if flags.contains(.ack), seg.tcp.acknowledgmentNumber != req.iss + 1 {
            emitDropped(.badAckForRequest, seg, socket: l.id)
            sendReset(replyingTo: seg, interface: Int(req.interface))
            return
        }
        // RFC 9293 "first check sequence number", window min(rsk_rcv_wnd, 65535).
        let window = min(Int(req.receiveWindow), 65535)
        if pawsReject || tsecrReject
            || !inWindow(seq: seg.tcp.sequenceNumber, end: seg.tcp.sequenceNumber + seg.length, low: req.rcvNxt, high: req.rcvNxt + window)
        {
            if !flags.contains(.rst),
               !outOfWindowRateLimited(&req.lastOutOfWindowAck, counter: .TCPACKSkippedSynRecv, segment: seg)
            {
                sendRequestAck(req, tuple: tuple)
            }
            requests[tuple] = req
            if pawsReject { count(.PAWSEstab) } else if tsecrReject { count(.TSEcrRejected) }
            emitDropped(pawsReject ? .paws : tsecrReject ? .tsecrRejected : .outOfWindow, seg, socket: l.id)
            return
        }
        if let v = tsVal, !(seg.tcp.sequenceNumber > req.rcvNxt) { req.tsRecent = v }
        // The SYN bit of a segment at the peer's ISN was already consumed.
        if seg.tcp.sequenceNumber == req.irs { flags.remove(.syn) }
        if !flags.isDisjoint(with: [.rst, .syn]) {
            count(.AttemptFails)
            embryonicReset(tuple, seg, isRST: flags.contains(.rst), interface: Int(req.interface), listener: l)
            return
        }
        guard flags.contains(.ack) else {
            requests[tuple] = req
            emitDropped(.noAckFlag, seg, socket: l.id)
            return
        }
        // TCP_DEFER_ACCEPT: a bare ACK is dropped (and remembered) until data comes or time runs out.
        if Int(req.numTimeout) < l.deferAcceptPeriods, seg.tcp.sequenceNumber + seg.length == req.irs + 1 {
            req.flags.insert(.acked)
            requests[tuple] = req
            count(.TCPDeferAcceptDrop)
            emitDropped(.deferAccept, seg, socket: l.id)
            return
        }
        // The request as updated here (its ts_recent) is not written back: the handshake completes
        // with it, and `synRecvSock` stores it only if it survives a full accept queue.
        synRecvSock(l, req, tuple: tuple, seg, cause: .thirdAckReceived)
    }

    /// `tcp_in_window`: the segment starts at or overlaps [low, high], or is empty at the right edge.
    func inWindow(seq: SequenceNumber, end: SequenceNumber, low: SequenceNumber, high: SequenceNumber) -> Bool {
        if seq == low { return true }
        if end > low && seq < high { return true }
        return seq == high && seq == end
    }

    /// `tcp_paws_reject` as `tcp_check_req` calls it: PAWS window 0 (any TSval older than the SYN's),
    /// none when the SYN's TSval was 0 ("some OSes send SYN and SYNACK messages with tsval=0"). RSTs are
    /// spared only when the request's timestamp is older than TCP_PAWS_MSL (60 s): `ts_recent_stamp`
    /// is taken as now − the request's current timeout.
    private func requestPawsReject(_ req: RequestSock, tsVal: UInt32, rst: Bool) -> Bool {
        if Int32(bitPattern: req.tsRecent &- tsVal) <= 0 || req.tsRecent == 0 { return false }
        if rst && requestTimeout(req) >= .seconds(60) { return false }
        return true
    }

    /// `tcp_oow_rate_limited`: one answer per `tcp_invalid_ratelimit` to out-of-window segments — but
    /// data without SYN is never limited ("data packets without SYNs are not likely part of an ACK loop").
    func outOfWindowRateLimited(_ last: inout Instant, counter: MIB, segment seg: borrowing TCPSegment) -> Bool {
        if !seg.payload.isEmpty || seg.tcp.flags.contains(.fin), !seg.tcp.flags.contains(.syn) { return false }
        return outOfWindowRateLimited(&last, counter: counter)
    }

    /// `__tcp_oow_rate_limited`: limits whatever it is (challenge ACKs).
    func outOfWindowRateLimited(_ last: inout Instant, counter: MIB) -> Bool {
        if last != .noOutOfWindowAck, now - last < sysctl.invalidRatelimit {
            count(counter)
            return true
        }
        last = now
        return false
    }

    /// `tcp_v4_reqsk_send_ack`: an ACK from a request sock (seq = ISN + 1), sent from the control socket.
    func sendRequestAck(_ req: RequestSock, tuple: FourTuple) {
        var options = TCPOptionList()
        if req.flags.contains(.timestamps) {
            options.appendAlignedTimestamps(value: tsNow(offset: req.tsOffset), echoReply: req.tsRecent)
        }
        let header = TCPHeader(sourcePort: tuple.local.port, destinationPort: tuple.remote.port, sequenceNumber: req.iss + 1,
                               acknowledgmentNumber: req.rcvNxt, flags: .ack,
                               window: UInt16(min(Int(req.receiveWindow) >> Int(req.receiveWindowScale), 65535)), options: options)
        output(TCPSegment(ip: ipHeader(to: tuple.remote.address, from: tuple.local.address, id: 0), tcp: header),
               interface: Int(req.interface), socket: req.listener)
    }

    /// `embryonic_reset`: a SYN or RST in the request's window ends it (a RST silently, a SYN with a RST).
    private func embryonicReset(_ tuple: FourTuple, _ seg: borrowing TCPSegment, isRST: Bool, interface: Int, listener l: Listener) {
        if !isRST { sendReset(replyingTo: seg, interface: interface) }
        emitDropped(.rstFromPeer, seg, socket: l.id)
        removeRequest(tuple, reason: .rstFromPeer)
        count(.EmbryonicRsts)
    }

    /// `tcp_v4_syn_recv_sock` + `inet_csk_complete_hashdance`: the handshake is complete; make the
    /// child, or, with a full accept queue, drop the ACK (or reset) as the accept-queue policy says.
    /// - Returns: whether a child was made.
    @discardableResult
    func synRecvSock(_ l: Listener, _ req: RequestSock, tuple: FourTuple, _ seg: borrowing TCPSegment, cause: StateCause,
                     fromCookie: Bool = false) -> Bool
    {
        let snap = snapshot(l)
        if snap.acceptQueueIsFull {
            count(.ListenOverflows)
            count(.ListenDrops)
            emitDropped(.acceptQueueFull, seg, socket: l.id)
            switch acceptQueuePolicy.onAcceptQueueFull(tuple, listener: snap) {
            case .dropAndKeepRequest:
                if fromCookie {
                    requests[tuple]?.flags.insert(.acked)
                } else {
                    // `checkRequest`'s request (in the table, though not with its latest ts_recent).
                    var kept = req
                    kept.flags.insert(.acked)
                    requests[tuple] = kept
                }
            case .reset:
                sendReset(replyingTo: seg, interface: Int(req.interface))
                if !fromCookie {
                    removeRequest(tuple, reason: .acceptQueueFull)
                    count(.EmbryonicRsts)
                }
            }
            return false
        }
        let child = createOpenReqChild(l, req, tuple: tuple, seg)
        if !fromCookie { removeRequest(tuple, reason: nil, listener: l) }
        l.acceptQueue.append(child.id, QueuedChild(tuple: tuple, establishedAt: now))
        emit(.childQueued(listener: l.id, child: child.id))
        // tcp_child_process → tcp_rcv_state_process(SYN_RECV): the ACK moves the child to ESTABLISHED
        // and any data in it is queued.
        synRecvEstablish(child, seg, cause: cause)
        wakeBlockedAccept(l)
        return true
    }

    /// `tcp_create_openreq_child`: a full socket cloned from the listener, in SYN_RECV.
    private func createOpenReqChild(_ l: Listener, _ req: RequestSock, tuple: FourTuple, _ seg: borrowing TCPSegment) -> Connection {
        let c = Connection(id: allocateSocketID(), tuple: tuple, interface: Int(req.interface), options: l.optionsBox)
        c.parent = l.id
        c.ipID = UInt16(truncatingIfNeeded: rng.next())
        c.iss = req.iss
        c.sndUna = req.iss + 1
        c.sndNxt = req.iss + 1
        c.sndSml = c.sndNxt
        c.pushSeq = c.sndNxt
        c.writeSeq = c.sndNxt
        c.irs = req.irs
        c.rcvNxt = req.rcvNxt
        c.rcvWup = req.rcvNxt
        c.sndWl1 = req.irs
        c.timestampsOK = req.flags.contains(.timestamps)
        c.sackOK = req.flags.contains(.sack)
        c.windowScaleOK = req.flags.contains(.windowScale)
        c.ecnOK = req.flags.contains(.ecn)
        c.sndWscale = c.windowScaleOK ? req.sendWindowScale : 0
        c.rcvWscale = c.windowScaleOK ? req.receiveWindowScale : 0
        c.tsRecent = req.tsRecent
        // tcp_create_openreq_child: ts_recent_stamp only with timestamps (0 otherwise), so that PAWS and
        // a later TIME_WAIT reuse (`tcp_twsk_unique`) know the connection had none.
        c.tsRecentStamp = c.timestampsOK ? now : nil
        c.tsOffset = req.tsOffset
        c.rcvWnd = Int(req.receiveWindow)
        c.rcvSsthresh = c.rcvWnd
        c.windowClamp = 65535 << Int(c.rcvWscale)
        let clamp = userWindowClamp(l.options)
        if clamp != 0 { c.windowClamp = min(c.windowClamp, clamp) }
        c.receiveBufferLimit = receiveBuffer(l.options)
        c.sendBufferLimit = sendBuffer(l.options)
        c.mssClamp = Int(req.mss)
        c.advmss = advertisedMSS(interface: c.interface, userMSS: l.options.maxSegment)
        c.synRetransmissions = Int(req.numRetrans)
        // tcp_synack_rtt_meas: the SYN-ACK's RTT, unless it was retransmitted (Karn) or never sent by
        // a request (a cookie); then the TSecr may give one (synRecvEstablish), else the RTO falls back
        // to 3 s (initTransfer).
        if req.numRetrans == 0, req.numTimeout == 0, req.deadline != .never {
            rttEstimate(c, sampleUs: microsecondsSince(req.deadline - .seconds(1)))
        }
        if let (ifc, nextHop) = route(to: tuple.remote.address) { primeRoute(c, interface: ifc, nextHop: nextHop) }
        connections[c.id] = c
        established[tuple] = c
        count(.PassiveOpens)
        c.state = .newSynRecv
        setState(c, .synRecv, .thirdAckReceived)
        return c
    }

    /// `tcp_v4_cookie_check` / `cookie_v4_check`: a bare ACK at a listener that may carry a SYN cookie.
    /// - Returns: true if the segment was a valid cookie (handled), false to treat it as a stray ACK.
    func cookieCheck(_ l: Listener, _ seg: borrowing TCPSegment, tuple: FourTuple, interface: Int) -> Bool {
        guard sysctl.tcp_syncookies != 0, let last = l.lastOverflow, now - last < SynCookie.validWindow else { return false }
        guard let mss = SynCookie.check(tuple, ack: seg.tcp.acknowledgmentNumber, seq: seg.tcp.sequenceNumber, now: now,
                                        secrets: cookieSecrets)
        else {
            count(.SyncookiesFailed)
            emitDropped(.badSynCookie, seg, socket: l.id)
            return false
        }
        let tsOffset = isn.timestampOffset(for: tuple, at: now)
        var flags: RequestSock.Flags = []
        var windowScale: UInt8?
        var tsRecent: UInt32 = 0
        if let ts = seg.timestamps {
            guard let decoded = SynCookie.decode(echo: ts.echoReply &- tsOffset, sysctl: sysctl) else { return false }
            flags.insert(.timestamps)
            if decoded.sack { flags.insert(.sack) }
            windowScale = decoded.windowScale
            if windowScale != nil { flags.insert(.windowScale) }
            tsRecent = ts.value
        }
        count(.SyncookiesRecv)
        let advmss = advertisedMSS(interface: interface, userMSS: l.options.maxSegment)
        let rwin = ReceiveWindow.initial(space: ReceiveWindow.fromSpace(receiveBuffer(l.options)),
                                         mss: advmss - (flags.contains(.timestamps) ? 12 : 0), windowClamp: userWindowClamp(l.options),
                                         windowScaling: windowScale != nil, sysctl: sysctl)
        let req = RequestSock(
            listener: l.id, interface: UInt16(interface), mss: mss, iss: seg.tcp.acknowledgmentNumber - 1,
            irs: seg.tcp.sequenceNumber - 1, flags: flags, sendWindowScale: windowScale ?? 0,
            receiveWindowScale: windowScale != nil ? rwin.wscale : 0, numTimeout: 0, numRetrans: 0,
            peerWindow: seg.tcp.window, receiveWindow: UInt32(rwin.window), tsRecent: tsRecent, tsOffset: tsOffset,
            firstSynAckTS: 0, lastSynAckTS: 0, deadline: .never, lastOutOfWindowAck: .noOutOfWindowAck)
        synRecvSock(l, req, tuple: tuple, seg, cause: .cookieAckReceived, fromCookie: true)
        return true
    }
}

import TCPPolicy
import TCPWire

/// The options of a SYN as `tcp_parse_options` keeps them (each only if the sysctl allows it).
struct SynOptions {
    var mss: UInt16
    var windowScale: UInt8?
    var sack: Bool
    var timestamps: (value: UInt32, echo: UInt32)?

    // Inlined, so that only the three sysctls are read (a call would copy the whole `Sysctls`).
    @inline(__always) init(_ list: TCPOptionList, sysctl: Sysctls, userMSS: Int?) {
        self.init(list.negotiated, sysctl: sysctl, userMSS: userMSS)
    }

    /// From options already read (one walk serves the SYN's timestamps and these).
    @inline(__always) init(_ options: NegotiatedOptions, sysctl: Sysctls, userMSS: Int?) {
        // TCP_MSS_DEFAULT when absent (RFC 9293 §3.7.1); a zero MSS option is ignored.
        var mss: UInt16 = 536
        if let m = options.maxSegmentSize, m != 0 { mss = m }
        if let user = userMSS, user < Int(mss) { mss = UInt16(user) }
        self.mss = mss
        // Values above TCP_MAX_WSCALE are clamped to 14 (RFC 7323 §2.3).
        windowScale = sysctl.tcp_window_scaling != 0 ? options.windowScale.map { min($0, 14) } : nil
        sack = sysctl.tcp_sack != 0 && options.sackPermitted
        timestamps = sysctl.tcp_timestamps != 0 ? options.timestamps.map { ($0.value, $0.echoReply) } : nil
    }
}

extension Host {
    func snapshot(_ l: Listener) -> ListenerSnapshot {
        ListenerSnapshot(synQueueLength: l.synQueueLength, youngCount: l.young, acceptQueueLength: l.acceptQueue.count,
                         backlog: l.backlog, maxSynBacklog: sysctl.tcp_max_syn_backlog, syncookies: sysctl.tcp_syncookies,
                         abortOnOverflow: sysctl.tcp_abort_on_overflow != 0)
    }

    /// The MSS we advertise: the route's (MTU − 40) clamped by TCP_MAXSEG (`tcp_mss_clamp`).
    func advertisedMSS(interface: Int, userMSS: Int?) -> Int {
        let routeMSS = interfaces[interface].mtu - 40
        return userMSS.map { min($0, routeMSS) } ?? routeMSS
    }

    /// `tcp_conn_request`: a SYN reached listener `l`. Asks the accept-queue policy, then makes a request
    /// sock and sends a SYN-ACK, or answers with a SYN cookie, or drops.
    func connRequest(_ l: Listener, _ seg: borrowing TCPSegment, tuple: FourTuple, interface: Int) {
        let opts = SynOptions(seg.tcp.options, sysctl: sysctl, userMSS: l.options.maxSegment)
        let before = snapshot(l)
        let facts = SynFacts(tuple: tuple, now: now, requestsFromSource: l.requestsPerSource?[tuple.remote.address] ?? 0)
        var verdict = acceptQueuePolicy.onSyn(facts, listener: before)
        if timeWaitISN != nil {
            // "TW buckets are converted to open requests without limitations, they conserve resources and
            // peer is evidently real one": no SYN-queue, cookie or proven-peer check (the accept queue's
            // still applies).
            switch verdict {
            case .cookie, .drop(.synQueueFull), .drop(.synBacklogReserve): verdict = .queue
            default: break
            }
        }
        let wouldCookie = (before.syncookies == 2 || before.synQueueIsFull) && before.syncookies != 0
        switch verdict {
        case let .drop(reason):
            switch reason {
            case .acceptQueueFull:
                if wouldCookie { count(.TCPReqQFullDoCookies) }
                count(.ListenOverflows)
            case .synQueueFull: count(.TCPReqQFullDrop)
            default: break
            }
            count(.ListenDrops)
            emitDropped(reason, seg, socket: l.id)
        case .reset:
            emitDropped(.policyRefused, seg, socket: l.id)
            sendReset(replyingTo: seg, interface: interface)
        case .cookie:
            sendCookie(l, seg, tuple: tuple, opts: opts, interface: interface)
        case .queue:
            queueRequest(l, seg, tuple: tuple, opts: opts, interface: interface)
        }
    }

    private func queueRequest(_ l: Listener, _ seg: borrowing TCPSegment, tuple: FourTuple, opts: SynOptions, interface: Int) {
        var flags: RequestSock.Flags = [.young]
        if opts.timestamps != nil { flags.insert(.timestamps) }
        if opts.sack { flags.insert(.sack) }
        if opts.windowScale != nil { flags.insert(.windowScale) }
        // ECN (RFC 3168 §6.1.1): the SYN asks with ECE+CWR and its IP header is not ECT-marked.
        if seg.tcp.flags.isSuperset(of: [.ece, .cwr]), seg.ip.ecn == .notECT, sysctl.tcp_ecn != 0 { flags.insert(.ecn) }
        let mss = advertisedMSS(interface: interface, userMSS: l.options.maxSegment)
        let rwin = ReceiveWindow.initial(space: ReceiveWindow.fromSpace(receiveBuffer(l.options)),
                                         mss: mss - (opts.timestamps != nil ? 12 : 0), windowClamp: userWindowClamp(l.options),
                                         windowScaling: opts.windowScale != nil, sysctl: sysctl)
        let tsOffset = isn.timestampOffset(for: tuple, at: now)
        let ts = tsNow(offset: tsOffset)
        var req = RequestSock(
            listener: l.id, interface: UInt16(interface), mss: opts.mss,
            iss: timeWaitISN ?? isn.initialSequenceNumber(for: tuple, at: now), irs: seg.tcp.sequenceNumber, flags: flags,
            sendWindowScale: opts.windowScale ?? 0, receiveWindowScale: opts.windowScale != nil ? rwin.wscale : 0,
            numTimeout: 0, numRetrans: 0, peerWindow: seg.tcp.window, receiveWindow: UInt32(rwin.window),
            tsRecent: opts.timestamps?.value ?? 0, tsOffset: tsOffset, firstSynAckTS: ts, lastSynAckTS: ts,
            deadline: now + .seconds(1), lastOutOfWindowAck: .noOutOfWindowAck)
        req.timer = timers.push(req.deadline, .request(tuple))
        requests[tuple] = req
        l.synQueueLength += 1
        l.young += 1
        if l.requestsPerSource != nil { l.requestsPerSource![tuple.remote.address, default: 0] += 1 }
        emit(.requestQueued(listener: l.id, tuple: tuple))
        sendSynAck(req, listener: l, tuple: tuple, retransmission: 0)
        // TCP_TIMEOUT_INIT: the first SYN-ACK retransmission after 1 s (queued above).
        emit(.timerArmed(.synAck, socket: l.id, tuple: tuple, deadline: req.deadline))
    }

    /// `tcp_make_synack` for a request sock: only the options the peer offered, an unscaled window,
    /// seq = our ISN, ack = peer ISN + 1, IP ID 0 (DF set, no connected socket).
    /// - Parameter l: the request's listener (every caller holds it: no lookup).
    func sendSynAck(_ req: RequestSock, listener l: Listener, tuple: FourTuple, retransmission: Int, cookieTS: UInt32? = nil) {
        var req = req
        let ts = cookieTS.map { $0 &+ req.tsOffset } ?? tsNow(offset: req.tsOffset)
        let options = Self.synOptions(
            mss: advertisedMSS(interface: Int(req.interface), userMSS: l.options.maxSegment),
            timestamps: req.flags.contains(.timestamps) ? (ts, req.tsRecent) : nil,
            sack: req.flags.contains(.sack),
            windowScale: req.flags.contains(.windowScale) ? req.receiveWindowScale : nil)
        var flags = TCPFlags.synAck
        if req.flags.contains(.ecn) { flags.insert(.ece) }
        let header = TCPHeader(sourcePort: tuple.local.port, destinationPort: tuple.remote.port, sequenceNumber: req.iss,
                               acknowledgmentNumber: req.rcvNxt, flags: flags,
                               window: UInt16(min(req.receiveWindow, 65535)), options: options)
        output(TCPSegment(ip: ipHeader(to: tuple.remote.address, from: tuple.local.address, id: 0), tcp: header),
               interface: Int(req.interface), socket: req.listener, retransmission: retransmission)
        // Every caller passes the request as the table holds it (or is about to store it) as far as
        // `lastSynAckTS` goes: when it already holds this TSval (a first SYN-ACK, sent the
        // millisecond the request was made), there is nothing to write back.
        if cookieTS == nil, req.lastSynAckTS != ts {
            req.lastSynAckTS = ts
            requests[tuple]?.lastSynAckTS = ts
        }
    }

    /// A SYN-ACK whose ISN is a SYN cookie; no state is kept and it is never retransmitted.
    private func sendCookie(_ l: Listener, _ seg: borrowing TCPSegment, tuple: FourTuple, opts: SynOptions, interface: Int) {
        count(.TCPReqQFullDoCookies)
        if sysctl.tcp_syncookies != 2, !l.synFloodWarned {
            // "Possible SYN flooding on port …. Sending cookies." — once per listener.
            l.synFloodWarned = true
        }
        l.lastOverflow = now  // tcp_synq_overflow
        var opts = opts
        if opts.timestamps == nil {
            // Without timestamps a cookie cannot carry WS or SACK: tcp_clear_options.
            opts.windowScale = nil
            opts.sack = false
        }
        let cookie = SynCookie.make(tuple, seq: seg.tcp.sequenceNumber, mss: opts.mss, now: now, secrets: cookieSecrets)
        let mss = advertisedMSS(interface: interface, userMSS: l.options.maxSegment)
        let rwin = ReceiveWindow.initial(space: ReceiveWindow.fromSpace(receiveBuffer(l.options)),
                                         mss: mss - (opts.timestamps != nil ? 12 : 0), windowClamp: userWindowClamp(l.options),
                                         windowScaling: opts.windowScale != nil, sysctl: sysctl)
        var flags: RequestSock.Flags = []
        if opts.timestamps != nil { flags.insert(.timestamps) }
        if opts.sack { flags.insert(.sack) }
        if opts.windowScale != nil { flags.insert(.windowScale) }
        let req = RequestSock(
            listener: l.id, interface: UInt16(interface), mss: cookie.mss, iss: cookie.isn, irs: seg.tcp.sequenceNumber,
            flags: flags, sendWindowScale: opts.windowScale ?? 0, receiveWindowScale: opts.windowScale != nil ? rwin.wscale : 0,
            numTimeout: 0, numRetrans: 0, peerWindow: seg.tcp.window, receiveWindow: UInt32(rwin.window),
            tsRecent: opts.timestamps?.value ?? 0, tsOffset: isn.timestampOffset(for: tuple, at: now),
            firstSynAckTS: 0, lastSynAckTS: 0, deadline: .never, lastOutOfWindowAck: .noOutOfWindowAck)
        let cookieTS = opts.timestamps != nil
            // The cookie carries the peer's window scale back to us (cookie_init_timestamp).
            ? SynCookie.timestamp(clock: tsClock, windowScale: opts.windowScale, sack: opts.sack, ecn: false)
            : nil
        sendSynAck(req, listener: l, tuple: tuple, retransmission: 0, cookieTS: cookieTS ?? 0)
        count(.SyncookiesSent)
    }

    /// Removes a request sock from its listener's SYN queue (`inet_csk_reqsk_queue_drop`).
    /// - Parameter known: the request's listener when the caller holds it (spares the lookup).
    func removeRequest(_ tuple: FourTuple, reason: DropReason?, listener known: Listener? = nil) {
        guard let req = requests.removeValue(forKey: tuple) else { return }
        timers.cancel(req.timer)
        if let l = known ?? listeners[req.listener] {
            l.synQueueLength -= 1
            if req.flags.contains(.young) { l.young -= 1 }
            if l.requestsPerSource != nil {
                let n = (l.requestsPerSource![tuple.remote.address] ?? 1) - 1
                l.requestsPerSource![tuple.remote.address] = n > 0 ? n : nil
            }
        }
        emit(.requestRemoved(listener: req.listener, tuple: tuple, reason: reason))
    }
}

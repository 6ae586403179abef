import TCPPolicy
import TCPWire

extension Host {
    /// `tcp_v4_connect` + `tcp_connect`: an active open. The socket is in SYN_SENT with its SYN sent
    /// (or waiting for ARP) when this returns; `.connected` or `.error` events tell how it ends.
    /// - Parameters:
    ///   - localPort: bind() before connect(); nil picks an ephemeral port from `ip_local_port_range`.
    public func connect(to remote: SocketAddress, localPort: UInt16? = nil, options: SocketOptions = SocketOptions(),
                        at time: Instant) throws(SocketError) -> SocketID
    {
        advance(time)
        guard remote.port != 0 else { throw .EINVAL }
        guard !remote.address.isMulticast, remote.address != .limitedBroadcast, remote.address != .any,
              let (interface, nextHop) = route(to: remote.address)
        else { throw .ENETUNREACH }
        let localAddress = interfaces[interface].address.address
        let port: UInt16
        var reused: TimeWaitSock?
        if let p = localPort {
            if listenersByPort[p] != nil && !options.reuseAddress { throw .EADDRINUSE }
            let tuple = FourTuple(local: SocketAddress(localAddress, p), remote: remote)
            if established[tuple] != nil { throw .EADDRNOTAVAIL }
            if let tw = timeWaits[tuple] {
                // bind() then connect(): a TIME_WAIT 4-tuple blocks the bind unless SO_REUSEADDR; with it,
                // `__inet_check_established` lets a timestamped one be reused whatever tcp_tw_reuse says.
                guard options.reuseAddress, tw.reuseAddress else { throw .EADDRINUSE }
                guard timeWaitUnique(tw, tuple, bound: true) else { throw .EADDRNOTAVAIL }
                reused = tw
            }
            port = p
        } else {
            guard let (p, tw) = ephemeralPort(local: localAddress, remote: remote) else { throw .EADDRNOTAVAIL }
            port = p
            reused = tw
        }
        let tuple = FourTuple(local: SocketAddress(localAddress, port), remote: remote)
        let c = Connection(id: allocateSocketID(), tuple: tuple, interface: interface,
                           options: options == defaultOptions.value ? defaultOptions : OptionsBox(options))
        c.ipID = UInt16(truncatingIfNeeded: rng.next())
        // Linux moves to SYN_SENT before it hashes the port (inet_hash_connect).
        setState(c, .synSent, .connect)
        c.iss = isn.initialSequenceNumber(for: tuple, at: now)
        if let tw = reused {
            // tcp_twsk_unique: the new incarnation starts above the old one's sequence space, with its
            // timestamps (PAWS keeps old duplicates out).
            var seq = tw.sndNxt + UInt32(65535 + 2)
            if seq.rawValue == 0 { seq = seq + 1 }
            c.iss = seq
            c.tsRecent = tw.tsRecent
            c.tsRecentStamp = tw.tsRecentStamp
            killTimeWait(tuple, tw, .timeWaitReused)
            count(.TWRecycled)
        }
        connections[c.id] = c
        established[tuple] = c
        c.tsOffset = sysctl.tcp_timestamps == 1 ? isn.timestampOffset(for: tuple, at: now) : 0
        connectInit(c)
        primeRoute(c, interface: interface, nextHop: nextHop)
        // tcp_connect: queue the SYN, send it, count, arm the RTO.
        c.sndNxt = c.iss + 1
        c.writeSeq = c.sndNxt
        c.sndSml = c.sndNxt
        c.pushSeq = c.sndNxt
        c.retransStamp = now
        c.synSentAt = now
        c.synStampTS = tsClock
        transmit(c, flags: .syn, seq: c.iss)
        count(.ActiveOpens)
        armXmit(c, .retransmit, after: c.rto)
        return c.id
    }

    /// `tcp_twsk_unique`: may a connect() reuse this timewait socket's 4-tuple? Only if it used
    /// timestamps, and (for an ephemeral port) `tcp_tw_reuse` allows it (2: loopback only) and
    /// `tcp_tw_reuse_delay` has passed since it entered TIME_WAIT. Never in the FIN_WAIT2 substate.
    func timeWaitUnique(_ tw: TimeWaitSock, _ tuple: FourTuple, bound: Bool) -> Bool {
        var reuse = sysctl.tcp_tw_reuse
        if tw.substate == .finWait2 { reuse = 0 }
        if reuse == 2 {
            let loopback = tuple.local.address.rawValue >> 24 == 127 || tuple.remote.address.rawValue >> 24 == 127
            if !loopback { reuse = 0 }
        }
        guard tw.tsRecentStamp != nil else { return false }
        if bound { return true }
        return reuse != 0 && now.milliseconds > tw.entryStamp.milliseconds + Int64(sysctl.tcp_tw_reuse_delay)
    }

    /// `tcp_connect_init`: MSS, buffers, window and scale, RTO.
    func connectInit(_ c: Connection) {
        c.advmss = advertisedMSS(interface: c.interface, userMSS: c.options.maxSegment)
        c.mssClamp = c.options.maxSegment ?? 536
        c.mssCache = min(c.advmss, 536)
        c.receiveBufferLimit = receiveBuffer(c.options)
        c.sendBufferLimit = sendBuffer(c.options)
        let w = ReceiveWindow.initial(space: ReceiveWindow.fromSpace(c.receiveBufferLimit), mss: c.advmss,
                                      windowClamp: userWindowClamp(c.options), windowScaling: sysctl.tcp_window_scaling != 0,
                                      sysctl: sysctl)
        c.rcvWnd = w.window
        c.windowClamp = w.clamp
        c.rcvWscale = w.wscale
        c.rcvSsthresh = c.rcvWnd
        c.sndWnd = 0
        c.sndUna = c.iss
        c.sndNxt = c.iss
        c.rcvNxt = SequenceNumber(0)
        c.rcvWup = SequenceNumber(0)
        c.rto = .seconds(1)  // TCP_TIMEOUT_INIT
        c.retransmits = 0
        // rcv_mss guess: min(advmss, mss_cache, rcv_wnd / 2, 536), at least TCP_MIN_MSS.
        c.ack.rcvMSS = max(min(c.advmss, c.mssCache, c.rcvWnd / 2, 536), 88)
    }

    /// `__inet_hash_connect`: a free port from `ip_local_port_range`, trying ports of one parity first
    /// (even ones; bind(0) prefers odd ones), from an offset that moves past each port handed out
    /// (`table_perturb`, plus a little randomness). A port whose 4-tuple is in TIME_WAIT is taken if
    /// `tcp_twsk_unique` allows it; the timewait socket is returned.
    func ephemeralPort(local: IPv4Address, remote: SocketAddress) -> (UInt16, TimeWaitSock?)? {
        let low = sysctl.ip_local_port_range.low, high = sysctl.ip_local_port_range.high + 1
        guard low < high, low > 0, high <= 65536 else { return nil }
        var remaining = UInt32(high - low)
        if remaining > 1 { remaining &= ~1 }
        let portOffset = UInt32(truncatingIfNeeded: remote.address.rawValue &* 2654435761 &+ UInt32(remote.port))
        var offset = (portHint &+ portOffset) % remaining & ~1
        while true {
            var i: UInt32 = 0
            var port = UInt32(low) + offset
            while i < remaining {
                if port >= UInt32(high) { port -= remaining }
                let p = UInt16(port)
                // (A host without listeners, as a client mostly is, skips the hash.)
                if listenersByPort.isEmpty || listenersByPort[p] == nil {
                    let tuple = FourTuple(local: SocketAddress(local, p), remote: remote)
                    if established[tuple] == nil {
                        // (A host with no timewait socket, as a server's clients mostly are, skips that hash.)
                        let tw = timeWaitCount == 0 ? nil : timeWaits[tuple]
                        if tw == nil || timeWaitUnique(tw!, tuple, bound: false) {
                            // "a little bit of randomness to the next source port".
                            let step = max(i, UInt32(truncatingIfNeeded: rng.next() % 8) * 2)
                            portHint &+= step &+ 2
                            return (p, tw)
                        }
                    }
                }
                i += 2
                port += 2
            }
            offset += 1
            guard offset & 1 == 1, remaining > 1 else { return nil }
        }
    }
}

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
              let (interface, _) = route(to: remote.address)
        else { throw .ENETUNREACH }
        let localAddress = interfaces[interface].address.address
        let port: UInt16
        if let p = localPort {
            if listenersByPort[p] != nil && !options.reuseAddress { throw .EADDRINUSE }
            guard established[FourTuple(local: SocketAddress(localAddress, p), remote: remote)] == nil else { throw .EADDRNOTAVAIL }
            port = p
        } else {
            guard let p = ephemeralPort(local: localAddress, remote: remote) else { throw .EADDRNOTAVAIL }
            port = p
        }
        let tuple = FourTuple(local: SocketAddress(localAddress, port), remote: remote)
        let c = Connection(id: allocateSocketID(), tuple: tuple, interface: interface, options: options)
        c.ipID = UInt16(truncatingIfNeeded: rng.next())
        connections[c.id] = c
        established[tuple] = c.id
        // Linux moves to SYN_SENT before it hashes the port (inet_hash_connect).
        setState(c, .synSent, .connect)
        c.iss = isn.initialSequenceNumber(for: tuple, at: now)
        c.tsOffset = sysctl.tcp_timestamps == 1 ? isn.timestampOffset(for: tuple, at: now) : 0
        connectInit(c)
        // tcp_connect: queue the SYN, send it, count, arm the RTO.
        c.sndNxt = c.iss + 1
        c.sndMax = c.sndNxt
        c.retransStamp = now
        c.synStampTS = tsClock
        transmit(c, flags: .syn, seq: c.iss)
        count(.ActiveOpens)
        armRetransmit(c, c.rto)
        return c.id
    }

    /// `tcp_connect_init`: MSS, buffers, window and scale, RTO.
    func connectInit(_ c: Connection) {
        c.advmss = advertisedMSS(interface: c.interface, userMSS: c.options.maxSegment)
        c.mssClamp = c.options.maxSegment ?? 536
        c.mssCache = min(c.advmss, 536)
        c.receiveBufferLimit = receiveBuffer(c.options)
        c.sendBufferLimit = sendBuffer(c.options)
        let w = ReceiveWindow.initial(space: ReceiveWindow.fromSpace(c.receiveBufferLimit), mss: c.advmss,
                                      windowClamp: 0, windowScaling: sysctl.tcp_window_scaling != 0, sysctl: sysctl)
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

    /// `__inet_hash_connect`: a free port from `ip_local_port_range`, trying even ports first (odd ones
    /// are left for bind(0)), starting from a rotating offset.
    func ephemeralPort(local: IPv4Address, remote: SocketAddress) -> UInt16? {
        let low = sysctl.ip_local_port_range.low, high = sysctl.ip_local_port_range.high
        guard low <= high, low > 0, high <= 65535 else { return nil }
        let range = UInt32(high - low + 1)
        portHint &+= 2
        let offset = (portHint &+ UInt32(truncatingIfNeeded: remote.address.rawValue &* 2654435761)) % range & ~1
        for parity in [0, 1] as [UInt32] {
            var i: UInt32 = parity
            while i < range {
                let port = UInt16(UInt32(low) + (offset + i) % range)
                if listenersByPort[port] == nil,
                   established[FourTuple(local: SocketAddress(local, port), remote: remote)] == nil
                {
                    return port
                }
                i += 2
            }
        }
        return nil
    }
}

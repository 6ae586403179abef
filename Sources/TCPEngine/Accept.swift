import TCPPolicy
import TCPWire

extension Host {
    /// `bind` + `listen`: a listener on `port` (and `address`, or every address with `.any`).
    /// The backlog is clamped by `somaxconn`; a negative backlog means somaxconn (`__sys_listen`).
    public func listen(port: UInt16, address: IPv4Address = .any, backlog: Int, options: SocketOptions = SocketOptions(),
                       at time: Instant) throws(SocketError) -> SocketID
    {
        advance(time)
        guard address == .any || interfaces.contains(where: { $0.address.address == address }) else { throw .EADDRNOTAVAIL }
        if let ids = listenersByPort[port], ids.contains(where: {
            let other = listeners[$0]!.local.address
            return other == .any || address == .any || other == address
        }) {
            throw .EADDRINUSE
        }
        let id = allocateSocketID()
        let l = Listener(id: id, local: SocketAddress(address, port), backlog: clampBacklog(backlog), options: options)
        l.deferAcceptPeriods = Self.secondsToRetransmissions(options.deferAcceptSeconds)
        if acceptQueuePolicy.wantsPerSourceCounts { l.requestsPerSource = [:] }
        listeners[id] = l
        listenersByPort[port, default: []].append(id)
        listenerLookupCache = nil
        emit(.stateChanged(socket: id, tuple: nil, from: .close, to: .listen, cause: .listen))
        return id
    }

    /// Calling listen() again on a listener only updates its backlog.
    public func relisten(_ id: SocketID, backlog: Int, at time: Instant) throws(SocketError) {
        advance(time)
        guard let l = listeners[id] else { throw .EINVAL }
        l.backlog = clampBacklog(backlog)
    }

    private func clampBacklog(_ backlog: Int) -> Int {
        // (unsigned)backlog: a negative value becomes huge, then somaxconn.
        backlog < 0 ? sysctl.somaxconn : min(backlog, sysctl.somaxconn)
    }

    /// `secs_to_retrans`: TCP_DEFER_ACCEPT seconds as a count of SYN-ACK retransmission periods
    /// (1, 2, 4 … s, capped at TCP_RTO_MAX).
    static func secondsToRetransmissions(_ seconds: Int, timeout: Int = 1, rtoMax: Int = 120) -> Int {
        guard seconds > 0 else { return 0 }
        var timeout = timeout
        var period = timeout
        var result = 1
        while seconds > period && result < 255 {
            result += 1
            timeout <<= 1
            if timeout > rtoMax { timeout = rtoMax }
            period += timeout
        }
        return result
    }

    /// `inet_csk_accept`: the child the accept-queue policy picks (Linux: the oldest).
    /// - Parameter blocking: when the queue is empty, a non-blocking call throws EAGAIN; a blocking one
    ///   returns nil and the next child is handed over with an `.accepted` event (a woken accept()).
    public func accept(_ listener: SocketID, blocking: Bool? = nil, at time: Instant) throws(SocketError) -> SocketID? {
        advance(time)
        guard let l = listeners[listener] else { throw connections[listener] != nil ? .EINVAL : .EBADF }
        if l.acceptQueue.isEmpty {
            if blocking ?? !l.options.nonBlocking {
                l.blockedAccepts += 1
                return nil
            }
            throw .EAGAIN
        }
        return dequeueChild(l)
    }

    private func dequeueChild(_ l: Listener) -> SocketID {
        let index = acceptQueuePolicy.selectChild(l.acceptQueue.infos)
        let child = l.acceptQueue.remove(at: (0..<l.acceptQueue.count).contains(index) ? index : 0)
        if let c = connections[child] {
            c.parent = nil
            c.accepted = true
        }
        emit(.accepted(listener: l.id, child: child))
        return child
    }

    /// A child arrived: hand it to an accept() that is waiting.
    func wakeBlockedAccept(_ l: Listener) {
        while l.blockedAccepts > 0, !l.acceptQueue.isEmpty {
            l.blockedAccepts -= 1
            _ = dequeueChild(l)
        }
    }

    /// `inet_csk_listen_stop`: every child still queued is reset and destroyed; requests in the SYN queue
    /// die on their next timer run (or when a segment finds them), as in Linux.
    func closeListener(_ l: Listener) {
        emit(.stateChanged(socket: l.id, tuple: nil, from: .listen, to: .close, cause: .close))
        for child in l.acceptQueue.removeAll() {
            guard let c = connections[child] else { continue }
            if c.state == .established || c.state == .synRecv || c.state == .closeWait {
                sendActiveReset(c)
            }
            c.orphan = true
            destroy(c, .listenerClosed)
        }
        listeners[l.id] = nil
        listenerLookupCache = nil
        listenersByPort[l.local.port]?.removeAll { $0 == l.id }
        if listenersByPort[l.local.port]?.isEmpty == true { listenersByPort[l.local.port] = nil }
    }
}

import TCPPolicy
import TCPWire

extension Host {
    /// `tcp_v4_rcv`: find the socket for a segment in the kernel's order — the established hash
    /// (full sockets, timewait sockets, and request socks in NEW_SYN_RECV), then the listeners — and hand it over.
    /// A segment nobody wants draws a RST (`tcp_v4_send_reset`), unless it is itself a RST.
    @inline(__always) func tcpV4Receive(_ seg: borrowing TCPSegment, interface: Int, linkBroadcast: Bool) {
        count(.InSegs)
        let tuple = FourTuple(local: seg.to, remote: seg.from)
        if let c = established[tuple] {
            emitReceived(seg, socket: c.id)
            connectionInput(c, seg)
            return
        }
        if timeWaitCount > 0, let tw = timeWaits[tuple] {
            emitReceived(seg, socket: tw.id)
            timeWaitInput(tuple, tw, seg)
            return
        }
        var recorded = false
        if let req = requests[tuple] {
            emitReceived(seg, socket: req.listener)
            recorded = true
            if let listener = listeners[req.listener] {
                checkRequest(req, tuple: tuple, seg, listener: listener)
                return
            }
            // The listener is gone: drop the request and look again (`inet_csk_reqsk_queue_drop_and_put`).
            removeRequest(tuple, reason: .listenerClosed)
        }
        if let listener = lookupListener(seg.to) {
            if !recorded { emitReceived(seg, socket: listener.id) }
            listenInput(listener, seg, tuple: tuple, interface: interface, broadcast: linkBroadcast)
            return
        }
        if !recorded { emitReceived(seg, socket: nil) }
        emitDropped(.noSocket, seg, socket: nil)
        sendReset(replyingTo: seg, interface: interface)
    }

    /// `__inet_lookup_listener`: a listener bound to the exact address beats one bound to the wildcard.
    func lookupListener(_ local: SocketAddress) -> Listener? {
        if let cached = listenerLookupCache, cached.local == local { return cached.listener }
        let found = findListener(local)
        listenerLookupCache = (local, found)
        return found
    }

    private func findListener(_ local: SocketAddress) -> Listener? {
        guard let ids = listenersByPort[local.port] else { return nil }
        var wildcard: Listener?
        for id in ids {
            guard let l = listeners[id] else { continue }
            if l.local.address == local.address { return l }
            if l.local.address == .any { wildcard = l }
        }
        return wildcard
    }

    /// `tcp_rcv_state_process` for a listener (state LISTEN).
    func listenInput(_ l: Listener, _ seg: borrowing TCPSegment, tuple: FourTuple, interface: Int, broadcast: Bool) {
        let flags = seg.tcp.flags
        if flags.contains(.ack) {
            // A bare ACK may carry a SYN cookie (tcp_v4_cookie_check); anything else draws a RST.
            if !flags.contains(.syn), !flags.contains(.rst), cookieCheck(l, seg, tuple: tuple, interface: interface) { return }
            if !flags.contains(.rst) { emitDropped(.ackToListener, seg, socket: l.id) }
            sendReset(replyingTo: seg, interface: interface)
            return
        }
        if flags.contains(.rst) {
            emitDropped(.rstToListener, seg, socket: l.id)
            return
        }
        guard flags.contains(.syn) else {
            emitDropped(.noAckFlag, seg, socket: l.id)
            return
        }
        if flags.contains(.fin) {
            emitDropped(.synFinToListener, seg, socket: l.id)
            return
        }
        // tcp_v4_conn_request: SYNs to broadcast or multicast addresses are dropped.
        if broadcast || seg.ip.destination.isMulticast || seg.ip.destination == .limitedBroadcast {
            emitDropped(.broadcastSyn, seg, socket: l.id)
            return
        }
        connRequest(l, seg, tuple: tuple, interface: interface)
    }
}

import TCPPolicy
import TCPWire

/// `shutdown()`'s `how`.
public enum ShutdownHow: Sendable {
    case read, write, readWrite
}

extension Host {
    /// `tcp_close`: unread data → RST (RFC 2525 §2.17), SO_LINGER with 0 → RST (`tcp_disconnect`),
    /// otherwise a FIN after the queued data; the socket lives on as an orphan through FIN_WAIT1/2,
    /// CLOSING or LAST_ACK, then TIME_WAIT.
    public func close(_ id: SocketID, at time: Instant) {
        advance(time)
        // An id names a connection or a listener, never both: the common case is looked up first.
        guard let c = connections[id] else {
            if let l = listeners[id] { closeListener(l) }
            return
        }
        if c.isTimeWaitSock {
            // The user's socket is long closed in Linux; the timewait socket goes its own way.
            connections[id] = nil
            if var tw = timeWaits[c.tuple], tw.id == id {
                tw.held = false
                timeWaits[c.tuple] = tw
            }
            return
        }
        if c.orphan {
            connections[id] = nil
            return
        }
        c.shutdownRead = true
        let dataWasUnread = !c.receiveQueue.isEmpty
        c.receiveQueue.removeAll()
        if c.state == .close {
            c.orphan = true
            connections[id] = nil
            return
        }
        if dataWasUnread {
            // "Unread data was tossed, zap the connection."
            count(.TCPAbortOnClose)
            setState(c, .close, .close)
            sendActiveReset(c)
        } else if c.options.linger?.on == true, c.options.linger?.seconds == 0 {
            // "Check zero linger _after_ checking for unread data."
            disconnect(c)
            count(.TCPAbortOnData)
        } else if closeState(c) {
            sendFin(c)
        }
        // adjudge_to_death: the socket is an orphan now.
        c.orphan = true
        if c.state == .finWait2 {
            if let l2 = c.options.linger2, l2 < 0 {
                setState(c, .close, .close)
                sendActiveReset(c)
                count(.TCPAbortOnLinger)
            } else {
                orphanFinWait2(c)
                if c.isTimeWaitSock { return }
            }
        }
        if c.state == .close { done(c, .close) }
    }

    /// `shutdown()`: SHUT_WR sends a FIN (the socket stays open for reading); SHUT_RD makes reads
    /// return end-of-file once the queue is empty.
    public func shutdown(_ id: SocketID, _ how: ShutdownHow, at time: Instant) throws(SocketError) {
        advance(time)
        guard let c = connections[id] else { throw listeners[id] != nil ? .ENOTCONN : .EBADF }
        guard c.state != .synSent, c.state != .close, !c.isTimeWaitSock else { throw .ENOTCONN }
        if how != .write { c.shutdownRead = true }
        // tcp_shutdown: SEND_SHUTDOWN in ESTABLISHED, SYN_RECV or CLOSE_WAIT sends the FIN.
        if how != .read, c.state == .established || c.state == .closeWait || c.state == .synRecv, closeState(c) {
            sendFin(c)
        }
    }

    /// `tcp_close_state`: the state after the user closes, and whether a FIN goes.
    private func closeState(_ c: Connection) -> Bool {
        let cause: StateCause = c.orphan ? .close : .shutdown
        switch c.state {
        case .established, .synRecv:
            setState(c, .finWait1, cause)
            return true
        case .closeWait:
            setState(c, .lastAck, cause)
            return true
        case .synSent, .timeWait, .listen, .newSynRecv:
            setState(c, .close, cause)
            return false
        default:
            return false
        }
    }

    /// `tcp_send_fin`: the FIN rides on the last unsent segment, or goes alone; pushed without Nagle.
    private func sendFin(_ c: Connection) {
        c.finQueued = true
        c.writeSeq += 1
        pushPendingFrames(c, nagle: .off)
    }

    /// `tcp_disconnect` (close() with linger 0): RST where the peer holds state, ECONNRESET, CLOSE.
    private func disconnect(_ c: Connection) {
        let old = c.state
        setState(c, .close, .close)
        let needReset = [.established, .closeWait, .finWait1, .finWait2, .synRecv].contains(old)
        if needReset || (c.sndNxt != c.writeSeq && (old == .closing || old == .lastAck)) {
            sendActiveReset(c)
            c.error = .ECONNRESET
        } else if old == .synSent {
            c.error = .ECONNRESET
        }
    }

    // MARK: Ends

    /// `tcp_reset` / `tcp_write_err` → `tcp_done`: the connection is over with `error`.
    func resetConnection(_ c: Connection, _ error: SocketError, cause: StateCause = .rstReceived) {
        c.error = error
        emit(.error(c.id, error))
        done(c, cause)
    }

    /// `tcp_done`: CLOSE, timers stopped, the write queue purged, out of the established hash; an orphan
    /// is gone for good.
    func done(_ c: Connection, _ cause: StateCause) {
        if c.state == .synSent || c.state == .synRecv { count(.AttemptFails) }
        if c.isTimeWaitSock {
            if let tw = timeWaits[c.tuple], tw.id == c.id { killTimeWait(c.tuple, tw, cause) }
            return
        }
        setState(c, .close, cause)
        cancelAllTimers(c)
        purgeQueues(c)
        c.shutdownRead = true
        established.remove(c.tuple, ifIdenticalTo: c)
        if c.orphan { connections[c.id] = nil }
    }

    /// The socket goes without a word (a SYN_SENT socket closed, a child of a closed listener).
    func destroy(_ c: Connection, _ cause: StateCause) {
        done(c, cause)
    }

    /// `tcp_write_queue_purge` and the out-of-order queue.
    func purgeQueues(_ c: Connection) {
        // Each queue is released only if it holds a buffer: a connection is purged twice on its way
        // out (tcp_done, the timewait socket), mostly with nothing left.
        c.sendQueue.removeAll()
        // The retransmit queue's buffer is kept for the next connection's first segment (a socket
        // that sent anything had one), as the kernel's skb caches spare an allocation per segment.
        if spareRetransmitBuffer.capacity == 0, let buffer = c.rtx.takeBuffer() {
            spareRetransmitBuffer = buffer
        } else {
            c.rtx.removeAll()
        }
        if c.outOfOrder.capacity > 0 { c.outOfOrder.removeAll() }
        c.outOfOrderBytes = 0
        if c.sackBlocks.capacity > 0 { c.sackBlocks.removeAll() }
        c.dsack = nil
        c.sackedOut = 0
        c.lostOut = 0
        c.retransOut = 0
    }

    /// ICMP host unreachable from our own ARP failure (`tcp_v4_err`).
    func hostUnreachable(_ c: Connection) {
        if c.state == .synSent {
            resetConnection(c, .EHOSTUNREACH, cause: .arpFailed)
        } else {
            c.softError = .EHOSTUNREACH
        }
    }
}

import TCPPolicy
import TCPWire

/// `shutdown()`'s `how`.
public enum ShutdownHow: Sendable {
    case read, write, readWrite
}

extension Host {
    /// `tcp_close`: unread data or SO_LINGER 0 → RST; otherwise a FIN after the queued data, and the
    /// socket lives on as an orphan through FIN_WAIT1/2 or LAST_ACK, then TIME_WAIT.
    public func close(_ id: SocketID, at time: Instant) {
        advance(time)
        if let l = listeners[id] {
            closeListener(l)
            return
        }
        guard let c = connections[id] else { return }
        c.orphan = true
        c.shutdownRead = true
        switch c.state {
        case .close:
            connections[id] = nil
        case .synSent:
            // No RST for an unanswered SYN: the socket just goes.
            destroy(c, .close)
        case .established, .synRecv, .closeWait:
            if !c.receiveQueue.isEmpty {
                // RFC 2525 §2.17: data the application never read is lost; tell the peer.
                count(.TCPAbortOnClose)
                sendActiveReset(c)
                destroy(c, .close)
            } else if c.options.linger?.on == true, c.options.linger?.seconds == 0 {
                count(.TCPAbortOnData)
                sendActiveReset(c)
                destroy(c, .close)
            } else {
                sendFin(c)
            }
        case .finWait2:
            finWait2Timeout(c)
        default:
            break
        }
    }

    /// `shutdown()`: SHUT_WR sends a FIN (the socket stays open for reading); SHUT_RD discards what
    /// arrives later.
    public func shutdown(_ id: SocketID, _ how: ShutdownHow, at time: Instant) throws(SocketError) {
        advance(time)
        guard let c = connections[id] else { throw listeners[id] != nil ? .ENOTCONN : .EBADF }
        guard c.state != .synSent, c.state != .close else { throw .ENOTCONN }
        if how != .write { c.shutdownRead = true }
        if how != .read, c.state == .established || c.state == .closeWait || c.state == .synRecv { sendFin(c) }
    }

    /// `tcp_close_state` + `tcp_send_fin`.
    private func sendFin(_ c: Connection) {
        switch c.state {
        case .established, .synRecv: setState(c, .finWait1, c.orphan ? .close : .shutdown)
        case .closeWait: setState(c, .lastAck, c.orphan ? .close : .shutdown)
        default: return
        }
        c.finQueued = true
        pushPendingData(c)
    }
}

import TCPPolicy
import TCPWire

extension Host {
    /// `tcp_sendmsg`: queue `bytes` and send what the windows allow. Before ESTABLISHED the data waits
    /// (a writer blocked in `sk_stream_wait_connect`, which delays the third ACK so it rides on the data).
    /// - Returns: bytes accepted (less than `bytes.count` when the send buffer is full).
    @discardableResult
    public func send(_ id: SocketID, _ bytes: [UInt8], at time: Instant) throws(SocketError) -> Int {
        advance(time)
        guard let c = connections[id] else { throw listeners[id] != nil ? .ENOTCONN : .EBADF }
        if let err = c.error { throw err }
        switch c.state {
        case .synSent, .synRecv:
            c.writePending = true
        case .established, .closeWait:
            break
        default:
            throw .EPIPE
        }
        if c.finQueued { throw .EPIPE }
        let room = max(0, c.sendBufferLimit - c.sendQueue.count)
        guard room > 0 else { throw .EAGAIN }
        let accepted = min(room, bytes.count)
        c.sendQueue.append(contentsOf: bytes.prefix(accepted))
        pushPendingData(c)
        return accepted
    }

    /// `tcp_push` / `tcp_write_xmit`: send new data within the peer's window and cwnd, Nagle permitting,
    /// then a FIN if one is queued and everything before it is out.
    func pushPendingData(_ c: Connection) {
        guard c.state == .established || c.state == .closeWait || c.state == .finWait1 || c.state == .lastAck
              || c.state == .closing else { return }
        if c.writePending && c.state == .established { c.writePending = false }
        sendSegments(c, limit: Int.max, retransmission: 0)
        if c.finQueued && !c.finSent && c.sndNxt - c.sendQueueStart >= c.sendQueue.count {
            // tcp_send_fin: FIN (with ACK) after the data.
            c.finSent = true
            transmit(c, flags: .finAck, seq: c.sndNxt)
            c.sndNxt += 1
            c.sndMax = SequenceNumber.max(c.sndMax, c.sndNxt)
            if c.retransmitDeadline == .never { armRetransmit(c, c.rto) }
        }
    }

    /// Sends up to `limit` segments of queued data from `snd_nxt`.
    func sendSegments(_ c: Connection, limit: Int, retransmission: Int) {
        var sent = 0
        let mss = max(c.mssCache, 1)
        while sent < limit {
            let offset = c.sndNxt - c.sendQueueStart
            let unsent = c.sendQueue.count - offset
            guard unsent > 0 else { break }
            let windowRight = c.sndUna + c.sndWnd
            let windowRoom = windowRight - c.sndNxt
            let cwndRoom = c.cwnd * mss - c.inFlight
            var length = min(unsent, mss, windowRoom, cwndRoom)
            if retransmission > 0 { length = min(unsent, mss) }
            guard length > 0 else {
                if c.sndWnd == 0, c.inFlight == 0, c.retransmitDeadline == .never {
                    armRetransmit(c, c.rto)  // zero-window probing runs on the retransmission timer here
                }
                break
            }
            // Nagle (RFC 896): hold a short segment while data is in flight, unless TCP_NODELAY.
            if retransmission == 0, length < mss, length == unsent, c.inFlight > 0, !c.options.noDelay { break }
            let payload = Array(c.sendQueue.peek(offset: offset, length: length))
            var flags: TCPFlags = .ack
            if length == unsent { flags.insert(.psh) }
            let seq = c.sndNxt
            let isRetransmission = retransmission > 0 || seq < c.sndMax
            transmit(c, flags: flags, seq: seq, payload: payload, retransmission: isRetransmission ? max(retransmission, 1) : 0)
            if !isRetransmission, c.rttSeq == nil {
                c.rttSeq = seq + length
                c.rttStart = now
            }
            c.sndNxt += length
            c.sndMax = SequenceNumber.max(c.sndMax, c.sndNxt)
            if c.retransmitDeadline == .never { armRetransmit(c, c.rto) }
            sent += 1
        }
    }

    /// `tcp_recvmsg`: up to `max` bytes in order. Empty at end of stream; EAGAIN when nothing is there yet.
    public func receive(_ id: SocketID, max: Int = Int.max, at time: Instant) throws(SocketError) -> [UInt8] {
        advance(time)
        guard let c = connections[id] else { throw listeners[id] != nil ? .ENOTCONN : .EBADF }
        if c.receiveQueue.isEmpty {
            if let err = c.error { throw err }
            if c.finReceived || c.shutdownRead { return [] }
            if c.state == .synSent || c.state == .synRecv { throw .EAGAIN }
            throw .EAGAIN
        }
        let n = min(max, c.receiveQueue.count)
        let data = c.receiveQueue.popFirst(n)
        cleanupReceiveBuffer(c, copied: n)
        return data
    }

    /// `tcp_cleanup_rbuf`: after a read, send a pending ACK if much is unacknowledged or the queue
    /// drained after a push, and a window update if the window grew a lot.
    func cleanupReceiveBuffer(_ c: Connection, copied: Int) {
        guard c.state == .established || c.state == .finWait1 || c.state == .finWait2 else { return }
        var send = false
        if c.ack.pending.contains(.scheduled) {
            let unacked = c.rcvNxt - c.rcvWup
            let pingpong = Int(c.ack.pingpong) >= sysctl.tcp_pingpong_thresh
            if unacked > c.ack.rcvMSS
                || (copied > 0 && c.receiveQueue.isEmpty
                    && (c.ack.pending.contains(.pushed2) || (c.ack.pending.contains(.pushed) && !pingpong)))
            {
                send = true
            }
        }
        if !send, copied > 0, c.state == .established || c.state == .finWait1 {
            let current = c.receiveWindowRemaining
            if 2 * current <= c.windowClamp {
                let newWindow = selectWindowBytesPeek(c)
                if newWindow >= 2 * current { send = true }
            }
        }
        if send { sendAck(c) }
    }
}

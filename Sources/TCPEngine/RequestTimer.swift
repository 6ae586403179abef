import TCPPolicy
import TCPWire

extension Host {
    /// `reqsk_timeout`: 1 s doubled per timeout so far, at most TCP_RTO_MAX.
    func requestTimeout(_ req: RequestSock) -> Interval {
        let shift = min(Int(req.numTimeout), 30)
        return min(Interval.seconds(1) * (Int64(1) << shift), sysctl.rtoMax)
    }

    /// `reqsk_timer_handler`: re-send the SYN-ACK with exponential backoff, or let the request go
    /// silently (no RST) once `tcp_synack_retries` (or the listener's TCP_SYNCNT) is used up. Under
    /// pressure, old requests get fewer retries than young ones.
    func requestTimer(_ tuple: FourTuple) {
        guard var req = requests[tuple] else { return }
        guard let l = listeners[req.listener] else {
            removeRequest(tuple, reason: .listenerClosed)
            return
        }
        emit(.timerFired(.synAck, socket: l.id, tuple: tuple))
        var maxRetries = l.options.synCount ?? sysctl.tcp_synack_retries
        // "We reserve half of room for young embrions; and abort old ones without pity."
        let qlen = l.synQueueLength
        if qlen << 1 > max(8, l.backlog) {
            var young = l.young << 1
            while maxRetries > 2 {
                if qlen < young { break }
                maxRetries -= 1
                young <<= 1
            }
        }
        // syn_ack_recalc.
        let defer_ = l.deferAcceptPeriods
        let numTimeout = Int(req.numTimeout)
        let acked = req.flags.contains(.acked)
        let expire: Bool
        let resend: Bool
        if defer_ == 0 {
            expire = numTimeout >= maxRetries
            resend = true
        } else {
            expire = numTimeout >= maxRetries && (!acked || numTimeout >= defer_)
            // Do not resend while waiting for data after the ACK; resend at the end of the deferral
            // period to give the peer a last chance.
            resend = !acked || numTimeout >= defer_ - 1
        }
        count(.TCPTimeouts)  // tcp_syn_ack_timeout
        if expire {
            emit(.dropped(.requestExpired, segment: nil, socket: l.id))
            removeRequest(tuple, reason: .requestExpired)
            return
        }
        if resend {
            req.numRetrans &+= 1
            count(.RetransSegs)
            count(.TCPSynRetrans)
            sendSynAck(req, listener: l, tuple: tuple, retransmission: Int(req.numRetrans))
            req.lastSynAckTS = requests[tuple]?.lastSynAckTS ?? req.lastSynAckTS
        }
        if req.numTimeout == 0, req.flags.contains(.young) {
            req.flags.remove(.young)
            l.young -= 1
        }
        req.numTimeout &+= 1
        req.deadline = now + requestTimeout(req)
        req.timer = timers.push(req.deadline, .request(tuple))
        requests[tuple] = req
        emit(.timerArmed(.synAck, socket: l.id, tuple: tuple, deadline: req.deadline))
    }
}

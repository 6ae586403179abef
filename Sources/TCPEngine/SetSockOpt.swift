import TCPPolicy
import TCPWire

extension Host {
    /// `setsockopt` with Linux's names and ranges.
    public func setsockopt(_ id: SocketID, _ option: SocketOption, at time: Instant) throws(SocketError) {
        advance(time)
        if let l = listeners[id] {
            apply(option, to: &l.options)
            if case let .TCP_DEFER_ACCEPT(seconds) = option { l.deferAcceptPeriods = Self.secondsToRetransmissions(seconds) }
            return
        }
        guard let c = connections[id] else { throw .EBADF }
        if case let .TCP_SYNCNT(n) = option, !(1...127).contains(n) { throw .EINVAL }
        if case let .TCP_KEEPCNT(n) = option, !(1...127).contains(n) { throw .EINVAL }
        if case let .TCP_KEEPIDLE(s) = option, !(1...32767).contains(s) { throw .EINVAL }
        if case let .TCP_KEEPINTVL(s) = option, !(1...32767).contains(s) { throw .EINVAL }
        if case let .TCP_USER_TIMEOUT(ms) = option, ms < 0 { throw .EINVAL }
        let wasKeepalive = c.options.keepalive
        apply(option, to: &c.options)
        let keepaliveState = c.state != .close && c.state != .listen && !c.isTimeWaitSock
        switch option {
        case let .TCP_QUICKACK(value):
            delayedAckPolicy.setQuickAck(&c.ack, value: value, facts: ackFacts(c))
            if value != 0, c.state == .established || c.state == .closeWait, c.ack.pending.contains(.scheduled) {
                cleanupReceiveBuffer(c, copied: 1)
                // An even value re-enters pingpong afterwards.
                if value & 1 == 0 { c.ack.pingpong = UInt8(clamping: sysctl.tcp_pingpong_thresh) }
            }
        case let .SO_KEEPALIVE(on):
            // tcp_set_keepalive: the timer starts when keepalive is turned on, in any state but CLOSE.
            if on, !wasKeepalive, keepaliveState { armKeepalive(c, after: keepaliveTime(c)) }
            if !on { cancel(c, .keepalive) }
        case .TCP_KEEPIDLE:
            // tcp_sock_set_keepidle_locked: what is left of the new idle time from the last activity.
            if c.options.keepalive, keepaliveState {
                let elapsed = keepaliveElapsed(c)
                let idle = keepaliveTime(c)
                armKeepalive(c, after: idle > elapsed ? idle - elapsed : .zero)
            }
        case let .TCP_NODELAY(on):
            // __tcp_sock_set_nodelay: TCP_NAGLE_OFF|TCP_NAGLE_PUSH, and what Nagle held goes now.
            if on { pushPendingFrames(c, nagle: .off) }
        default:
            break
        }
    }

    func apply(_ option: SocketOption, to o: inout SocketOptions) {
        switch option {
        case let .SO_REUSEADDR(v): o.reuseAddress = v
        case let .SO_KEEPALIVE(v): o.keepalive = v
        case let .SO_RCVBUF(v): o.receiveBuffer = v
        case let .SO_SNDBUF(v): o.sendBuffer = v
        case let .SO_LINGER(on, seconds): o.linger = (on, seconds)
        case let .TCP_DEFER_ACCEPT(seconds): o.deferAcceptSeconds = max(0, seconds)
        case .TCP_QUICKACK: break
        case let .TCP_SYNCNT(n): o.synCount = n
        case let .TCP_MAXSEG(n): o.maxSegment = n
        case let .TCP_USER_TIMEOUT(ms): o.userTimeout = .milliseconds(Int64(max(0, ms)))
        case let .TCP_KEEPIDLE(s): o.keepIdle = s
        case let .TCP_KEEPINTVL(s): o.keepInterval = s
        case let .TCP_KEEPCNT(n): o.keepCount = n
        case let .TCP_LINGER2(s): o.linger2 = min(s, 120)
        case let .TCP_NODELAY(v): o.noDelay = v
        case let .O_NONBLOCK(v): o.nonBlocking = v
        }
    }
}

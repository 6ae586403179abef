import TCPPolicy

/// Linux's receive-window arithmetic (tcp_output.c): the initial window and scale, and the window
/// each segment advertises.
enum ReceiveWindow {
    /// `tcp_win_from_space` with the default scaling ratio (50 %, TCP_DEFAULT_SCALING_RATIO since 6.10).
    static func fromSpace(_ space: Int) -> Int { space / 2 }

    /// `tcp_select_initial_window`: the window for a SYN or SYN-ACK and the scale to offer.
    /// - Parameters:
    ///   - space: `tcp_full_space` (half the receive buffer).
    ///   - mss: advmss for a SYN; the MSS minus 12 when timestamps are on, for a SYN-ACK.
    ///   - windowClamp: 0 for "none set".
    /// - Returns: rcv_wnd, the window clamp, and rcv_wscale.
    // Inlined, so that only the sysctls it needs are read (a call would copy the whole `Sysctls`).
    @inline(__always)
    static func initial(space: Int, mss: Int, windowClamp: Int, windowScaling: Bool, sysctl: Sysctls)
        -> (window: Int, clamp: Int, wscale: UInt8)
    {
        var clamp = windowClamp == 0 ? 65535 << 14 : windowClamp
        var space = min(max(space, 0), clamp)
        // Quantize to a multiple of the MSS.
        if space > mss { space = space / mss * mss }
        let window = sysctl.tcp_workaround_signed_windows != 0 ? min(space, 32767) : space
        var wscale: UInt8 = 0
        if windowScaling {
            // Scale for the largest window the buffer could ever grow to.
            var maxSpace = max(space, sysctl.tcp_rmem.max, sysctl.rmem_max)
            maxSpace = min(maxSpace, clamp)
            let log2 = Int.bitWidth - 1 - maxSpace.leadingZeroBitCount
            wscale = UInt8(min(max(log2 - 15, 0), 14))
        }
        clamp = min(65535 << Int(wscale), clamp)
        return (window, clamp, wscale)
    }
}

extension Host {
    /// `sk_rcvbuf` for a socket: SO_RCVBUF doubled and capped by rmem_max, else `tcp_rmem[1]`.
    func receiveBuffer(_ options: SocketOptions) -> Int {
        if let v = options.receiveBuffer { return max(min(v, sysctl.rmem_max) * 2, 2304) }
        return sysctl.tcp_rmem.default
    }

    /// The window clamp a user-set receive buffer imposes (`SOCK_RCVBUF_LOCK` in `tcp_connect_init` and
    /// `tcp_openreq_init_rwin`): `tcp_full_space`, so the window and its scale fit the buffer; 0 (none)
    /// otherwise.
    func userWindowClamp(_ options: SocketOptions) -> Int {
        options.receiveBuffer == nil ? 0 : ReceiveWindow.fromSpace(receiveBuffer(options))
    }

    func sendBuffer(_ options: SocketOptions) -> Int {
        if let v = options.sendBuffer { return max(min(v, sysctl.wmem_max) * 2, 4608) }
        return sysctl.tcp_wmem.default
    }

    /// `tcp_select_window`: the window field of a non-SYN segment, never shrinking the offered window.
    @inline(__always) func selectWindow(_ c: Connection) -> UInt16 {
        let old = c.rcvWnd
        let current = c.receiveWindowRemaining
        var window = selectWindowBytes(c)
        if window < current {
            // "Never shrink the offered window" (RFC 7323 §2.4).
            if window == 0 { count(.TCPWantZeroWindowAdv) }
            let unit = 1 << Int(c.rcvWscale)
            window = (current + unit - 1) / unit * unit
        }
        c.rcvWnd = window
        c.rcvWup = c.rcvNxt
        if c.rcvWscale == 0 && sysctl.tcp_workaround_signed_windows != 0 {
            window = min(window, 32767)
        } else {
            window = min(window, 65535 << Int(c.rcvWscale))
        }
        let field = window >> Int(c.rcvWscale)
        if field == 0 {
            if old != 0 { count(.TCPToZeroWindowAdv) }
        } else if old == 0 {
            count(.TCPFromZeroWindowAdv)
        }
        return UInt16(field)
    }

    /// `__tcp_select_window`: the window the free buffer space allows.
    @inline(__always) func selectWindowBytes(_ c: Connection) -> Int {
        let allowed = ReceiveWindow.fromSpace(c.receiveBufferLimit)
        var free = allowed - c.receiveQueue.count - c.outOfOrderBytes
        let full = min(c.windowClamp, allowed)
        var mss = c.ack.rcvMSS
        if mss > full {
            mss = full
            if mss <= 0 { return 0 }
        }
        if free < full >> 1 {
            c.ack.quick = 0
            let unit = 1 << Int(c.rcvWscale)
            free = free / unit * unit
            if free < allowed >> 4 || free < mss { return 0 }
        }
        free = min(free, c.rcvSsthresh)
        if c.rcvWscale != 0 {
            let unit = 1 << Int(c.rcvWscale)
            return (free + unit - 1) / unit * unit
        }
        var window = c.rcvWnd
        if window <= free - mss || window > free {
            window = free / mss * mss
        } else if mss == full && free > window + full >> 1 {
            window = free
        }
        return window
    }
}

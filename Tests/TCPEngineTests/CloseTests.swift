import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// The end of a connection (reference §7; tcp_close, tcp_fin, tcp_rcv_state_process, tcp_time_wait,
// tcp_timewait_state_process): the active close through FIN_WAIT1/2 and TIME_WAIT, the passive close
// through CLOSE_WAIT and LAST_ACK, the simultaneous close through CLOSING, an orphan's FIN_WAIT2
// timeout, the two closes that reset (SO_LINGER 0, unread data), and shutdown().

@Suite("Close: FIN_WAIT1/2, TIME_WAIT, CLOSE_WAIT, LAST_ACK, CLOSING, RSTs")
struct CloseTests {
    private func established(_ h: HostHarness) throws -> (listener: SocketID, child: SocketID) {
        let listener = try h.listen(backlog: 8)
        return (listener, try h.establish(listener))
    }

    /// Established, then at 1 s the peer's FIN with no data before it (ato 0): the delayed-ACK timer is
    /// due as it is armed, and a timer_list runs at the next tick, not at once — nothing is sent yet.
    private func loneFin() throws -> (HostHarness, SocketID) {
        let h = HostHarness.make()
        let (_, child) = try established(h)
        h.advance(to: .seconds(1))
        h.peer.sends(.fin(seq: 1, ack: 1))
        h.advance(by: .zero)
        h.expectNothing()
        return (h, child)
    }

    @Test("active close: FIN_WAIT1, FIN_WAIT2 on the ACK, TIME_WAIT on the peer's FIN for 60 s, re-armed by a repeated FIN")
    func activeClose() throws {
        let h = HostHarness.make()
        let (_, child) = try established(h)
        h.advance(to: .seconds(1))
        h.close(child)
        h.expectSent(flags: .finAck, seq: 1, ack: 1, options: [.nop, .nop, .ts()], at: .seconds(1))
        #expect(h.host.state(of: child) == .finWait1)
        h.advance(to: .milliseconds(1010))
        h.peer.sends(.ack(seq: 1, ack: 2))
        h.expectNothing()
        #expect(h.host.state(of: child) == .finWait2)
        // The peer's FIN: ACKed at once, TIME_WAIT.
        h.advance(to: .seconds(2))
        h.peer.sends(.fin(seq: 1, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 2, options: [.nop, .nop, .ts()], at: .seconds(2))
        #expect(h.host.state(of: child) == .timeWait)
        #expect(h[.TW] == 1)
        // The FIN again (our ACK was lost): ACKed again, and TIME_WAIT starts over.
        h.advance(to: .seconds(30))
        h.peer.sends(.fin(seq: 1, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 2, at: .seconds(30))
        h.advance(to: .milliseconds(89_999))
        #expect(h.host.state(of: child) == .timeWait)
        h.advance(to: .seconds(90))
        #expect(h.host.state(of: child) == nil)
        h.expectNothing()
        let states = stateChanges(h.events, socket: child).map(\.1)
        #expect(states == [.synRecv, .established, .finWait1, .finWait2, .timeWait, .close])
        // The 4-tuple is free: the peer's late segment finds the listener, which resets it.
        h.peer.sends(.ack(seq: 2, ack: 2))
        h.expectSent(flags: .rst, seq: 2, at: .seconds(90))
    }

    @Test("passive close: CLOSE_WAIT on the FIN, LAST_ACK on close(), CLOSE on the last ACK")
    func passiveClose() throws {
        let (h, child) = try loneFin()
        // One jiffy later.
        h.advance(to: .milliseconds(1001))
        h.expectSent(flags: .ack, seq: 1, ack: 2, at: .milliseconds(1001))
        #expect(h[.DelayedACKs] == 1)
        #expect(h.host.state(of: child) == .closeWait)
        #expect(try h.receive(child) == [])  // end of stream
        try h.send(child, "bye")
        h.expectSent(flags: .pshAck, seq: 1, ack: 2, payload: Array(text: "bye"), at: .milliseconds(1001))
        h.advance(to: .milliseconds(1010))
        h.peer.sends(.ack(seq: 2, ack: 4))
        h.advance(to: .seconds(2))
        h.close(child)
        h.expectSent(flags: .finAck, seq: 4, ack: 2, at: .seconds(2))
        #expect(h.host.state(of: child) == .lastAck)
        h.advance(to: .milliseconds(2010))
        h.peer.sends(.ack(seq: 2, ack: 5))
        h.expectNothing()
        #expect(h.host.state(of: child) == nil)
        #expect(h[.TW] == 0)
    }

    @Test("passive close within the tick: a lone FIN's ACK (ato 0) rides on our FIN, as in Linux's traces")
    func passiveCloseWithinTick() throws {
        let (h, child) = try loneFin()
        // close() 100 µs later, before the next tick: one FIN|ACK acknowledges their FIN.
        h.advance(to: .microseconds(1_000_100))
        h.close(child)
        h.expectSent(flags: .finAck, seq: 1, ack: 2, at: .microseconds(1_000_100))
        h.advance(to: .milliseconds(1005))
        h.expectNothing()
        #expect(h[.DelayedACKs] == 0)
        #expect(h.host.state(of: child) == .lastAck)
    }

    @Test("a segment within the tick finds the lone FIN's delayed ACK due (timeout = jiffies + 0) and is ACKed at once")
    func loneFinAckDueWithinTick() throws {
        let (h, child) = try loneFin()
        // A duplicate ACK 200 µs later: the ACK still owed goes now (tcp_send_delayed_ack: the pending
        // timer is due), not at the tick.
        h.advance(to: .microseconds(1_000_200))
        h.peer.sends(.ack(seq: 2, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 2, at: .microseconds(1_000_200))
        h.advance(to: .milliseconds(1005))
        h.expectNothing()
        #expect(h.host.state(of: child) == .closeWait)
    }

    @Test("passive close after a request: the FIN's ACK waits (pingpong) and rides on our FIN")
    func passiveCloseFinCarriesAck() throws {
        let h = HostHarness.make()
        let (_, child) = try established(h)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.data(pattern(100), seq: 1, ack: 1))
        h.expectSent(flags: .ack, ack: 101)
        _ = try h.receive(child)
        try h.send(child, pattern(50))
        h.expectSent(flags: .pshAck, seq: 1, ack: 101)
        h.advance(to: .milliseconds(30))
        h.peer.sends(.fin(seq: 101, ack: 51))
        h.expectNothing()
        h.advance(to: .milliseconds(35))
        #expect(try h.receive(child) == [])
        h.close(child)
        h.expectSent(flags: .finAck, seq: 51, ack: 102, at: .milliseconds(35))
        h.peer.sends(.ack(seq: 102, ack: 52))
        #expect(h.host.state(of: child) == nil)
        #expect(h[.DelayedACKs] == 0)
    }

    @Test("simultaneous close: FINs cross, FIN_WAIT1 → CLOSING on theirs, TIME_WAIT when ours is acknowledged")
    func simultaneousClose() throws {
        let h = HostHarness.make()
        let (_, child) = try established(h)
        h.advance(to: .seconds(1))
        h.close(child)
        h.expectSent(flags: .finAck, seq: 1, ack: 1, at: .seconds(1))
        // The peer's FIN does not acknowledge ours.
        h.peer.sends(.fin(seq: 1, ack: 1))
        h.expectSent(flags: .ack, seq: 2, ack: 2, at: .seconds(1))
        #expect(h.host.state(of: child) == .closing)
        h.advance(to: .milliseconds(1010))
        h.peer.sends(.ack(seq: 2, ack: 2))
        h.expectNothing()
        #expect(h.host.state(of: child) == .timeWait)
        h.advance(to: .milliseconds(61_010))
        #expect(h.host.state(of: child) == nil)
        let states = stateChanges(h.events, socket: child).map(\.1)
        #expect(states == [.synRecv, .established, .finWait1, .closing, .timeWait, .close])
    }

    @Test("an orphan in FIN_WAIT2 whose peer never closes: gone silently after tcp_fin_timeout (60 s); its late FIN gets a RST")
    func finWait2Timeout() throws {
        let h = HostHarness.make()
        let (_, child) = try established(h)
        h.advance(to: .seconds(1))
        h.close(child)
        h.expectSent(flags: .finAck, seq: 1, ack: 1)
        h.advance(to: .milliseconds(1010))
        h.peer.sends(.ack(seq: 1, ack: 2))
        #expect(h.host.state(of: child) == .finWait2)
        h.advance(to: .milliseconds(61_009))
        #expect(h.host.state(of: child) == .finWait2)
        h.advance(to: .milliseconds(61_010))
        h.expectNothing()
        #expect(h.host.state(of: child) == nil)
        let last = try #require(stateChanges(h.events, socket: child).last)
        #expect(last == (.finWait2, .close))
        h.advance(to: .seconds(70))
        h.peer.sends(.fin(seq: 1, ack: 2))
        h.expectSent(flags: .rst, seq: 2, at: .seconds(70))
    }

    @Test("TCP_LINGER2 10 s shortens FIN_WAIT2; a negative TCP_LINGER2 resets instead of waiting")
    func linger2() throws {
        let h = HostHarness.make()
        let (listener, child) = try established(h)
        try h.setsockopt(child, .TCP_LINGER2(seconds: 10))
        h.advance(to: .seconds(1))
        h.close(child)
        h.expectSent(flags: .finAck, seq: 1, ack: 1)
        h.advance(to: .milliseconds(1010))
        h.peer.sends(.ack(seq: 1, ack: 2))
        h.advance(to: .milliseconds(11_009))
        #expect(h.host.state(of: child) == .finWait2)
        h.advance(to: .milliseconds(11_010))
        #expect(h.host.state(of: child) == nil)

        // TCP_LINGER2 −1: the ACK of our FIN finds an orphan that may not wait: tcp_done, and a RST in
        // answer to that ACK (seq = its ack).
        let p2 = h.makePeer(port: 40001, hostPort: 80)
        let child2 = try h.establish(listener, peer: p2)
        try h.setsockopt(child2, .TCP_LINGER2(seconds: -1))
        h.close(child2)
        h.expectSent(flags: .finAck, seq: 1, ack: 1, to: p2)
        p2.sends(.ack(seq: 1, ack: 2))
        h.expectSent(flags: .rst, seq: 2, to: p2)
        #expect(h.host.state(of: child2) == nil)
        #expect(h[.TCPAbortOnData] == 1)
    }

    @Test("SO_LINGER with 0 seconds: close() sends RST|ACK at once and the socket is gone (TCPAbortOnData)")
    func lingerZero() throws {
        let h = HostHarness.make()
        let (_, child) = try established(h)
        try h.send(child, "unsent data is thrown away too")
        h.expectSent(flags: .pshAck, seq: 1)
        try h.setsockopt(child, .SO_LINGER(on: true, seconds: 0))
        h.advance(to: .milliseconds(15))
        h.close(child)
        h.expectSent(flags: .rstAck, seq: 31, ack: 1, at: .milliseconds(15))
        h.expectNothing()
        #expect(h.host.state(of: child) == nil)
        #expect(h[.TCPAbortOnData] == 1)
        #expect(h[.EstabResets] == 1)
        h.advance(to: .seconds(5))
        h.expectNothing()  // no retransmission: nothing is left
    }

    @Test("close() with unread data: RST|ACK instead of FIN (RFC 2525 §2.17), TCPAbortOnClose")
    func unreadData() throws {
        let h = HostHarness.make()
        let (_, child) = try established(h)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.data("hello", seq: 1, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 6)
        h.advance(to: .seconds(1))
        h.close(child)
        h.expectSent(flags: .rstAck, seq: 1, ack: 6, at: .seconds(1))
        h.expectNothing()
        #expect(h[.TCPAbortOnClose] == 1)
        #expect(h.host.state(of: child) == nil)
    }

    @Test("a SYN for a TIME_WAIT 4-tuple with a higher sequence number reopens it: ISN = the old snd_nxt + 65537")
    func synReusesTimeWait() throws {
        let h = HostHarness.make()
        let (listener, child) = try established(h)
        h.close(child)
        h.expectSent(flags: .finAck, seq: 1, ack: 1)
        h.peer.sends(.ack(seq: 1, ack: 2))
        h.peer.sends(.fin(seq: 1, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 2)
        #expect(h.host.state(of: child) == .timeWait)
        let oldISN = try #require(h.peer.hostISN)

        // An old duplicate SYN (below rcv_nxt, no newer timestamp): TIME_WAIT stays and ACKs it.
        h.advance(to: .seconds(5))
        h.peer.sends(.syn(seq: -5, options: [.mss(1460), .sackOK, .ts(val: 1), .nop, .wscale(7)]))
        h.expectSent(flags: .ack, seq: 2, ack: 2, at: .seconds(5))
        #expect(h.host.state(of: child) == .timeWait)

        // A new incarnation: seq above the old rcv_nxt.
        h.advance(to: .seconds(10))
        h.peer.sends(.syn(seq: 100_000))
        let synAck = try #require(h.expectSent(flags: .synAck, seq: .absolute(oldISN.rawValue &+ 2 &+ 65537), ack: 100_001,
                                               at: .seconds(10)))
        #expect(h.host.state(of: child) == nil)
        #expect(synAck.tsEcr != nil)
        h.peer.newConnection(isn: h.peer.seq(100_000))
        h.peer.hostISN = synAck.segment.tcp.sequenceNumber
        h.peer.sends(.ack(seq: 1, ack: 1))
        let again = try #require(try h.accept(listener))
        #expect(h.host.state(of: again) == .established)
    }

    @Test("a RST at rcv_nxt kills TIME_WAIT (tcp_rfc1337 = 0), but not with tcp_rfc1337 = 1")
    func timeWaitAssassination() throws {
        for rfc1337 in [0, 1] {
            var sysctl = Sysctls()
            sysctl.tcp_rfc1337 = rfc1337
            let h = HostHarness.make(sysctl: sysctl)
            let (_, child) = try established(h)
            h.close(child)
            h.expectSent(flags: .finAck)
            h.peer.sends(.ack(seq: 1, ack: 2))
            h.peer.sends(.fin(seq: 1, ack: 2))
            h.expectSent(flags: .ack, seq: 2, ack: 2)
            h.advance(to: .seconds(1))
            h.peer.sends(.rst(seq: 2))
            h.expectNothing()
            #expect(h.host.state(of: child) == (rfc1337 == 0 ? nil : .timeWait))
        }
    }

    @Test("shutdown(SHUT_WR): a half-close; FIN_WAIT2 waits as long as the peer sends, with no timer")
    func halfClose() throws {
        let h = HostHarness.make()
        let (_, child) = try established(h)
        try h.shutdown(child, .write)
        h.expectSent(flags: .finAck, seq: 1, ack: 1, at: .milliseconds(10))
        #expect(throws: SocketError.EPIPE) { try h.send(child, "x") }
        h.peer.sends(.ack(seq: 1, ack: 2))
        #expect(h.host.state(of: child) == .finWait2)
        // Not an orphan: FIN_WAIT2 has no timeout, and data still flows the other way.
        h.advance(to: .seconds(600))
        h.peer.sends(.data("still talking", seq: 1, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 14, at: .seconds(600))
        #expect(try h.receive(child) == Array(text: "still talking"))
        h.peer.sends(.data("last words", seq: 14, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 24)
        h.peer.sends(.fin(seq: 24, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 25)
        // tcp_time_wait: a timewait socket takes the 4-tuple; the socket the user holds stays, in
        // TIME_WAIT, its unread data still readable (tcp_done keeps the receive queue).
        #expect(h.host.state(of: child) == .timeWait)
        #expect(h.host.timeWaitCount == 1)
        #expect(try h.receive(child) == Array(text: "last words"))
        #expect(try h.receive(child) == [])
        // The FIN again: the timewait socket answers it, and TIME_WAIT starts over.
        h.advance(to: .seconds(630))
        h.peer.sends(.fin(seq: 24, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 25, at: .seconds(630))
        h.advance(to: .milliseconds(689_999))
        #expect(h.host.state(of: child) == .timeWait)
        // When it goes, the held socket is CLOSE; close() then lets the id go.
        h.advance(to: .seconds(690))
        #expect(h.host.state(of: child) == .close)
        #expect(h.host.timeWaitCount == 0)
        h.expectNothing()
        h.close(child)
        #expect(h.host.state(of: child) == nil)
        let states = stateChanges(h.events, socket: child).map(\.1)
        #expect(states == [.synRecv, .established, .finWait1, .finWait2, .timeWait, .close])
    }

    @Test("the timewait socket starts its own out-of-window rate limit (tw_last_oow_ack_time = 0)")
    func timeWaitRateLimitStartsFresh() throws {
        let h = HostHarness.make()
        let (_, child) = try established(h)
        try h.shutdown(child, .write)
        h.expectSent(flags: .finAck, seq: 1, ack: 1, at: .milliseconds(10))
        h.peer.sends(.ack(seq: 1, ack: 2))
        // FIN_WAIT2, full socket: an old duplicate ACK gets a duplicate ACK, and starts the 500 ms limit.
        h.advance(to: .seconds(1))
        h.peer.sends(.ack(seq: 0, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 1, at: .seconds(1))
        h.advance(to: .milliseconds(1100))
        h.peer.sends(.fin(seq: 1, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 2, at: .milliseconds(1100))
        #expect(h.host.state(of: child) == .timeWait)
        // 200 ms after the full socket's answer, within its limit: the timewait socket answers anyway,
        // then limits itself.
        h.advance(to: .milliseconds(1200))
        h.peer.sends(.ack(seq: 0, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 2, at: .milliseconds(1200))
        h.peer.sends(.ack(seq: 0, ack: 2))
        h.expectNothing()
        #expect(h[.TCPACKSkippedTimeWait] == 1)
    }

    @Test("an orphan in TIME_WAIT is a timewait socket: the full socket is freed, the 4-tuple still answered")
    func timeWaitSockReplacesOrphan() throws {
        let h = HostHarness.make()
        let (_, child) = try established(h)
        let sockets = h.host.connectionCount
        h.advance(to: .seconds(1))
        h.close(child)
        h.expectSent(flags: .finAck, seq: 1, ack: 1, at: .seconds(1))
        h.peer.sends(.ack(seq: 1, ack: 2))
        h.peer.sends(.fin(seq: 1, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 2, options: [.nop, .nop, .ts()], at: .seconds(1))
        // tcp_time_wait + tcp_done: one socket fewer, one timewait socket more, still TIME_WAIT by its id.
        #expect(h.host.connectionCount == sockets - 1)
        #expect(h.host.timeWaitCount == 1)
        #expect(h.host.state(of: child) == .timeWait)
        // An old duplicate ACK below rcv_nxt: answered with the timewait socket's ACK (seq = snd_nxt,
        // ack = rcv_nxt, timestamps with the connection's offset).
        h.advance(to: .seconds(2))
        h.peer.sends(.ack(seq: 0, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 2, options: [.nop, .nop, .ts()], at: .seconds(2))
        h.advance(to: .seconds(62))
        #expect(h.host.timeWaitCount == 0)
        #expect(h.host.state(of: child) == nil)
        #expect(h.host.connectionCount == sockets - 1)
    }

    @Test("shutdown(SHUT_RD): queued data stays readable, then end of stream; close() with data left resets")
    func shutdownRead() throws {
        let h = HostHarness.make()
        let (_, child) = try established(h)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.data("first", seq: 1, ack: 1))
        h.expectSent(flags: .ack, ack: 6)
        try h.shutdown(child, .read)
        h.expectNothing()  // no FIN: only the read side is shut
        #expect(try h.receive(child) == Array(text: "first"))
        #expect(try h.receive(child) == [])
        // Data still arrives and is ACKed; the application just never sees it.
        h.peer.sends(.data("second", seq: 6, ack: 1))
        h.expectSent(flags: .ack, ack: 12)
        h.close(child)
        h.expectSent(flags: .rstAck, seq: 1, ack: 12)
    }

    @Test("a TIME_WAIT 4-tuple of an accepted connection without timestamps is never reused by connect()")
    func twWithoutTimestampsNotReused() throws {
        let h = HostHarness.make()
        var reuse = SocketOptions()
        reuse.reuseAddress = true
        let listener = try h.listen(backlog: 8, options: reuse)
        // The peer offers no timestamps: tcp_create_openreq_child leaves ts_recent_stamp 0.
        let child = try h.establish(listener, synOptions: [.mss(1460), .nop, .wscale(7)])
        h.advance(to: .seconds(1))
        h.close(child)
        h.expectSent(flags: .finAck, seq: 1, ack: 1, at: .seconds(1))
        h.peer.sends(.ack(seq: 1, ack: 2))
        h.peer.sends(.fin(seq: 1, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 2)
        #expect(h.host.state(of: child) == .timeWait)
        // bind(80) + connect() to the same peer, SO_REUSEADDR on both sides: tcp_twsk_unique wants a
        // timestamp to tell the incarnations apart, so the 4-tuple stays taken.
        h.advance(to: .seconds(5))
        #expect(throws: SocketError.EADDRNOTAVAIL) {
            try h.host.connect(to: SocketAddress(h.peer.address, h.peer.port), localPort: 80, options: reuse, at: h.now)
        }
        #expect(h[.TWRecycled] == 0)
    }

    @Test("connect() reuses a TIME_WAIT 4-tuple with tcp_tw_reuse = 1 and timestamps, after tcp_tw_reuse_delay (TWRecycled)")
    func twReuse() throws {
        var sysctl = Sysctls()
        sysctl.tcp_tw_reuse = 1
        sysctl.ip_local_port_range = (low: 40000, high: 40000)
        let h = HostHarness.make(sysctl: sysctl)
        let server = h.makePeer(port: 80)
        // The host connects, then closes first: TIME_WAIT on the host's side.
        let conn = try h.connect(to: server)
        h.expectSent(flags: .syn)
        server.sends(.synAck(seq: 0, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 1)
        h.close(conn)
        h.expectSent(flags: .finAck, seq: 1, ack: 1)
        server.sends(.fin(seq: 1, ack: 2))
        h.expectSent(flags: .ack, seq: 2, ack: 2)
        #expect(h.host.state(of: conn) == .timeWait)
        let oldISN = try #require(server.hostISN)
        // The only ephemeral port is taken by TIME_WAIT; within tcp_tw_reuse_delay (1 s) it stays taken.
        h.advance(to: .milliseconds(1000))
        #expect(throws: SocketError.EADDRNOTAVAIL) { try h.connect(to: server) }
        h.advance(to: .milliseconds(1001))
        let again = try h.connect(to: server)
        #expect(h.host.tuple(of: again)?.local.port == 40000)
        #expect(h[.TWRecycled] == 1)
        // The new incarnation starts 65537 above the old snd_nxt.
        h.expectSent(flags: .syn, seq: .absolute(oldISN.rawValue &+ 2 &+ 65537), at: .milliseconds(1001))
    }
}

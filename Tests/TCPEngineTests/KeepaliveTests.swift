import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// tcp_keepalive_timer (reference §7) with shortened timers: TCP_KEEPIDLE 10 s, TCP_KEEPINTVL 5 s,
// TCP_KEEPCNT 3. A probe is an ACK one byte behind snd_una; any ACK resets the probe count.

@Suite("Keepalive: probes, the answering peer, the abort")
struct KeepaliveTests {
    /// An established child (ESTABLISHED at 10 ms) with keepalive 10 s / 5 s / 3 probes.
    private func keepaliveChild(_ h: HostHarness, userTimeout: Int? = nil) throws -> SocketID {
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener)
        try h.setsockopt(child, .TCP_KEEPIDLE(seconds: 10))
        try h.setsockopt(child, .TCP_KEEPINTVL(seconds: 5))
        try h.setsockopt(child, .TCP_KEEPCNT(3))
        if let userTimeout { try h.setsockopt(child, .TCP_USER_TIMEOUT(milliseconds: userTimeout)) }
        try h.setsockopt(child, .SO_KEEPALIVE(true))
        return child
    }

    @Test("an idle connection: probes at 10, 15 and 20 s; at 25 s a RST and ETIMEDOUT")
    func deadPeer() throws {
        let h = HostHarness.make()
        let child = try keepaliveChild(h)
        h.advance(to: .milliseconds(10_009))
        h.expectNothing()
        // seq = snd_una − 1: an old byte the peer must answer with an ACK.
        for t: Int64 in [10_010, 15_010, 20_010] {
            h.advance(to: .milliseconds(t))
            h.expectSent(flags: .ack, seq: 0, ack: 1, options: [.nop, .nop, .ts()], payload: [], at: .milliseconds(t))
        }
        #expect(h[.TCPKeepAlive] == 3)
        #expect(h.host.info(of: child)?.probesOut == 3)
        h.advance(to: .milliseconds(25_009))
        h.expectNothing()
        h.advance(to: .milliseconds(25_010))
        h.expectSent(flags: .rstAck, seq: 1, ack: 1, at: .milliseconds(25_010))
        h.expectNothing()
        #expect(h.host.state(of: child) == .close)
        #expect(h.host.error(of: child) == .ETIMEDOUT)
        #expect(h[.TCPAbortOnTimeout] == 1)
        #expect(errors(h.events, socket: child).map(\.1) == [.ETIMEDOUT])
        #expect(throws: SocketError.ETIMEDOUT) { try h.receive(child) }
    }

    @Test("a peer that answers keeps the connection: each answer resets the count and the idle time")
    func answeringPeer() throws {
        let h = HostHarness.make()
        let child = try keepaliveChild(h)
        // Each probe answered at once: the next one comes a full TCP_KEEPIDLE after the answer.
        for t: Int64 in [10_010, 20_010, 30_010, 40_010, 50_010] {
            h.advance(to: .milliseconds(t))
            h.expectSent(flags: .ack, seq: 0, ack: 1, at: .milliseconds(t))
            h.peer.sends(.ack(seq: 1, ack: 1))
            #expect(h.host.info(of: child)?.probesOut == 0)
        }
        h.advance(to: .seconds(55))
        h.expectNothing()
        #expect(h.host.state(of: child) == .established)
        #expect(h[.TCPKeepAlive] == 5)
        // Data counts as activity too: 3 s later the idle time starts again.
        h.advance(to: .seconds(58))
        h.peer.sends(.data(pattern(10), seq: 1, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 11, at: .seconds(58))
        h.advance(to: .milliseconds(60_009))
        h.expectNothing()
        h.advance(to: .seconds(68))
        h.expectSent(flags: .ack, seq: 0, ack: 11, at: .seconds(68))
    }

    @Test("with TCP_USER_TIMEOUT the abort comes once idle that long with a probe out, whatever TCP_KEEPCNT says")
    func userTimeout() throws {
        let h = HostHarness.make()
        let child = try keepaliveChild(h, userTimeout: 12_000)
        h.advance(to: .milliseconds(10_010))
        h.expectSent(flags: .ack, seq: 0, ack: 1, at: .milliseconds(10_010))
        // 15 s: idle 15 s ≥ 12 s with one probe out.
        h.advance(to: .milliseconds(15_010))
        h.expectSent(flags: .rstAck, seq: 1, ack: 1, at: .milliseconds(15_010))
        #expect(h.host.error(of: child) == .ETIMEDOUT)
        #expect(h[.TCPKeepAlive] == 1)
    }

    @Test("the defaults: the first probe after 7200 s, then every 75 s; the RST after 9 probes at 7875 s")
    func defaults() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener)
        try h.setsockopt(child, .SO_KEEPALIVE(true))
        h.advance(to: .milliseconds(7_200_009))
        h.expectNothing()
        for i: Int64 in 0..<9 {
            let t = 7_200_010 + i * 75_000
            h.advance(to: .milliseconds(t))
            h.expectSent(flags: .ack, seq: 0, ack: 1, at: .milliseconds(t))
        }
        h.advance(to: .milliseconds(7_875_010))
        h.expectSent(flags: .rstAck, seq: 1, ack: 1, at: .milliseconds(7_875_010))
        #expect(h.host.error(of: child) == .ETIMEDOUT)
    }

    @Test("data in flight: no probe, the keepalive timer just comes back later")
    func notWhileDataIsOutstanding() throws {
        let h = HostHarness.make()
        let child = try keepaliveChild(h, userTimeout: nil)
        // Unacknowledged data keeps the connection "alive without keepalive"; retransmissions go on.
        h.advance(to: .seconds(9))
        try h.send(child, pattern(10))
        h.expectSent(flags: .pshAck, seq: 1, payload: pattern(10), at: .seconds(9))
        h.advance(to: .milliseconds(10_010))
        let sent = h.takePending().compactMap(\.frame.tcpSegment)
        #expect(!sent.isEmpty && sent.allSatisfy { $0.payload == pattern(10) })
        #expect(h[.TCPKeepAlive] == 0)
    }
}

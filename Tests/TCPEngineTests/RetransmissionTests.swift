import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// A peer that vanishes after the handshake (reference §7 "retries1 / retries2", tcp_retransmit_timer,
// tcp_write_timeout): RTO = SRTT + max(4·RTTVAR, 200 ms) doubling per timeout up to 120 s, give-up once
// tcp_model_timeout(15, 200 ms) = 924.6 s have passed since the first retransmission → ETIMEDOUT, no RST.
// TCP_USER_TIMEOUT replaces that time. With SACK, a tail loss probe goes first.

@Suite("Retransmission: RTO backoff, tcp_retries2, TCP_USER_TIMEOUT, tail loss probes")
struct RetransmissionTests {
    /// Retransmission times (ms since the start) of data sent at 10 ms with RTO 210 ms: 210 ms doubling,
    /// at most 120 s.
    private static func schedule(firstSend: Int64, rto: Int64, count: Int) -> [Int64] {
        var times: [Int64] = []
        var t = firstSend
        var r = rto
        for _ in 0..<count {
            t += r
            times.append(t)
            r = min(r * 2, 120_000)
        }
        return times
    }

    @Test("the peer vanishes: 15 retransmissions 210 ms, 420 ms … 120 s apart, then ETIMEDOUT at 934.84 s without a RST")
    func retries2() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener, synOptions: linuxSYNWithoutSack)  // SRTT 10 ms
        #expect(h.host.info(of: child)?.rto == .milliseconds(210))
        try h.send(child, "hello")
        h.expectSent(flags: .pshAck, seq: 1, ack: 1, payload: Array(text: "hello"), at: .milliseconds(10))

        let times = Self.schedule(firstSend: 10, rto: 210, count: 15)
        #expect(times.first == 220 && times.last == 814_840)
        for (i, t) in times.enumerated() {
            h.advance(to: .milliseconds(t - 1))
            h.expectNothing()
            h.advance(to: .milliseconds(t))
            h.expectSent(flags: .pshAck, seq: 1, ack: 1, payload: Array(text: "hello"), at: .milliseconds(t))
            #expect(h.host.info(of: child)?.retransmits == i + 1)
        }
        // The 16th timeout, 120 s later: 934.84 − 0.22 ≥ 924.6 s since the first retransmission.
        h.advance(to: .milliseconds(934_839))
        h.expectNothing()
        #expect(h.host.state(of: child) == .established)
        h.advance(to: .milliseconds(934_840))
        h.expectNothing()  // tcp_write_err: no RST
        #expect(h.host.state(of: child) == .close)
        #expect(h.host.error(of: child) == .ETIMEDOUT)
        #expect(h[.TCPTimeouts] == 16)
        #expect(h[.RetransSegs] == 15)
        #expect(h[.TCPAbortOnTimeout] == 1)
        #expect(throws: SocketError.ETIMEDOUT) { try h.send(child, "more") }
        // tcp_retries1 (3): from the first timeout 3 s (15 × 200 ms) after the first retransmission on,
        // Linux re-validates the route at every timeout.
        let rechecks = h.events.compactMap { e -> Instant? in
            if case .counter(.TCPRouteRecheck, _) = e.kind { return e.time }
            return nil
        }
        #expect(rechecks.first == .zero + .milliseconds(6520))
        #expect(rechecks.count == 12)
    }

    @Test("TCP_USER_TIMEOUT 5 s: the RTO is clamped to the time left and the connection times out 5 s after the first retransmission")
    func userTimeout() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener, synOptions: linuxSYNWithoutSack)
        try h.setsockopt(child, .TCP_USER_TIMEOUT(milliseconds: 5000))
        try h.send(child, "hello")
        h.expectSent(flags: .pshAck, seq: 1, at: .milliseconds(10))
        for t: Int64 in [220, 640, 1480, 3160] {
            h.advance(to: .milliseconds(t))
            h.expectSent(flags: .pshAck, seq: 1, payload: Array(text: "hello"), at: .milliseconds(t))
        }
        // Next RTO would be 3.36 s; 5 s − (3.16 − 0.22) s = 2.06 s are left.
        h.advance(to: .milliseconds(5219))
        #expect(h.host.state(of: child) == .established)
        h.advance(to: .milliseconds(5220))
        h.expectNothing()
        #expect(h.host.error(of: child) == .ETIMEDOUT)
        #expect(h[.RetransSegs] == 4)
    }

    @Test("with SACK the first retransmission is a tail loss probe at the RTO's time; RTOs follow from it")
    func tailLossProbe() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener)
        try h.send(child, "hello")
        h.expectSent(flags: .pshAck, seq: 1, at: .milliseconds(10))
        // PTO = 2·SRTT + TCP_RTO_MIN (one segment out) = 220 ms, but no later than the RTO (210 ms).
        h.advance(to: .milliseconds(220))
        h.expectSent(flags: .pshAck, seq: 1, payload: Array(text: "hello"), at: .milliseconds(220))
        #expect(h[.TCPLossProbes] == 1)
        #expect(h[.TCPTimeouts] == 0)
        // The RTO runs from the probe: 430 ms, then 850 ms, 1690 ms.
        for t: Int64 in [430, 850, 1690] {
            h.advance(to: .milliseconds(t - 1))
            h.expectNothing()
            h.advance(to: .milliseconds(t))
            h.expectSent(flags: .pshAck, seq: 1, payload: Array(text: "hello"), at: .milliseconds(t))
        }
        #expect(h[.TCPTimeouts] == 3)
        #expect(h[.TCPLossProbes] == 1)
        // The peer comes back: everything resets.
        h.peer.sends(.ack(seq: 1, ack: 6))
        let info = try #require(h.host.info(of: child))
        #expect(info.retransmits == 0 && info.backoff == 0 && info.packetsOut == 0)
        #expect(info.cwnd == 2)  // after the RTO: cwnd 1, then slow start
    }

    @Test("an ACK of new data stops the backoff: the next RTO is computed afresh")
    func backoffReset() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener, synOptions: linuxSYNWithoutSack)
        try h.send(child, "one")
        h.expectSent(flags: .pshAck, seq: 1, at: .milliseconds(10))
        h.advance(to: .milliseconds(640))
        h.expectSent(flags: .pshAck, seq: 1, at: .milliseconds(220))
        h.expectSent(flags: .pshAck, seq: 1, at: .milliseconds(640))
        // The ACK of the retransmission: no RTT sample (Karn) — but the TSecr gives one (RFC 7323).
        h.advance(to: .milliseconds(650))
        let last = try #require(h.sent.last?.frame.tcpSegment?.tcp.options.timestamps?.value)
        h.peer.sends(.ack(seq: 1, ack: 4, options: [.nop, .nop, .ts(ecr: last)]))
        try h.send(child, "two")
        h.expectSent(flags: .pshAck, seq: 4, at: .milliseconds(650))
        let rto = try #require(h.host.info(of: child)?.rto)
        #expect(rto < .milliseconds(420))
        h.advance(to: .milliseconds(650) + rto)
        h.expectSent(flags: .pshAck, seq: 4, payload: Array(text: "two"), at: .milliseconds(650) + rto)
    }

    @Test("a retransmission collapses small segments into one (tcp_retrans_collapse)")
    func collapse() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener, synOptions: linuxSYNWithoutSack)
        try h.setsockopt(child, .TCP_NODELAY(true))
        try h.send(child, "abc")
        try h.send(child, "def")
        h.expectSent(flags: .pshAck, seq: 1, payload: Array(text: "abc"))
        h.expectSent(flags: .pshAck, seq: 4, payload: Array(text: "def"))
        h.advance(to: .milliseconds(220))
        h.expectSent(flags: .pshAck, seq: 1, payload: Array(text: "abcdef"), at: .milliseconds(220))
        h.peer.sends(.ack(seq: 1, ack: 7))
        #expect(h.host.info(of: child)?.packetsOut == 0)
    }

    @Test("Karn: without timestamps, the ACK of a retransmission gives no RTT sample and the backed-off RTO stays")
    func karn() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener, synOptions: [.mss(1460), .nop, .wscale(7)])
        #expect(h.host.info(of: child)?.timestamps == false)
        try h.send(child, "one")
        h.expectSent(flags: .pshAck, seq: 1, options: [], payload: Array(text: "one"), at: .milliseconds(10))
        h.advance(to: .milliseconds(220))
        h.expectSent(flags: .pshAck, seq: 1, at: .milliseconds(220))
        h.advance(to: .milliseconds(230))
        h.peer.sends(.ack(seq: 1, ack: 4))
        let info = try #require(h.host.info(of: child))
        #expect(info.rto == .milliseconds(420) && info.backoff == 1 && info.retransmits == 0)
        // The next segment waits the backed-off RTO; a fresh sample (from never-retransmitted data) resets it.
        try h.send(child, "two")
        h.expectSent(flags: .pshAck, seq: 4, at: .milliseconds(230))
        h.advance(to: .milliseconds(649))
        h.expectNothing()
        h.advance(to: .milliseconds(650))
        h.expectSent(flags: .pshAck, seq: 4, payload: Array(text: "two"), at: .milliseconds(650))
    }
}

import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// The third ACK: lost (reference §2 "SYN-ACK retransmission", §3), delayed so it rides on data (§4),
// and held back by TCP_DEFER_ACCEPT (§3.8).

/// Drops every pure ACK the client sends (the third ACK and its answers to retransmitted SYN-ACKs).
private func dropClientPureAcks(_ f: LinkFrame) -> String? {
    guard f.from == "client", let s = f.frame.tcpSegment, s.tcp.flags == .ack, s.payload.isEmpty else { return nil }
    return "drop the client's pure ACKs"
}

@Suite("Third ACK: lost, delayed, deferred")
struct ThirdAckTests {
    @Test("third ACK lost: SYN-ACKs at 0, 1, 3, 7, 15, 31 s; the request dies silently at 63 s; data at 70 s draws a RST")
    func thirdAckLost() throws {
        let lab = TwoHosts()
        let listener = try lab.server.listen(port: 80, backlog: 128, at: lab.sim.now)
        lab.link.dropHook = dropClientPureAcks
        let conn = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)

        lab.sim.run(until: .zero + .seconds(62))
        #expect(lab.client.state(of: conn) == .established)
        #expect(lab.server.requestCount == 1)
        lab.sim.run(until: .zero + .seconds(69))

        let synAcks = lab.segments(from: "server")
        let first = try #require(synAcks.first)
        #expect(synAcks.map { $0.time - first.time } == [0, 1, 3, 7, 15, 31].map { Interval.seconds($0) })
        #expect(synAcks.allSatisfy {
            $0.segment.tcp.flags == .synAck && $0.segment.tcp.sequenceNumber == first.segment.tcp.sequenceNumber
                && $0.segment.tcp.acknowledgmentNumber == first.segment.tcp.acknowledgmentNumber
        })
        // The client, ESTABLISHED since the first SYN-ACK, answers each retransmission with a challenge
        // ACK (RFC 5961 §4.2): six pure ACKs, all lost.
        let clientAcks = lab.segments(from: "client").filter { $0.segment.tcp.flags == .ack }
        #expect(clientAcks.count == 6)
        #expect(lab.client.counters[.TCPSYNChallenge] == 5)

        // Retries exhausted at 63 s: the request is unlinked without a RST.
        #expect(lab.server.requestCount == 0)
        let removed = lab.events(on: "server").compactMap { e -> (Instant, DropReason?)? in
            if case let .requestRemoved(_, _, reason) = e.kind { return (e.time, reason) }
            return nil
        }
        #expect(removed.count == 1)
        #expect(removed.first.map { ($0.0 - Instant.zero) - first.time } == .seconds(63))
        #expect(removed.first?.1 == .requestExpired)
        #expect(lab.server.counters[.OutRsts] == 0)
        #expect(lab.server.counters[.TCPTimeouts] == 6)
        #expect(lab.server.counters[.TCPSynRetrans] == 5)
        #expect(throws: SocketError.EAGAIN) { try lab.server.accept(listener, blocking: false, at: lab.sim.now) }
        #expect(lab.client.state(of: conn) == .established)

        // 70 s: the client's first data finds only the listener, which resets it: RST <SEQ=SEG.ACK>, no ACK.
        lab.sim.run(until: .zero + .seconds(70))
        try lab.client.send(conn, Array(text: "hello"), at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        let data = try #require(lab.segments(from: "client").last)
        #expect(data.segment.payload == Array(text: "hello") && data.time == .seconds(70))
        let rst = try #require(lab.segments(from: "server").last)
        #expect(rst.segment.tcp.flags == .rst)
        #expect(rst.segment.tcp.sequenceNumber == data.segment.tcp.acknowledgmentNumber)
        #expect(rst.segment.tcp.acknowledgmentNumber == SequenceNumber(0))
        #expect(rst.time == .seconds(70) + .microseconds(50))
        #expect(lab.client.error(of: conn) == .ECONNRESET)
        #expect(lab.client.state(of: conn) == .close)
        #expect(lab.client.counters[.EstabResets] == 1)
    }

    @Test("only the first third ACK lost: the client's answer to the 1 s SYN-ACK completes the handshake")
    func thirdAckLostOnce() throws {
        let lab = TwoHosts()
        let listener = try lab.server.listen(port: 80, backlog: 128, at: lab.sim.now)
        var dropped = 0
        lab.link.dropHook = { f in
            guard dropClientPureAcks(f) != nil, dropped == 0 else { return nil }
            dropped += 1
            return "drop the first pure ACK from the client"
        }
        let conn = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(until: .zero + .seconds(10))
        let synAcks = lab.segments(from: "server").filter { $0.segment.tcp.flags == .synAck }
        #expect(synAcks.map(\.time) == [.microseconds(50), .seconds(1) + .microseconds(50)])
        let child = try #require(try lab.server.accept(listener, at: lab.sim.now))
        #expect(lab.server.state(of: child) == .established)
        #expect(lab.client.state(of: conn) == .established)
        #expect(lab.server.requestCount == 0)
        #expect(lab.client.counters[.TCPSYNChallenge] == 1)
    }

    @Test("SYN-ACK schedule with the harness: exact times, then silence (no RST) and a RST for a late ACK")
    func synAckScheduleExact() throws {
        let h = HostHarness.make()
        _ = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0))
        h.advance(to: .seconds(120))
        for t: Int64 in [0, 1, 3, 7, 15, 31] {
            h.expectSent(flags: .synAck, seq: 0, ack: 1, window: 65160, at: .seconds(t))
        }
        h.expectNothing()
        #expect(h.host.requestCount == 0)
        #expect(h[.TCPTimeouts] == 6)
        h.peer.sends(.ack(seq: 1, ack: 1))
        h.expectSent(flags: .rst, seq: 1, ack: .absolute(0), window: 0, options: [])
    }

    @Test("TCP_SYNCNT on the listener overrides tcp_synack_retries")
    func listenerSynCount() throws {
        let h = HostHarness.make()
        var options = SocketOptions()
        options.synCount = 2
        _ = try h.listen(backlog: 128, options: options)
        h.peer.sends(.syn(seq: 0))
        h.advance(to: .seconds(20))
        for t: Int64 in [0, 1, 3] { h.expectSent(flags: .synAck, at: .seconds(t)) }
        h.expectNothing()
        #expect(h.host.requestCount == 0)
    }

    @Test("send() in SYN_SENT: no pure third ACK; the first data segment carries it")
    func thirdAckRidesOnData() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.expectSent(flags: .syn, seq: 0, at: .zero)
        // A writer waits for the connection (sk_write_pending).
        #expect(try h.send(conn, "hello") == 5)
        h.expectNothing()

        h.advance(to: .milliseconds(1))
        server.sends(.synAck(seq: 0, ack: 1))
        h.expectSent(flags: .pshAck, seq: 1, ack: 1, options: [.nop, .nop, .ts()], payload: Array(text: "hello"),
                     at: .milliseconds(1))
        h.expectNothing()
        #expect(h.host.state(of: conn) == .established)
        server.sends(.ack(seq: 1, ack: 6))
        // Nothing owed: the delayed-ACK timer armed for the third ACK has nothing to send.
        h.advance(to: .milliseconds(500))
        h.expectNothing()
        #expect(h[.DelayedACKs] == 0)
    }

    @Test("TCP_QUICKACK(0) before the SYN-ACK (pingpong): the third ACK waits for the 200 ms delayed-ACK timer")
    func quickAckZeroDelaysThirdAck() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        try h.setsockopt(conn, .TCP_QUICKACK(0))
        h.expectSent(flags: .syn, seq: 0)
        h.advance(to: .milliseconds(1))
        server.sends(.synAck(seq: 0, ack: 1))
        #expect(h.host.state(of: conn) == .established)
        h.expectNothing()
        h.advance(to: .milliseconds(200))
        h.expectNothing()
        // TCP_DELACK_MAX after the SYN-ACK.
        h.advance(to: .milliseconds(201))
        h.expectSent(flags: .ack, seq: 1, ack: 1, window: 63, at: .milliseconds(201))
        #expect(h[.DelayedACKs] == 1)
    }

    @Test("TCP_QUICKACK(0), then data within 200 ms: the data carries the ACK and the timer sends nothing")
    func quickAckZeroThenData() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        try h.setsockopt(conn, .TCP_QUICKACK(0))
        h.expectSent(flags: .syn)
        server.sends(.synAck(seq: 0, ack: 1))
        h.advance(to: .milliseconds(50))
        try h.send(conn, "GET /")
        h.expectSent(flags: .pshAck, seq: 1, ack: 1, payload: Array(text: "GET /"), at: .milliseconds(50))
        server.sends(.ack(seq: 1, ack: 6))
        h.advance(to: .milliseconds(400))
        h.expectNothing()
    }

    @Test("TCP_DEFER_ACCEPT on the connecting socket also delays its third ACK")
    func deferAcceptOnClient() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        var options = SocketOptions()
        options.deferAcceptSeconds = 1
        _ = try h.connect(to: server, options: options)
        h.expectSent(flags: .syn)
        server.sends(.synAck(seq: 0, ack: 1))
        h.expectNothing()
        h.advance(to: .milliseconds(200))
        h.expectSent(flags: .ack, seq: 1, ack: 1, at: .milliseconds(200))
    }

    @Test("TCP_DEFER_ACCEPT: the bare third ACK is dropped; data completes the connection with the data readable")
    func deferAcceptData() throws {
        let h = HostHarness.make()
        var options = SocketOptions()
        options.deferAcceptSeconds = 5
        let listener = try h.listen(backlog: 128, options: options)
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1)
        h.peer.sends(.ack(seq: 1, ack: 1))
        h.expectNothing()
        #expect(h[.TCPDeferAcceptDrop] == 1)
        #expect(h.host.requestCount == 1)
        #expect(throws: SocketError.EAGAIN) { try h.accept(listener) }

        h.advance(to: .milliseconds(500))
        h.peer.sends(.data("GET / HTTP/1.0\r\n\r\n", seq: 1, ack: 1))
        // The child is made at once and ACKs its first data at once (quick ACK).
        h.expectSent(flags: .ack, seq: 1, ack: 19, at: .milliseconds(500))
        let child = try #require(try h.accept(listener))
        #expect(h.host.state(of: child) == .established)
        #expect(try h.receive(child) == Array(text: "GET / HTTP/1.0\r\n\r\n"))
        #expect(h.host.requestCount == 0)
    }

    @Test("TCP_DEFER_ACCEPT: SYN-ACKs held back until the last deferral period, whose ACK then completes")
    func deferAcceptResendSchedule() throws {
        let h = HostHarness.make()
        var options = SocketOptions()
        // 5 s = 3 retransmission periods (1 + 2 + 4 s).
        options.deferAcceptSeconds = 5
        let listener = try h.listen(backlog: 128, options: options)
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, at: .zero)
        h.peer.sends(.ack(seq: 1, ack: 1))
        h.advance(to: .milliseconds(6999))
        // No SYN-ACK at 1 s or 3 s: the peer has ACKed, we wait for its data.
        h.expectNothing()
        h.advance(to: .seconds(7))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, at: .seconds(7))
        // Past the deferral a bare ACK is enough.
        h.peer.sends(.ack(seq: 1, ack: 1))
        h.expectNothing()
        let child = try #require(try h.accept(listener))
        #expect(h.host.state(of: child) == .established)
        #expect(h[.TCPDeferAcceptDrop] == 1)
    }

    @Test("TCP_DEFER_ACCEPT without data: SYN-ACKs at 0, 7, 15, 31 s, the request dropped at 63 s")
    func deferAcceptExpiry() throws {
        let h = HostHarness.make()
        var options = SocketOptions()
        options.deferAcceptSeconds = 5
        _ = try h.listen(backlog: 128, options: options)
        h.peer.sends(.syn(seq: 0))
        h.peer.sends(.ack(seq: 1, ack: 1))
        h.advance(to: .seconds(62))
        for t: Int64 in [0, 7, 15, 31] { h.expectSent(flags: .synAck, at: .seconds(t)) }
        h.expectNothing()
        #expect(h.host.requestCount == 1)
        h.advance(to: .seconds(63))
        #expect(h.host.requestCount == 0)
        h.expectNothing()
    }
}

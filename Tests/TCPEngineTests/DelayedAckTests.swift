import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// Linux's delayed-ACK machinery on an established connection (reference §5): quick-ACK credits for the
// first segments, pingpong mode entered by a quick reply and left by the delayed-ACK timer, the 40 ms
// ato, "more than one full segment unacknowledged", immediate ACKs for out-of-order data and filled
// holes, TCP_QUICKACK. The host is the server; its SYN-ACK offered wscale 10, so windows read in KB.

@Suite("Delayed ACK: quick ACKs, pingpong, the 40 ms timer")
struct DelayedAckTests {
    @Test("request/response: the first request is ACKed at once, the reply enters pingpong, later ACKs ride on replies")
    func requestResponse() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener)  // ESTABLISHED at 10 ms, SRTT 10 ms

        // The first data ever: quick-ACK credits (min(rcv_wnd / 2·rcv_mss, 16) = 16), so an ACK at once.
        h.advance(to: .milliseconds(20))
        h.peer.sends(.data(pattern(100), seq: 1, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 101, window: 64, options: [.nop, .nop, .ts()], at: .milliseconds(20))
        #expect(h.host.info(of: child)?.ack.quick == 15)
        #expect(try h.receive(child) == pattern(100))
        // The reply within ato (40 ms) of the request: pingpong (tcp_pingpong_thresh 1).
        try h.send(child, pattern(200))
        h.expectSent(flags: .pshAck, seq: 1, ack: 101, payload: pattern(200), at: .milliseconds(20))
        #expect(h.host.info(of: child)?.ack.pingpong == 1)

        // The next request is not ACKed by itself: the ACK waits for the reply, which carries it.
        h.advance(to: .milliseconds(30))
        h.peer.sends(.data(pattern(100, from: 100), seq: 101, ack: 201))
        h.expectNothing()
        h.advance(to: .milliseconds(35))
        _ = try h.receive(child)
        try h.send(child, pattern(200, from: 200))
        h.expectSent(flags: .pshAck, seq: 201, ack: 201, at: .milliseconds(35))
        h.advance(to: .milliseconds(45))
        h.peer.sends(.ack(seq: 201, ack: 401))
        // The delayed-ACK timer (armed for 70 ms) finds nothing owed.
        h.advance(to: .milliseconds(250))
        h.expectNothing()
        #expect(h[.DelayedACKs] == 0)
    }

    @Test("in pingpong a lone segment without a reply is ACKed 40 ms later; the timer leaves pingpong and quick ACKs return")
    func loneSegment() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.data(pattern(100), seq: 1, ack: 1))
        h.expectSent(flags: .ack, ack: 101, at: .milliseconds(20))
        _ = try h.receive(child)
        try h.send(child, pattern(200))
        h.expectSent(flags: .pshAck, seq: 1, ack: 101)

        // A request the application leaves unanswered.
        h.advance(to: .milliseconds(30))
        h.peer.sends(.data(pattern(100, from: 100), seq: 101, ack: 201))
        h.advance(to: .milliseconds(69))
        h.expectNothing()
        h.advance(to: .milliseconds(70))
        h.expectSent(flags: .ack, seq: 201, ack: 201, at: .milliseconds(70))
        #expect(h[.DelayedACKs] == 1)
        let info = try #require(h.host.info(of: child))
        #expect(info.ack.pingpong == 0)
        #expect(info.ack.ato == .milliseconds(40))

        // Out of pingpong with quick-ACK credit left: the next segment is ACKed at once.
        h.advance(to: .milliseconds(100))
        h.peer.sends(.data(pattern(10), seq: 201, ack: 201))
        h.expectSent(flags: .ack, seq: 201, ack: 211, at: .milliseconds(100))
    }

    @Test("two full-sized segments: the second leaves more than rcv_mss unacknowledged and is ACKed when read; one alone waits")
    func everySecondFullSegment() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.data(pattern(100), seq: 1, ack: 1))
        h.expectSent(flags: .ack, ack: 101)
        _ = try h.receive(child)
        try h.send(child, pattern(10))
        h.expectSent(flags: .pshAck, seq: 1, ack: 101)  // pingpong now

        // 1448 bytes (an MSS with timestamps): rcv_mss becomes 1448; one segment is not "more than one".
        h.advance(to: .milliseconds(30))
        h.peer.sends(.data(pattern(1448), seq: 101, ack: 11, flags: .ack))
        h.expectNothing()
        #expect(h.host.info(of: child)?.ack.rcvMSS == 1448)
        #expect(try h.receive(child).count == 1448)
        h.expectNothing()
        // The second: 2896 bytes unacknowledged > rcv_mss. The window would shrink while the data sits
        // unread, so tcp_input.c leaves it to the read: tcp_cleanup_rbuf sends the ACK.
        h.peer.sends(.data(pattern(1448, from: 1448), seq: 1549, ack: 11, flags: .ack))
        h.expectNothing()
        #expect(try h.receive(child).count == 1448)
        h.expectSent(flags: .ack, seq: 11, ack: 2997, at: .milliseconds(30))

        // A third, alone: the 40 ms timer.
        h.peer.sends(.data(pattern(1448, from: 2896), seq: 2997, ack: 11, flags: .ack))
        _ = try h.receive(child)
        h.advance(to: .milliseconds(69))
        h.expectNothing()
        h.advance(to: .milliseconds(70))
        h.expectSent(flags: .ack, seq: 11, ack: 4445, at: .milliseconds(70))
        #expect(h[.DelayedACKs] == 1)
    }

    @Test("out-of-order data is ACKed at once with a SACK block; the segment that fills the hole is ACKed at once")
    func outOfOrderAndFilledHole() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.data(pattern(100), seq: 1, ack: 1))
        h.expectSent(flags: .ack, ack: 101)
        _ = try h.receive(child)
        try h.send(child, pattern(10))
        h.expectSent(flags: .pshAck, seq: 1, ack: 101)  // pingpong: in-order data would wait

        h.advance(to: .milliseconds(30))
        let hole = h.peer.seq(201)
        h.peer.sends(.data(pattern(100, from: 200), seq: 201, ack: 11))
        h.expectSent(flags: .ack, seq: 11, ack: 101,
                     options: [.nop, .nop, .ts(), .nop, .nop, .sack([SACKBlock(left: hole, right: hole + 100)])],
                     at: .milliseconds(30))
        #expect(h[.TCPOFOQueue] == 1)
        // The missing segment: RFC 5681 §4.2, an immediate ACK for the whole.
        h.peer.sends(.data(pattern(100, from: 100), seq: 101, ack: 11))
        h.expectSent(flags: .ack, seq: 11, ack: 301, options: [.nop, .nop, .ts()], at: .milliseconds(30))
        #expect(try h.receive(child) == pattern(200, from: 100))
    }

    @Test("a retransmitted segment is ACKed at once with a D-SACK block (RFC 2883)")
    func duplicateSegment() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.data(pattern(100), seq: 1, ack: 1))
        h.expectSent(flags: .ack, ack: 101)
        _ = try h.receive(child)
        try h.send(child, pattern(10))
        h.expectSent(flags: .pshAck, seq: 1, ack: 101)

        h.advance(to: .milliseconds(30))
        h.peer.sends(.data(pattern(100), seq: 1, ack: 11))
        let start = h.peer.seq(1)
        h.expectSent(flags: .ack, seq: 11, ack: 101,
                     options: [.nop, .nop, .ts(), .nop, .nop, .sack([SACKBlock(left: start, right: start + 100)])],
                     at: .milliseconds(30))
        #expect(h[.TCPDSACKOldSent] == 1)
        #expect(h[.DelayedACKLost] == 1)
        // Quick-ACK mode again (16 credits, pingpong left): the next segment is ACKed at once.
        #expect(h.host.info(of: child)?.ack.pingpong == 0)
        h.peer.sends(.data(pattern(5), seq: 101, ack: 11))
        h.expectSent(flags: .ack, seq: 11, ack: 106, options: [.nop, .nop, .ts()], at: .milliseconds(30))
    }

    @Test("TCP_QUICKACK(0) enters pingpong; TCP_QUICKACK(1) leaves it and sends the pending ACK once the data is read")
    func quickAckOption() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener)
        try h.setsockopt(child, .TCP_QUICKACK(0))
        #expect(h.host.info(of: child)?.ack.pingpong == 1)
        // Pingpong from the start: even the first request waits.
        h.advance(to: .milliseconds(20))
        h.peer.sends(.data(pattern(100), seq: 1, ack: 1))
        h.expectNothing()
        // The read alone sends nothing in pingpong (tcp_cleanup_rbuf: PUSHED counts only outside it).
        h.advance(to: .milliseconds(25))
        #expect(try h.receive(child) == pattern(100))
        h.expectNothing()
        // TCP_QUICKACK(1) leaves pingpong and runs tcp_cleanup_rbuf: the queue is empty and a push was
        // seen, so the ACK goes now. (With the data still unread it would not: sk_rmem_alloc ≠ 0.)
        try h.setsockopt(child, .TCP_QUICKACK(1))
        h.expectSent(flags: .ack, seq: 1, ack: 101, at: .milliseconds(25))
        #expect(h.host.info(of: child)?.ack.pingpong == 0)
        h.advance(to: .seconds(1))
        h.expectNothing()
        #expect(h[.DelayedACKs] == 0)
    }

    @Test("SACK compression: three duplicate ACKs at once, then one per 5 % of SRTT (at most 1 ms)")
    func sackCompression() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        _ = try h.establish(listener)  // SRTT 10 ms: 500 µs
        h.advance(to: .milliseconds(20))
        for i: Int64 in 1...3 {
            h.peer.sends(.data(pattern(100), seq: .relative(1 + 100 * i), ack: 1))
            h.expectSent(flags: .ack, ack: 1, at: .milliseconds(20))
        }
        h.peer.sends(.data(pattern(100), seq: 401, ack: 1))
        h.peer.sends(.data(pattern(100), seq: 501, ack: 1))
        h.expectNothing()
        h.advance(to: .microseconds(20_499))
        h.expectNothing()
        h.advance(to: .microseconds(20_500))
        let hole = h.peer.seq(101)
        h.expectSent(flags: .ack, ack: 1,
                     options: [.nop, .nop, .ts(), .nop, .nop, .sack([SACKBlock(left: hole, right: hole + 500)])],
                     at: .microseconds(20_500))
        #expect(h[.TCPAckCompressed] == 1)
        #expect(h[.DelayedACKs] == 0)
    }
}

import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// Flow control (tcp_output.c, tcp_timer.c): zero-window probes (ICSK_TIME_PROBE0, tcp_write_wakeup),
// a receive window that closes as data sits unread and reopens as the application reads
// (__tcp_select_window, __tcp_cleanup_rbuf), and the peer's MSS and window scale.

@Suite("Windows: zero-window probes, a window that opens as the application reads")
struct WindowTests {
    @Test("the peer's window closes: probes (seq = snd_una − 1) after the RTO, backing off; data goes when it opens")
    func zeroWindowProbes() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener, synOptions: linuxSYNWithoutSack)
        try h.send(child, pattern(1000))
        h.expectSent(flags: .pshAck, seq: 1, payload: pattern(1000), at: .milliseconds(10))
        h.advance(to: .milliseconds(20))
        h.peer.sends(.ack(seq: 1, ack: 1001, window: 0))
        try h.send(child, pattern(500, from: 1000))
        h.expectNothing()
        #expect(h.host.info(of: child)?.bytesUnsent == 500)
        // Nothing in flight, data waiting: the probe timer at max(RTO, 200 ms) = 210 ms.
        h.advance(to: .milliseconds(229))
        h.expectNothing()
        h.advance(to: .milliseconds(230))
        h.expectSent(flags: .ack, seq: 1000, ack: 1, payload: [], at: .milliseconds(230))
        #expect(h[.TCPWinProbe] == 1)
        // The peer answers, still with a zero window: the next probe backs off (420 ms).
        h.peer.sends(.ack(seq: 1, ack: 1001, window: 0))
        #expect(h.host.info(of: child)?.probesOut == 0)
        h.advance(to: .milliseconds(649))
        h.expectNothing()
        h.advance(to: .milliseconds(650))
        h.expectSent(flags: .ack, seq: 1000, ack: 1, at: .milliseconds(650))
        h.peer.sends(.ack(seq: 1, ack: 1001, window: 0))
        h.advance(to: .milliseconds(1489))
        h.expectNothing()
        h.advance(to: .milliseconds(1490))
        h.expectSent(flags: .ack, seq: 1000, ack: 1, at: .milliseconds(1490))
        #expect(h[.TCPWinProbe] == 3)
        // The window opens: the waiting data goes at once, and no more probes.
        h.advance(to: .seconds(2))
        h.peer.sends(.ack(seq: 1, ack: 1001, window: 502))
        h.expectSent(flags: .pshAck, seq: 1001, payload: pattern(500, from: 1000), at: .seconds(2))
        h.peer.sends(.ack(seq: 1, ack: 1501, window: 502))
        h.advance(to: .seconds(10))
        h.expectNothing()
        #expect(h.host.info(of: child)?.backoff == 0)
    }

    @Test("a zero window that never opens: probes go on while answered (RFC 1122 §4.2.2.17), and time out when not")
    func zeroWindowGiveUp() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let child = try h.establish(listener, synOptions: linuxSYNWithoutSack)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.ack(seq: 1, ack: 1, window: 0))
        try h.send(child, pattern(10))
        // Unanswered probes: tcp_retries2 (15) of them, then ETIMEDOUT.
        h.advance(to: .seconds(3000))
        let probes = h.takePending().compactMap(\.frame.tcpSegment)
        #expect(probes.count == 15)
        #expect(probes.allSatisfy { $0.tcp.flags == .ack && $0.payload.isEmpty })
        #expect(h.host.error(of: child) == .ETIMEDOUT)
        #expect(h[.TCPWinProbe] == 15)
    }

    @Test("the receive window closes as data sits unread and reopens as the application reads (SO_RCVBUF 4096)")
    func windowOpensAsTheApplicationReads() throws {
        let h = HostHarness.make()
        var options = SocketOptions()
        options.receiveBuffer = 4096
        let listener = try h.listen(backlog: 8, options: options)
        // rcvbuf 8192, half of it for the window: 2 × 1448 offered, no window scale (the buffer is small).
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, window: 2896,
                     options: [.mss(1460), .sackOK, .ts(), .nop, .wscale(0)])
        h.advance(to: .milliseconds(10))
        h.peer.sends(.ack(seq: 1, ack: 1, window: 502))
        let child = try #require(try h.accept(listener))
        #expect(h.host.info(of: child)?.windowClamp == 2896)

        h.advance(to: .milliseconds(20))
        h.peer.sends(.data(pattern(1448), seq: 1, ack: 1, flags: .ack))
        h.expectSent(flags: .ack, ack: 1449, window: 1448, at: .milliseconds(20))
        // The first data granted rcv_wnd / (2 · rcv_mss) = 1 quick ACK, now spent; the second segment is
        // not "more than one" rcv_mss: its ACK, with the closed window, waits for the 40 ms timer.
        h.peer.sends(.data(pattern(1448, from: 1448), seq: 1449, ack: 1, flags: .ack))
        h.expectNothing()
        h.advance(to: .milliseconds(60))
        h.expectSent(flags: .ack, ack: 2897, window: 0, at: .milliseconds(60))
        #expect(h[.TCPToZeroWindowAdv] == 1)
        // Data into the closed window, with data queued: "tcp: do not accept packets beyond window"
        // (6.17) drops it in tcp_sequence and answers with a duplicate ACK.
        h.peer.sends(.data(pattern(100), seq: 2897, ack: 1, flags: .ack))
        h.expectSent(flags: .ack, ack: 2897, window: 0, at: .milliseconds(60))
        #expect(h[.BeyondWindow] == 1)
        // Reading half: a window update as soon as the window at least doubles.
        h.advance(to: .milliseconds(70))
        #expect(try h.receive(child, max: 1448) == pattern(1448))
        h.expectSent(flags: .ack, ack: 2897, window: 1448, at: .milliseconds(70))
        #expect(h[.TCPFromZeroWindowAdv] == 1)
        #expect(try h.receive(child) == pattern(1448, from: 1448))
        h.expectSent(flags: .ack, ack: 2897, window: 2896, at: .milliseconds(70))
    }

    @Test("segments follow the peer's MSS and scaled window: 1448-byte payloads with timestamps, at most the window")
    func mssAndWindowScale() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        // The peer offers MSS 1000 and a window of 10 × 128 = 1280 bytes.
        h.peer.sends(.syn(seq: 0, options: [.mss(1000), .sackOK, .ts(), .nop, .wscale(7)]))
        h.expectSent(flags: .synAck)
        h.advance(to: .milliseconds(10))
        h.peer.sends(.ack(seq: 1, ack: 1, window: 10))
        let child = try #require(try h.accept(listener))
        #expect(h.host.info(of: child)?.mss == 988)
        try h.send(child, pattern(3000))
        // Only one full segment fits the 1280-byte window (a segment must fit whole: tcp_snd_wnd_test).
        h.expectSent(flags: .ack, seq: 1, payload: pattern(988))
        h.expectNothing()
        h.peer.sends(.ack(seq: 1, ack: 989, window: 100))
        h.expectSent(flags: .ack, seq: 989, payload: pattern(988, from: 988))
        h.expectSent(flags: .ack, seq: 1977, payload: pattern(988, from: 1976))
        h.expectSent(flags: .pshAck, seq: 2965, payload: pattern(36, from: 2964))
        h.expectNothing()
    }
}

import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// RFC 5961 on an established connection (reference §8, tcp_validate_incoming, tcp_ack): an in-window
// RST not exactly at rcv_nxt draws a challenge ACK, one at rcv_nxt resets, one out of the window changes
// nothing; a SYN draws a challenge ACK; challenge ACKs are limited to one per 500 ms per socket.

@Suite("RFC 5961: challenge ACKs for RSTs, SYNs and odd ACKs")
struct ChallengeAckTests {
    private func established(_ h: HostHarness) throws -> SocketID {
        let listener = try h.listen(backlog: 8)
        return try h.establish(listener)
    }

    @Test("an in-window RST not at rcv_nxt draws a challenge ACK (seq = snd_nxt, ack = rcv_nxt); the connection lives")
    func inWindowRst() throws {
        let h = HostHarness.make()
        let child = try established(h)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.rst(seq: 1000))
        h.expectSent(flags: .ack, seq: 1, ack: 1, options: [.nop, .nop, .ts()], at: .milliseconds(20))
        #expect(h.host.state(of: child) == .established)
        #expect(h[.TCPChallengeACK] == 1)
        #expect(h[.EstabResets] == 0)
    }

    @Test("a RST exactly at rcv_nxt resets: CLOSE, ECONNRESET, nothing sent")
    func exactRst() throws {
        let h = HostHarness.make()
        let child = try established(h)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.rst(seq: 1))
        h.expectNothing()
        #expect(h.host.state(of: child) == .close)
        #expect(h.host.error(of: child) == .ECONNRESET)
        #expect(h[.EstabResets] == 1)
        #expect(throws: SocketError.ECONNRESET) { try h.send(child, "x") }
    }

    @Test("an out-of-window RST is dropped silently")
    func outOfWindowRst() throws {
        let h = HostHarness.make()
        let child = try established(h)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.rst(seq: 1_000_000))   // beyond rcv_nxt + 65 KB
        h.peer.sends(.rst(seq: -10))         // before rcv_nxt
        h.expectNothing()
        #expect(h.host.state(of: child) == .established)
        #expect(h[.TCPChallengeACK] == 0)
    }

    @Test("a SYN on an established connection draws a challenge ACK (TCPSYNChallenge), in or out of the window")
    func synOnEstablished() throws {
        let h = HostHarness.make()
        let child = try established(h)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.syn(seq: 5000))
        h.expectSent(flags: .ack, seq: 1, ack: 1, at: .milliseconds(20))
        #expect(h[.TCPSYNChallenge] == 1)
        #expect(h[.TCPChallengeACK] == 1)
        // 600 ms later, a SYN far outside the window: the same answer.
        h.advance(to: .milliseconds(620))
        h.peer.sends(.syn(seq: 500_000_000))
        h.expectSent(flags: .ack, seq: 1, ack: 1, at: .milliseconds(620))
        #expect(h[.TCPSYNChallenge] == 2)
        #expect(h.host.state(of: child) == .established)
    }

    @Test("one challenge ACK per 500 ms per socket (tcp_invalid_ratelimit): the rest are counted and skipped")
    func rateLimit() throws {
        let h = HostHarness.make()
        _ = try established(h)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.rst(seq: 1000))
        h.expectSent(flags: .ack, at: .milliseconds(20))
        h.advance(to: .milliseconds(519))
        h.peer.sends(.rst(seq: 1001))
        h.peer.sends(.syn(seq: 7))
        h.expectNothing()
        #expect(h[.TCPACKSkippedChallenge] == 2)
        #expect(h[.TCPSYNChallenge] == 1)
        h.advance(to: .milliseconds(520))
        h.peer.sends(.rst(seq: 1002))
        h.expectSent(flags: .ack, at: .milliseconds(520))
        #expect(h[.TCPChallengeACK] == 2)
    }

    @Test("ACKs: beyond snd_nxt dropped silently in ESTABLISHED, challenged in FIN_WAIT1; far too old challenged")
    func oddAcks() throws {
        let h = HostHarness.make()
        let child = try established(h)
        try h.send(child, pattern(100))
        h.expectSent(flags: .pshAck, seq: 1, payload: pattern(100), at: .milliseconds(10))
        h.advance(to: .milliseconds(20))
        h.peer.sends(.ack(seq: 1, ack: 101))
        // Data with an ACK for bytes never sent: dropped, data and all.
        h.peer.sends(.data(pattern(10), seq: 1, ack: 5000))
        h.expectNothing()
        #expect(throws: SocketError.EAGAIN) { try h.receive(child) }
        // An ACK more than max(window, bytes acked) behind snd_una: RFC 5961 §5.2.
        h.peer.sends(.ack(seq: 1, ack: -70_000))
        h.expectSent(flags: .ack, seq: 101, ack: 1, at: .milliseconds(20))
        #expect(h[.TCPChallengeACK] == 1)
        // Merely old (within the bytes acked so far): ignored, its data still taken.
        h.advance(to: .milliseconds(600))
        h.peer.sends(.data(pattern(10), seq: 1, ack: 50))
        h.expectSent(flags: .ack, seq: 101, ack: 11, at: .milliseconds(600))
        #expect(try h.receive(child) == pattern(10))
        // FIN_WAIT1: an ACK beyond snd_nxt is challenged.
        h.close(child)
        h.expectSent(flags: .finAck, seq: 101, ack: 11, at: .milliseconds(600))
        h.advance(to: .milliseconds(700))
        h.peer.sends(.ack(seq: 11, ack: 9000))
        h.expectSent(flags: .ack, seq: 102, ack: 11, at: .milliseconds(700))
        #expect(h[.TCPChallengeACK] == 2)
    }

    @Test("an old duplicate data segment is not a challenge: a duplicate ACK, rate-limited only without data")
    func duplicateDataAnsweredAlways() throws {
        let h = HostHarness.make()
        let child = try established(h)
        h.advance(to: .milliseconds(20))
        h.peer.sends(.data(pattern(100), seq: 1, ack: 1))
        h.expectSent(flags: .ack, ack: 101)
        _ = try h.receive(child)
        // Entirely below rcv_wup: tcp_sequence fails; data is never rate-limited (no ACK loop).
        h.peer.sends(.data(pattern(50), seq: 1, ack: 1))
        h.peer.sends(.data(pattern(50), seq: 1, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 101)
        h.expectSent(flags: .ack, seq: 1, ack: 101)
        #expect(h[.TCPChallengeACK] == 0)
    }
}

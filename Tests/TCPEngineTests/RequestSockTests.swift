import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// Request socks in NEW_SYN_RECV (reference §2 reqsk_timer_handler, §3 tcp_check_req).

@Suite("Request socks: duplicate SYNs, young/old pruning, segments in NEW_SYN_RECV")
struct RequestSockTests {
    @Test("a duplicate SYN re-sends the SYN-ACK at once, at most one per 500 ms, and pushes the timer out")
    func duplicateSyn() throws {
        let h = HostHarness.make()
        _ = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, at: .zero)

        h.advance(to: .milliseconds(100))
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, at: .milliseconds(100))
        #expect(h[.TCPSynRetrans] == 1)

        // tcp_invalid_ratelimit: 200 ms after the last answer is too soon.
        h.advance(to: .milliseconds(300))
        h.peer.sends(.syn(seq: 0))
        h.expectNothing()
        #expect(h[.TCPACKSkippedSynRecv] == 1)

        h.advance(to: .milliseconds(700))
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, at: .milliseconds(700))

        // The request timer was pushed to one timeout (1 s) after the last re-sent SYN-ACK.
        h.advance(to: .milliseconds(1699))
        h.expectNothing()
        h.advance(to: .milliseconds(1700))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, at: .milliseconds(1700))
        h.advance(to: .milliseconds(3699))
        h.expectNothing()
        h.advance(to: .milliseconds(3700))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, at: .milliseconds(3700))
        #expect(h.host.requestCount == 1)

        // The duplicate SYNs did not disturb the handshake.
        h.peer.sends(.ack(seq: 1, ack: 1))
        h.expectNothing()
        #expect(h.host.requestCount == 0)
        #expect(h[.PassiveOpens] == 1)
    }

    @Test("the 500 ms limit also holds for a duplicate SYN at time zero (no 'never answered' confusion)")
    func duplicateSynAtTimeZero() throws {
        let h = HostHarness.make()
        _ = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0))
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, at: .zero)
        h.expectSent(flags: .synAck, at: .zero)
        h.advance(to: .milliseconds(100))
        h.peer.sends(.syn(seq: 0))
        h.expectNothing()
        #expect(h[.TCPACKSkippedSynRecv] == 1)
    }

    @Test("no pressure (2·qlen ≤ max(8, backlog)): every request keeps tcp_synack_retries")
    func noPruning() throws {
        let h = HostHarness.make()
        _ = try h.listen(backlog: 8)
        let peers = (0..<4).map { h.makePeer(port: 30000 + UInt16($0), hostPort: 80) }
        for p in peers { p.sends(.syn(seq: 0)) }
        h.advance(to: .seconds(62))
        #expect(h.host.requestCount == 4)
        h.advance(to: .seconds(63))
        #expect(h.host.requestCount == 0)
        // 4 × (1 + 5) SYN-ACKs.
        #expect(h.takePending().count == 24)
    }

    /// The SYN-ACK times (since the start) of each peer and when its request expired.
    private func history(_ h: HostHarness, _ peers: [ScriptedPeer]) -> [(synAcks: [Interval], expired: Interval?)] {
        let sent = h.sent.compactMap { f in f.frame.tcpSegment.map { (f.time - Instant.zero, $0.tcp.destinationPort) } }
        let expired = h.events.compactMap { e -> (Interval, UInt16)? in
            if case let .requestRemoved(_, tuple, .requestExpired?) = e.kind { return (e.time - Instant.zero, tuple.remote.port) }
            return nil
        }
        return peers.map { p in (sent.filter { $0.1 == p.port }.map(\.0), expired.first { $0.1 == p.port }?.0) }
    }

    private static let full: [Interval] = [0, 1, 3, 7, 15, 31].map { .seconds($0) }

    @Test("pressure with only old requests: old ones are dropped after 2 retransmissions until qlen is half the backlog")
    func pruningOldRequests() throws {
        let h = HostHarness.make()
        _ = try h.listen(backlog: 16)
        // 10 requests: 2·10 > max(8, 16). At 1 s the young count protects them; at 3 s none is young and
        // max retries fall to 2, so at 7 s the oldest go — each one re-reading qlen, until 2·qlen ≤ 16.
        let peers = (0..<10).map { h.makePeer(port: 30000 + UInt16($0), hostPort: 80) }
        for p in peers { p.sends(.syn(seq: 0)) }
        h.advance(to: .seconds(100))
        let result = history(h, peers)
        for r in result.prefix(2) {
            #expect(r.synAcks == [0, 1, 3].map { Interval.seconds($0) })
            #expect(r.expired == .seconds(7))
        }
        for r in result.dropFirst(2) {
            #expect(r.synAcks == Self.full)
            #expect(r.expired == .seconds(63))
        }
        #expect(h.host.requestCount == 0)
    }

    @Test("young requests protect old ones: while the young are many, the old keep their retries")
    func youngRequestsProtectOld() throws {
        let h = HostHarness.make()
        _ = try h.listen(backlog: 16)
        let old = (0..<10).map { h.makePeer(port: 30000 + UInt16($0), hostPort: 80) }
        for p in old { p.sends(.syn(seq: 0)) }
        h.advance(to: .milliseconds(6500))
        // Seven young requests (qlen 17, the most a backlog of 16 takes): at 7 s the oldest see
        // qlen 17 < 4·young, so max retries stay at 4 and nobody is dropped then.
        let young = (0..<7).map { h.makePeer(port: 31000 + UInt16($0), hostPort: 80) }
        for p in young { p.sends(.syn(seq: 0)) }
        #expect(h.host.requestCount == 17)
        h.advance(to: .seconds(100))
        let o = history(h, old), y = history(h, young)
        // The two oldest get their 7 s retransmission (compare the test above) and go at 15 s, once the
        // young ones are old and gone themselves.
        for r in o.prefix(2) {
            #expect(r.synAcks == [0, 1, 3, 7].map { Interval.seconds($0) })
            #expect(r.expired == .seconds(15))
        }
        for r in o.dropFirst(2) {
            #expect(r.synAcks == Self.full)
            #expect(r.expired == .seconds(63))
        }
        // The young: pruned to 2 retransmissions once old themselves, while the queue is still crowded.
        for r in y {
            #expect(r.synAcks == [.milliseconds(6500), .milliseconds(7500), .milliseconds(9500)])
            #expect(r.expired == .milliseconds(13500))
        }
    }

    @Test("in NEW_SYN_RECV: an ACK for something else draws RST <SEQ=SEG.ACK>; the request stays")
    func badAckForRequest() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1)
        h.peer.sends(.ack(seq: 1, ack: 7))
        h.expectSent(flags: .rst, seq: 7, ack: .absolute(0), window: 0, options: [])
        #expect(h.host.requestCount == 1)
        h.peer.sends(.ack(seq: 1, ack: 1))
        h.expectNothing()
        #expect(try h.accept(listener) != nil)
    }

    @Test("in NEW_SYN_RECV: an in-window RST ends the request silently; a SYN at a new seq draws a RST")
    func rstAndSynInRequestWindow() throws {
        let h = HostHarness.make()
        _ = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck)
        h.peer.sends(.rst(seq: 1))
        h.expectNothing()
        #expect(h.host.requestCount == 0)
        #expect(h[.EmbryonicRsts] == 1)
        #expect(h[.AttemptFails] == 1)

        let other = h.makePeer(port: 40001, hostPort: 80)
        other.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, to: other)
        other.sends(.syn(seq: 1, options: []))
        h.expectSent(flags: .rstAck, seq: .absolute(0), ack: 2, to: other)
        #expect(h.host.requestCount == 0)
    }

    @Test("in NEW_SYN_RECV: an out-of-window segment gets an ACK (rate-limited), a segment without ACK is dropped")
    func outOfWindowAndNoAck() throws {
        let h = HostHarness.make()
        _ = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck)
        h.peer.sends(.ack(seq: 100_000, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 1)
        h.peer.sends(.data("no ack", seq: 1, flags: .psh))
        h.expectNothing()
        #expect(h.host.requestCount == 1)
        // tcp_oow_rate_limited: only SYNs and empty segments are limited ("data packets without SYNs
        // are not likely part of an ACK loop"); out-of-window data is answered every time.
        h.peer.sends(.ack(seq: 100_000, ack: 1))
        h.expectNothing()
        #expect(h[.TCPACKSkippedSynRecv] == 1)
        h.peer.sends(.data("far", seq: 200_000, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 1)
        h.peer.sends(.data("far", seq: 200_000, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 1)
    }

    @Test("PAWS in NEW_SYN_RECV (tcp_paws_reject, window 0): a third ACK with a TSval older than the SYN's is dropped")
    func pawsInRequest() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0, options: [.mss(1460), .sackOK, .ts(val: 5000, ecr: 0), .nop, .wscale(7)]))
        let synAck = try #require(h.expectSent(flags: .synAck, seq: 0, ack: 1))
        h.peer.sends(.ack(seq: 1, ack: 1, options: [.nop, .nop, .ts(val: 4999, ecr: synAck.tsVal)]))
        h.expectSent(flags: .ack, seq: 1, ack: 1, options: [.nop, .nop, .ts(ecr: 5000)])
        #expect(h[.PAWSEstab] == 1)
        #expect(h.host.requestCount == 1)
        // An RST with an old TSval is PAWS-rejected too (its timestamp is recent): dropped, no answer.
        h.peer.sends(PeerSegment(flags: .rst, seq: 1, window: 0, options: [.nop, .nop, .ts(val: 4000, ecr: 0)]))
        h.expectNothing()
        #expect(h.host.requestCount == 1)
        h.peer.sends(.ack(seq: 1, ack: 1, options: [.nop, .nop, .ts(val: 5000, ecr: synAck.tsVal)]))
        h.expectNothing()
        #expect(try h.accept(listener) != nil)
    }

    @Test("PAWS in NEW_SYN_RECV ignores a SYN whose TSval was 0 (\"some OSes send SYN with tsval=0\")")
    func pawsZeroTsRecent() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0, options: [.mss(1460), .sackOK, .ts(val: 0, ecr: 0), .nop, .wscale(7)]))
        let synAck = try #require(h.expectSent(flags: .synAck, seq: 0, ack: 1))
        h.peer.sends(.ack(seq: 1, ack: 1, options: [.nop, .nop, .ts(val: 0xF000_0000, ecr: synAck.tsVal)]))
        h.expectNothing()
        #expect(try h.accept(listener) != nil)
    }
}

import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// Every comparison of sequence numbers (and TS values) must be serial arithmetic (RFC 1982): these
// scenarios put the ISNs right below 2^32 so that ISN + 1 wraps to 0 or the data crosses the wrap.

@Suite("Sequence numbers across the 2^32 wrap")
struct SequenceWrapTests {
    static let last: UInt32 = 0xFFFF_FFFF

    @Test("passive open with both ISNs at 2^32 − 1: the SYN-ACK acks 0, the third ACK is seq 0 ack 0")
    func passiveOpenAtWrap() throws {
        let h = HostHarness.make(isn: FixedISN(Self.last), peerISN: Self.last)
        let listener = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: .absolute(Self.last)))
        h.expectSent(flags: .synAck, seq: .absolute(Self.last), ack: .absolute(0), window: 65160)
        h.peer.sends(.ack(seq: .absolute(0), ack: .absolute(0)))
        h.expectNothing()
        let child = try #require(try h.accept(listener))
        let info = try #require(h.host.info(of: child))
        #expect(info.state == .established)
        #expect(info.rcvNxt == SequenceNumber(0) && info.sndNxt == SequenceNumber(0) && info.sndUna == SequenceNumber(0))

        // Data both ways from sequence number 0.
        h.peer.sends(.data("abc", seq: .absolute(0), ack: .absolute(0)))
        h.expectSent(flags: .ack, seq: .absolute(0), ack: .absolute(3))
        try h.send(child, "xyz")
        h.expectSent(flags: .pshAck, seq: .absolute(0), ack: .absolute(3), payload: Array(text: "xyz"))
    }

    @Test("active open with ISN 2^32 − 1: SYN-ACK acking 0 is acceptable; ISS itself and 1 are not")
    func activeOpenAtWrap() throws {
        let h = HostHarness.make(isn: FixedISN(Self.last))
        let server = h.makePeer(port: 80, isn: Self.last - 5)
        let conn = try h.connect(to: server)
        h.expectSent(flags: .syn, seq: .absolute(Self.last), ack: .absolute(0))
        // SEG.ACK ≤ ISS: unacceptable.
        server.sends(.synAck(seq: 0, ack: .absolute(Self.last)))
        h.expectSent(flags: .rst, seq: .absolute(Self.last))
        // SEG.ACK > SND.NXT (= 0): unacceptable.
        server.sends(.synAck(seq: 0, ack: .absolute(1)))
        h.expectSent(flags: .rst, seq: .absolute(1))
        #expect(h.host.state(of: conn) == .synSent)
        server.sends(.synAck(seq: 0, ack: .absolute(0)))
        h.expectSent(flags: .ack, seq: .absolute(0), ack: .absolute(Self.last - 4))
        #expect(h.host.state(of: conn) == .established)
    }

    @Test("data across the wrap between two hosts: every byte arrives in order, ACKs wrap too")
    func dataAcrossWrap() throws {
        let lab = TwoHosts(clientISN: FixedISN(0xFFFF_FFF0), serverISN: FixedISN(0xFFFF_FFF0))
        let listener = try lab.server.listen(port: 80, backlog: 128, at: lab.sim.now)
        let conn = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(1))
        let child = try #require(try lab.server.accept(listener, at: lab.sim.now))
        let up = (0..<5000).map { UInt8(truncatingIfNeeded: $0) }
        let down = (0..<3000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try lab.client.send(conn, up, at: lab.sim.now)
        try lab.server.send(child, down, at: lab.sim.now)
        lab.sim.run(for: .seconds(1))
        #expect(try lab.server.receive(child, at: lab.sim.now) == up)
        #expect(try lab.client.receive(conn, at: lab.sim.now) == down)
        let c = try #require(lab.client.info(of: conn))
        // 0xFFFFFFF1 + 5000 wraps to 4985.
        #expect(c.sndNxt == SequenceNumber(0xFFFF_FFF1) + 5000 && c.sndNxt == SequenceNumber(4985))
        #expect(c.sndUna == c.sndNxt)
        #expect(c.rcvNxt == SequenceNumber(0xFFFF_FFF1) + 3000)
        #expect(lab.client.counters[.RetransSegs] == 0 && lab.server.counters[.RetransSegs] == 0)
    }

    @Test("harness: out-of-order data across the wrap is held and then delivered in order")
    func outOfOrderAcrossWrap() throws {
        let h = HostHarness.make(isn: FixedISN(0x1000), peerISN: 0xFFFF_FFF0)
        let listener = try h.listen(backlog: 128)
        h.handshake()
        let child = try #require(try h.accept(listener))
        // Bytes 1..<21 straddle the wrap (0xFFFFFFF1 up to 0x5); send the second half first.
        h.peer.sends(.data("klmnopqrst", seq: 11, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 1, options: [.nop, .nop, .ts(), .nop, .nop,
                                                             .sack([SACKBlock(left: h.peer.seq(11), right: h.peer.seq(21))])])
        h.peer.sends(.data("abcdefghij", seq: 1, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 21)
        #expect(try h.receive(child) == Array(text: "abcdefghijklmnopqrst"))
        #expect(h.peer.seq(21) == SequenceNumber(5))
    }

    @Test("third ACK lost with ISNs at 2^32 − 1: the same SYN-ACK schedule; the late data's RST has seq 0")
    func thirdAckLostAtWrap() throws {
        let lab = TwoHosts(clientISN: FixedISN(Self.last), serverISN: FixedISN(Self.last))
        _ = try lab.server.listen(port: 80, backlog: 128, at: lab.sim.now)
        lab.link.dropHook = { f in
            guard f.from == "client", let s = f.frame.tcpSegment, s.tcp.flags == .ack, s.payload.isEmpty else { return nil }
            return "drop the client's pure ACKs"
        }
        let conn = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(until: .zero + .seconds(70))
        let synAcks = lab.segments(from: "server")
        #expect(synAcks.map { $0.time - synAcks[0].time } == [0, 1, 3, 7, 15, 31].map { Interval.seconds($0) })
        #expect(synAcks.allSatisfy { $0.segment.tcp.acknowledgmentNumber == SequenceNumber(0) })
        #expect(lab.server.requestCount == 0)
        try lab.client.send(conn, Array(text: "late"), at: lab.sim.now)
        lab.sim.run(for: .milliseconds(1))
        let rst = try #require(lab.segments(from: "server").last?.segment)
        #expect(rst.tcp.flags == .rst && rst.tcp.sequenceNumber == SequenceNumber(0))
        #expect(lab.client.error(of: conn) == .ECONNRESET)
    }

    @Test("accept queue full with wrapping ISNs: the dropped third ACK completes later")
    func acceptQueueFullAtWrap() throws {
        let h = HostHarness.make(isn: FixedISN(Self.last), peerISN: Self.last)
        let listener = try h.listen(backlog: 1)
        let a = h.peer!
        let b = h.makePeer(port: 40001, hostPort: 80, isn: Self.last)
        let c = h.makePeer(port: 40002, hostPort: 80, isn: Self.last - 1)
        a.sends(.syn(seq: 0))
        b.sends(.syn(seq: 0))
        a.sends(.ack(seq: 1, ack: 1))
        c.sends(.syn(seq: 0))
        b.sends(.ack(seq: 1, ack: 1))
        c.sends(.ack(seq: 1, ack: 1))
        #expect(h[.ListenOverflows] == 1)
        for p in [a, b, c] { h.expectSent(flags: .synAck, seq: .absolute(Self.last), ack: .absolute(p.seq(1).rawValue), to: p) }
        h.expectNothing()
        _ = try h.accept(listener)
        h.advance(to: .seconds(1))
        h.expectSent(flags: .synAck, seq: .absolute(Self.last), ack: .absolute(Self.last), to: c)
        c.sends(.ack(seq: 1, ack: 1))
        _ = try #require(try h.accept(listener))
        let third = try #require(try h.accept(listener))
        #expect(h.host.info(of: third)?.rcvNxt == SequenceNumber(Self.last))
        #expect(h.host.info(of: third)?.sndNxt == SequenceNumber(0))
    }

    @Test("TS values across the wrap: an ACK echoing the first SYN-ACK's TSval after the TS clock wrapped")
    func timestampsAcrossWrap() throws {
        // The host's TS clock is 400 ms below the wrap at start: the 1 s SYN-ACK's TSval has wrapped.
        let h = HostHarness.make(isn: FixedISN(0x5000, tsOffset: Self.last - 400))
        let listener = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0))
        let first = try #require(h.expectSent(flags: .synAck, at: .zero))
        h.advance(to: .seconds(1))
        let second = try #require(h.expectSent(flags: .synAck, at: .seconds(1)))
        #expect(first.tsVal! > second.tsVal!)  // as plain integers: the clock wrapped
        // TSecr within [first, last] SYN-ACK TSval, going round the circle.
        h.peer.sends(.ack(seq: 1, ack: 1, options: [.nop, .nop, .ts(ecr: first.tsVal)]))
        h.expectNothing()
        #expect(h[.TSEcrRejected] == 0)
        #expect(try h.accept(listener) != nil)
    }

    @Test("PAWS on the SYN-ACK across a wrapping TS clock")
    func pawsAcrossWrap() throws {
        let h = HostHarness.make(isn: FixedISN(0x5000, tsOffset: Self.last - 2))
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        let syn = try #require(h.expectSent(flags: .syn))
        h.advance(to: .milliseconds(10))
        // A TSecr 5 ms after the SYN's TSval has wrapped past 0 and is still within [SYN, now].
        server.sends(.synAck(seq: 0, ack: 1, options: [.mss(1460), .sackOK, .ts(val: 1, ecr: syn.tsVal! &+ 5), .nop, .wscale(7)]))
        h.expectSent(flags: .ack, seq: 1, ack: 1)
        #expect(h[.PAWSActive] == 0)
        #expect(h.host.state(of: conn) == .established)
    }

    @Test("SYN cookie for a peer ISN of 2^32 − 1 (the ACK's seq is 0)")
    func cookieAtWrap() throws {
        var sysctl = Sysctls()
        sysctl.tcp_syncookies = 2
        let h = HostHarness.make(sysctl: sysctl, peerISN: Self.last)
        let listener = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: .absolute(0))
        h.peer.sends(.ack(seq: .absolute(0), ack: 1))
        h.expectNothing()
        #expect(h[.SyncookiesRecv] == 1)
        let child = try #require(try h.accept(listener))
        #expect(h.host.info(of: child)?.rcvNxt == SequenceNumber(0))
    }

    @Test("simultaneous open with both ISNs at 2^32 − 1")
    func simultaneousOpenAtWrap() throws {
        let lab = TwoHosts(clientISN: FixedISN(Self.last), serverISN: FixedISN(Self.last))
        let a = try lab.client.connect(to: SocketAddress(IPv4Address(198, 18, 0, 2), 2000), localPort: 1000, at: lab.sim.now)
        let b = try lab.server.connect(to: SocketAddress(IPv4Address(198, 18, 0, 1), 1000), localPort: 2000, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        #expect(lab.client.state(of: a) == .established && lab.server.state(of: b) == .established)
        #expect(lab.segments(from: "client").map(\.segment.tcp.acknowledgmentNumber) == [SequenceNumber(0), SequenceNumber(0)])
        try lab.client.send(a, Array(text: "wrap"), at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        #expect(try lab.server.receive(b, at: lab.sim.now) == Array(text: "wrap"))
    }

    @Test("TCP_DEFER_ACCEPT with the peer's ISN at 2^32 − 1: the bare ACK (seq 0) is recognised and held back")
    func deferAcceptAtWrap() throws {
        let h = HostHarness.make(isn: FixedISN(Self.last), peerISN: Self.last)
        var options = SocketOptions()
        options.deferAcceptSeconds = 1
        let listener = try h.listen(backlog: 128, options: options)
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: .absolute(Self.last), ack: .absolute(0))
        h.peer.sends(.ack(seq: .absolute(0), ack: .absolute(0)))
        h.expectNothing()
        #expect(h[.TCPDeferAcceptDrop] == 1)
        h.peer.sends(.data("x", seq: .absolute(0), ack: .absolute(0)))
        h.expectSent(flags: .ack, seq: .absolute(0), ack: .absolute(1))
        #expect(try h.accept(listener) != nil)
    }
}

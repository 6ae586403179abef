import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// SYN-SENT (reference §1 "SYN retransmission", §4 tcp_rcv_synsent_state_process, §8 RST generation).

@Suite("SYN-SENT: retransmission, refusal, bad ACKs, PAWS")
struct SynSentTests {
    @Test("SYN lost: retransmitted at 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s; ETIMEDOUT at 131 s; no RST")
    func synLost() throws {
        let lab = TwoHosts()
        _ = try lab.server.listen(port: 80, backlog: 128, at: lab.sim.now)
        lab.link.dropHook = { f in f.frame.tcpSegment?.tcp.flags == .syn ? "drop every SYN" : nil }
        let conn = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(until: .zero + .seconds(200))

        let sent = lab.segments(from: "client")
        // tcp_syn_linear_timeouts = 4 (6.5+): five 1 s RTOs, then doubling; 11 SYNs in all.
        #expect(sent.map(\.time) == [0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67].map { Interval.seconds($0) })
        #expect(sent.allSatisfy { $0.segment.tcp.flags == .syn && $0.dropped })
        #expect(Set(sent.map(\.segment.tcp.sequenceNumber)).count == 1)
        // The same options every time, with a fresh TSval.
        #expect(Set(sent.map { $0.segment.tcp.options.count }) == [5])
        #expect(lab.segments(from: "server").isEmpty)

        #expect(lab.client.error(of: conn) == .ETIMEDOUT)
        #expect(lab.client.state(of: conn) == .close)
        let failed = errors(lab.events(on: "client"), socket: conn)
        #expect(failed.count == 1)
        #expect(failed.first?.0 == .zero + .seconds(131))
        #expect(failed.first?.1 == .ETIMEDOUT)
        // 10 retransmissions, 11 timer expiries (the last one gives up), one failed attempt.
        #expect(lab.client.counters[.TCPSynRetrans] == 10)
        #expect(lab.client.counters[.RetransSegs] == 10)
        #expect(lab.client.counters[.TCPTimeouts] == 11)
        #expect(lab.client.counters[.AttemptFails] == 1)
        #expect(lab.client.counters[.OutRsts] == 0)
        #expect(lab.client.counters[.ActiveOpens] == 1)
        #expect(lab.client.counters[.TCPAbortOnTimeout] == 1)
    }

    @Test("tcp_syn_retries = 2 and no linear timeouts: SYNs at 0, 1, 3 s, ETIMEDOUT at 7 s (the pre-6.5 schedule)")
    func synRetriesSysctl() throws {
        var sysctl = Sysctls()
        sysctl.tcp_syn_retries = 2
        sysctl.tcp_syn_linear_timeouts = 0
        let h = HostHarness.make(sysctl: sysctl)
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.advance(to: .seconds(10))
        h.expectSent(flags: .syn, seq: 0, at: .zero)
        h.expectSent(flags: .syn, seq: 0, at: .seconds(1))
        h.expectSent(flags: .syn, seq: 0, at: .seconds(3))
        h.expectNothing()
        #expect(h.host.error(of: conn) == .ETIMEDOUT)
        #expect(errors(h.events, socket: conn).first?.0 == .zero + .seconds(7))
    }

    @Test("a SYN-ACK acking the wrong number: RST <SEQ=SEG.ACK>, and the SYN again after TCP_TIMEOUT_MIN (2 ms)")
    func badAckInSynSent() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.expectSent(flags: .syn, seq: 0, at: .zero)

        h.advance(to: .milliseconds(10))
        server.sends(.synAck(seq: 0, ack: 5))
        // RFC 9293 §3.10.7.3: <SEQ=SEG.ACK><CTL=RST>, no ACK flag, no options, window 0.
        h.expectSent(flags: .rst, seq: 5, ack: .absolute(0), window: 0, options: [], at: .milliseconds(10), to: server)
        h.expectNothing()
        #expect(h.host.state(of: conn) == .synSent)
        #expect(h.host.error(of: conn) == nil)

        // "Previous FIN/ACK or RST/ACK might be ignored": no retransmission yet, so the SYN goes again in 2 ms.
        h.advance(to: .milliseconds(11))
        h.expectNothing()
        h.advance(to: .milliseconds(12))
        h.expectSent(flags: .syn, seq: 0, at: .milliseconds(12))
        // The RTO stays 1 s (linear timeouts), counted from that retransmission.
        h.advance(to: .milliseconds(1012))
        h.expectSent(flags: .syn, seq: 0, at: .milliseconds(1012))

        // A correct SYN-ACK still completes the connection.
        server.sends(.synAck(seq: 0, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 1)
        #expect(h.host.state(of: conn) == .established)
    }

    @Test("an ACK at or below ISS is unacceptable too; after a retransmission the timer is left alone")
    func ackAtIssAfterRetransmission() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.advance(to: .seconds(1))
        h.expectSent(flags: .syn, seq: 0, at: .zero)
        h.expectSent(flags: .syn, seq: 0, at: .seconds(1))

        h.advance(to: .milliseconds(1500))
        server.sends(.synAck(seq: 0, ack: 0))  // SEG.ACK = ISS
        h.expectSent(flags: .rst, seq: 0, ack: .absolute(0), at: .milliseconds(1500))
        // A retransmission already happened: the next SYN keeps its place at 2 s.
        h.advance(to: .milliseconds(1999))
        h.expectNothing()
        h.advance(to: .seconds(2))
        h.expectSent(flags: .syn, seq: 0, at: .seconds(2))
        #expect(h.host.state(of: conn) == .synSent)
    }

    @Test("a bad ACK that carries RST is dropped, not answered")
    func badAckWithRst() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.expectSent(flags: .syn)
        server.sends(.rstAck(seq: .absolute(0), ack: 7))
        h.expectNothing()
        #expect(h.host.state(of: conn) == .synSent)
        #expect(h[.OutRsts] == 0)
    }

    @Test("RST+ACK acking the SYN: ECONNREFUSED, CLOSE, no more SYNs")
    func rstAckRefuses() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.expectSent(flags: .syn)
        h.advance(to: .milliseconds(3))
        server.sends(.rstAck(seq: .absolute(0), ack: 1))
        h.expectNothing()
        #expect(h.host.error(of: conn) == .ECONNREFUSED)
        #expect(h.host.state(of: conn) == .close)
        #expect(errors(h.events, socket: conn).map(\.1) == [.ECONNREFUSED])
        #expect(h[.AttemptFails] == 1)
        h.advance(to: .seconds(10))
        h.expectNothing()
        // The error is reported by the socket calls.
        #expect(throws: SocketError.ECONNREFUSED) { try h.send(conn, "x") }
    }

    @Test("a RST without ACK in SYN-SENT is ignored (it could be forged)")
    func rstWithoutAckIgnored() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.expectSent(flags: .syn, at: .zero)
        server.sends(.rst(seq: 0))
        h.expectNothing()
        #expect(h.host.state(of: conn) == .synSent)
        #expect(h.host.error(of: conn) == nil)
        h.advance(to: .seconds(1))
        h.expectSent(flags: .syn, seq: 0, at: .seconds(1))
    }

    @Test("a bare ACK (no SYN) acking the SYN is dropped in SYN-SENT")
    func bareAckDropped() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.expectSent(flags: .syn)
        server.sends(.ack(seq: 0, ack: 1, options: []))
        h.expectNothing()
        #expect(h.host.state(of: conn) == .synSent)
    }

    @Test("connect to a port without listener: the server answers R. seq 0 ack ISN+1; ECONNREFUSED")
    func connectionRefused() throws {
        let lab = TwoHosts()
        let conn = try lab.client.connect(to: SocketAddress(IPv4Address(198, 18, 0, 2), 81), at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        let syn = try #require(lab.segments(from: "client").first?.segment)
        let reply = lab.segments(from: "server").map(\.segment)
        #expect(reply.count == 1)
        let rst = try #require(reply.first)
        // tcp_v4_send_reset for a segment without ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
        #expect(rst.tcp.flags == .rstAck)
        #expect(rst.tcp.sequenceNumber == SequenceNumber(0))
        #expect(rst.tcp.acknowledgmentNumber == syn.tcp.sequenceNumber + 1)
        #expect(rst.tcp.window == 0 && rst.tcp.options.isEmpty && rst.payload.isEmpty)
        #expect(rst.tcp.sourcePort == 81 && rst.tcp.destinationPort == syn.tcp.sourcePort)
        #expect(lab.client.error(of: conn) == .ECONNREFUSED)
        #expect(lab.client.state(of: conn) == .close)
        #expect(lab.server.counters[.OutRsts] == 1)
        #expect(lab.client.counters[.AttemptFails] == 1)
        // Nothing else: no retransmitted SYN.
        lab.sim.run(for: .seconds(5))
        #expect(lab.segments(from: "client").count == 1)
    }

    @Test("PAWS on the SYN-ACK: a TSecr outside [first SYN's TSval, now] draws a RST (PAWSActive)")
    func pawsOnSynAck() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        let syn = try #require(h.expectSent(flags: .syn, at: .zero))
        let tsVal = try #require(syn.tsVal)
        h.advance(to: .milliseconds(5))

        // An echo from the future: we never sent that TSval.
        server.sends(.synAck(seq: 0, ack: 1, options: [.mss(1460), .sackOK, .ts(val: 1, ecr: tsVal &+ 1000), .nop, .wscale(7)]))
        h.expectSent(flags: .rst, seq: 1, ack: .absolute(0), at: .milliseconds(5))
        #expect(h[.PAWSActive] == 1)
        #expect(h.host.state(of: conn) == .synSent)

        // An echo from before the first SYN.
        server.sends(.synAck(seq: 0, ack: 1, options: [.mss(1460), .sackOK, .ts(val: 1, ecr: tsVal &- 1), .nop, .wscale(7)]))
        h.expectSent(flags: .rst, seq: 1)
        #expect(h[.PAWSActive] == 2)
        h.expectNothing()

        // An echo of the SYN's own TSval is fine.
        server.sends(.synAck(seq: 0, ack: 1, options: [.mss(1460), .sackOK, .ts(val: 1, ecr: tsVal), .nop, .wscale(7)]))
        h.expectSent(flags: .ack, seq: 1, ack: 1, options: [.nop, .nop, .ts(ecr: 1)])
        #expect(h.host.state(of: conn) == .established)
    }

    @Test("PAWS accepts the echo of a retransmitted SYN, and TSecr 0 is not checked")
    func pawsRange() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.advance(to: .seconds(1))
        h.expectSent(flags: .syn, at: .zero)
        let second = try #require(h.expectSent(flags: .syn, at: .seconds(1)))
        server.sends(.synAck(seq: 0, ack: 1, options: [.mss(1460), .sackOK, .ts(val: 1, ecr: second.tsVal), .nop, .wscale(7)]))
        h.expectSent(flags: .ack, seq: 1, ack: 1)
        #expect(h.host.state(of: conn) == .established)

        let other = h.makePeer(port: 81)
        let conn2 = try h.connect(to: other)
        h.expectSent(flags: .syn, to: other)
        other.sends(.synAck(seq: 0, ack: 1, options: [.mss(1460), .sackOK, .ts(val: 1, ecr: 0), .nop, .wscale(7)]))
        h.expectSent(flags: .ack, seq: 1, ack: 1, to: other)
        #expect(h.host.state(of: conn2) == .established)
        #expect(h[.PAWSActive] == 0)
    }
}

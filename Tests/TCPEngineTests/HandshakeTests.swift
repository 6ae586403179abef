import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// The three-way handshake as Linux 6.18 puts it on the wire (reference §1, §2, §11):
//   > S   seq 0,         win 64240, [mss 1460,sackOK,TS val X ecr 0,nop,wscale 10]
//   < S.  seq 0, ack 1,  win 65160, [mss 1460,sackOK,TS val Y ecr X,nop,wscale 10]
//   > .   seq 1, ack 1,  win 63,    [nop,nop,TS val X' ecr Y]

@Suite("Handshake: segments, options and windows")
struct HandshakeTests {
    @Test("passive open: SYN-ACK acks ISN+1 with Linux's options; the third ACK makes an ESTABLISHED child")
    func passiveOpen() throws {
        let h = HostHarness.make()
        let listener = try h.listen(port: 80, backlog: 128)

        h.peer.sends(.syn(seq: 0, window: 64240, options: [.mss(1460), .sackOK, .ts(val: 100, ecr: 0), .nop, .wscale(7)]))
        // 65160 = 45 × 1448: the SYN-ACK's window is quantized to mss − 12 when timestamps are on (§11);
        // wscale 10 comes from tcp_rmem[2] = 32 MB. The window of a SYN-ACK is never scaled.
        let synAck = try #require(h.expectSent(flags: .synAck, seq: 0, ack: 1, window: 65160,
                                               options: [.mss(1460), .sackOK, .ts(ecr: 100), .nop, .wscale(10)], at: .zero))
        #expect(h.host.requestCount == 1)
        #expect(throws: SocketError.EAGAIN) { try h.accept(listener) }

        h.advance(by: .milliseconds(1))
        // The third ACK consumes no sequence number: seq 1, as the first data byte will.
        h.peer.sends(.ack(seq: 1, ack: 1, window: 502, options: [.nop, .nop, .ts(val: 101, ecr: synAck.tsVal)]))
        h.expectNothing()
        #expect(h.host.requestCount == 0)

        let child = try #require(try h.accept(listener))
        let info = try #require(h.host.info(of: child))
        #expect(info.state == .established)
        #expect(info.tuple.remote == h.peer.socketAddress)
        #expect(info.irs == h.peer.seq(0))
        #expect(info.rcvNxt == h.peer.seq(1))
        #expect(info.sndNxt == h.peer.hostSeq(1))
        // The third ACK's window is scaled by the peer's shift (unlike the SYN's).
        #expect(info.sndWnd == 502 << 7)
        #expect(info.sndWscale == 7 && info.rcvWscale == 10)
        #expect(info.timestamps && info.sack)
        // Peer MSS 1460 less the 12 bytes of timestamps.
        #expect(info.mss == 1448)
        #expect(h[.PassiveOpens] == 1)
        #expect(h[.ActiveOpens] == 0)
    }

    @Test("active open: SYN without ACK consumes one sequence number; the third ACK is win 63 [nop,nop,TS]")
    func activeOpen() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80, isn: 5_000_000)
        let conn = try h.connect(to: server)
        #expect(h.host.state(of: conn) == .synSent)

        // SYN: no ACK flag and an ack field of zero; window min(rcv_wnd, 65535) unscaled; Linux's option order.
        let syn = try #require(h.expectSent(flags: .syn, seq: 0, ack: .absolute(0), window: 64240,
                                            options: [.mss(1460), .sackOK, .ts(ecr: 0), .nop, .wscale(10)], at: .zero,
                                            to: server))
        #expect(syn.header.dataOffset == 10)  // 20 option bytes: a 40-byte header
        let port = try #require(h.host.tuple(of: conn)?.local.port)
        #expect((32768...60999).contains(Int(port)))

        h.advance(by: .milliseconds(1))
        server.sends(.synAck(seq: 0, ack: 1, window: 65160,
                             options: [.mss(1460), .sackOK, .ts(val: 7000, ecr: syn.tsVal), .nop, .wscale(7)]))
        // 63 = the window rounded up to 1024-byte units, >> 10. The TS clock ticks in milliseconds.
        h.expectSent(flags: .ack, seq: 1, ack: 1, window: 63, options: [.nop, .nop, .ts(val: syn.tsVal! &+ 1, ecr: 7000)],
                     payload: [], at: .milliseconds(1), to: server)
        h.expectNothing()

        let info = try #require(h.host.info(of: conn))
        #expect(info.state == .established)
        #expect(info.sndUna == server.hostSeq(1) && info.sndNxt == server.hostSeq(1))
        #expect(info.rcvNxt == server.seq(1))
        // The SYN-ACK's window is taken as it is: never scaled (RFC 7323 §2.2).
        #expect(info.sndWnd == 65160)
        #expect(info.sndWscale == 7 && info.rcvWscale == 10)
        #expect(h[.ActiveOpens] == 1)

        // Data starts at relative seq 1.
        try h.send(conn, "hello")
        h.expectSent(flags: .pshAck, seq: 1, ack: 1, payload: Array(text: "hello"), to: server)
    }

    @Test("the same handshake through bytes: frames serialized, parsed and checksummed both ways")
    func handshakeThroughBytes() throws {
        let h = HostHarness.make()
        h.viaBytes = true
        let listener = try h.listen(backlog: 128)
        let synAck = try #require(h.handshake())
        #expect(synAck.segment.ip.totalLength == 20 + 40)
        #expect(synAck.segment.ip.dontFragment && synAck.segment.ip.ttl == 64)
        let child = try #require(try h.accept(listener))
        h.peer.sends(.data("hello", seq: 1, ack: 1))
        // The SYN-ACK offered 65160 bytes; 65155 are left and a window never shrinks (tcp_select_window),
        // so it is rounded up to 1024-byte units: 64.
        h.expectSent(flags: .ack, seq: 1, ack: 6, window: 64, options: [.nop, .nop, .ts()])
        #expect(try h.receive(child) == Array(text: "hello"))
        #expect(h[.InCsumErrors] == 0 && h[.InMalformed] == 0)
    }

    @Test("LISTEN: data in a SYN is ignored (no TFO); the SYN-ACK acks ISN+1 only")
    func synWithData() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 128)
        h.peer.sends(PeerSegment(flags: .syn, seq: 0, window: 64240, options: OptionSpec.linuxSYN(), payload: Array(text: "early")))
        h.expectSent(flags: .synAck, seq: 0, ack: 1)
        h.peer.sends(.ack(seq: 1, ack: 1))
        let child = try #require(try h.accept(listener))
        #expect(throws: SocketError.EAGAIN) { try h.receive(child) }
    }

    @Test("LISTEN: RST, SYN+FIN and flagless segments are dropped; anything with ACK is answered <SEQ=SEG.ACK><CTL=RST>")
    func listenerStrays() throws {
        let h = HostHarness.make()
        _ = try h.listen(backlog: 128)
        h.peer.sends(.rst(seq: 0))
        h.peer.sends(PeerSegment(flags: [.syn, .fin], seq: 0, window: 1000, options: []))
        h.peer.sends(PeerSegment(flags: [], seq: 0, window: 1000, options: []))
        h.expectNothing()
        #expect(h.host.requestCount == 0)
        h.peer.sends(.synAck(seq: 0, ack: .absolute(777)))
        h.expectSent(flags: .rst, seq: .absolute(777), ack: .absolute(0), window: 0, options: [])
        h.peer.sends(.rstAck(seq: 0, ack: .absolute(5)))
        h.expectNothing()
    }

    /// A SYN offering some of Linux's options, and the SYN-ACK the host must answer with.
    struct OfferCase: Sendable, CustomTestStringConvertible {
        var name: String
        var syn: [OptionSpec]
        var synAck: [OptionSpec]
        var window: UInt16
        /// The MSS the child then uses to send (peer MSS, less 12 with timestamps).
        var childMSS: Int
        var timestamps: Bool
        var sack: Bool
        var windowScale: Bool
        var testDescription: String { name }
    }

    static let offers: [OfferCase] = [
        OfferCase(name: "no timestamps",
                  syn: [.mss(1460), .nop, .nop, .sackOK, .nop, .wscale(7)],
                  synAck: [.mss(1460), .nop, .nop, .sackOK, .nop, .wscale(10)],
                  window: 64240, childMSS: 1460, timestamps: false, sack: true, windowScale: true),
        OfferCase(name: "no window scale",
                  syn: [.mss(1460), .sackOK, .ts(val: 777, ecr: 0)],
                  synAck: [.mss(1460), .sackOK, .ts(ecr: 777)],
                  window: 65160, childMSS: 1448, timestamps: true, sack: true, windowScale: false),
        OfferCase(name: "no SACK",
                  syn: [.mss(1460), .nop, .nop, .ts(val: 777, ecr: 0), .nop, .wscale(7)],
                  synAck: [.mss(1460), .nop, .nop, .ts(ecr: 777), .nop, .wscale(10)],
                  window: 65160, childMSS: 1448, timestamps: true, sack: false, windowScale: true),
        // Without an MSS option the peer's MSS is taken to be 536 (TCP_MSS_DEFAULT, RFC 9293 §3.7.1).
        OfferCase(name: "no options at all",
                  syn: [],
                  synAck: [.mss(1460)],
                  window: 64240, childMSS: 536, timestamps: false, sack: false, windowScale: false),
        OfferCase(name: "small MSS only",
                  syn: [.mss(1000)],
                  synAck: [.mss(1460)],
                  window: 64240, childMSS: 1000, timestamps: false, sack: false, windowScale: false),
    ]

    @Test("the SYN-ACK carries only the options the SYN offered", arguments: offers)
    func synAckMirrorsOffer(_ offer: OfferCase) throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0, options: offer.syn))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, window: offer.window, options: offer.synAck)
        h.peer.sends(.ack(seq: 1, ack: 1, window: 1000))
        h.expectNothing()
        let child = try #require(try h.accept(listener))
        let info = try #require(h.host.info(of: child))
        #expect(info.state == .established)
        #expect(info.mss == offer.childMSS)
        #expect(info.timestamps == offer.timestamps)
        #expect(info.sack == offer.sack)
        // Window scaling only when both SYNs carried it: otherwise both shifts are 0 and the
        // third ACK's window is taken unscaled.
        #expect((info.sndWscale, info.rcvWscale) == (offer.windowScale ? (7, 10) : (0, 0)))
        #expect(info.sndWnd == (offer.windowScale ? 1000 << 7 : 1000))
    }

    @Test("tcp_window_scaling = 0: no wscale in the SYN-ACK even when the SYN offers one")
    func windowScalingOff() throws {
        var sysctl = Sysctls()
        sysctl.tcp_window_scaling = 0
        let h = HostHarness.make(sysctl: sysctl)
        _ = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0, options: [.mss(1460), .sackOK, .ts(val: 5, ecr: 0), .nop, .wscale(7)]))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, window: 65160, options: [.mss(1460), .sackOK, .ts(ecr: 5)])
    }

    @Test("active open against a peer without window scaling: both shifts 0, the third ACK's window unscaled")
    func activeOpenWithoutPeerWindowScale() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        let syn = try #require(h.expectSent(flags: .syn, seq: 0, options: [.mss(1460), .sackOK, .ts(ecr: 0), .nop, .wscale(10)]))
        server.sends(.synAck(seq: 0, ack: 1, window: 65160, options: [.mss(1460), .sackOK, .ts(val: 9, ecr: syn.tsVal)]))
        // Never shrink the offered window: 64240 as in the SYN, now with no shift.
        h.expectSent(flags: .ack, seq: 1, ack: 1, window: 64240, options: [.nop, .nop, .ts(ecr: 9)])
        let info = try #require(h.host.info(of: conn))
        #expect(info.sndWscale == 0 && info.rcvWscale == 0)
    }

    @Test("two hosts: accept() returns the child; both ends ESTABLISHED with matching sequence numbers")
    func twoHosts() throws {
        let lab = TwoHosts(resolved: false)
        let listener = try lab.server.listen(port: 80, backlog: 128, at: lab.sim.now)
        let conn = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        let child = try #require(try lab.server.accept(listener, at: lab.sim.now))
        let c = try #require(lab.client.info(of: conn))
        let s = try #require(lab.server.info(of: child))
        #expect(c.state == .established && s.state == .established)
        #expect(c.iss + 1 == s.rcvNxt && s.iss + 1 == c.rcvNxt)
        #expect(c.tuple.local == s.tuple.remote && c.tuple.remote == s.tuple.local)

        let client = lab.segments(from: "client").map(\.segment)
        let server = lab.segments(from: "server").map(\.segment)
        #expect(client.map(\.tcp.flags) == [.syn, .ack])
        #expect(server.map(\.tcp.flags) == [.synAck])
        // SYN consumes one sequence number, the third ACK none.
        #expect(server[0].tcp.acknowledgmentNumber == client[0].tcp.sequenceNumber + 1)
        #expect(client[1].tcp.sequenceNumber == client[0].tcp.sequenceNumber + 1)
        #expect(client[1].tcp.acknowledgmentNumber == server[0].tcp.sequenceNumber + 1)
        #expect(client[0].tcp.acknowledgmentNumber == SequenceNumber(0))
        // The hosts resolved each other with ARP first.
        #expect(lab.sim.frames.contains { $0.frame.arp != nil })
    }
}

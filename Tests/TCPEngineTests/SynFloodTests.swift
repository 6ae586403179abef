import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// SYN floods and SYN cookies (reference §2 tcp_conn_request steps 2–4 and 8, §10 tcp_syncookies).

@Suite("SYN flood: cookies, drops, tcp_syncookies modes")
struct SynFloodTests {
    static let backlog = 8
    static let floodSize = 40

    /// SYNs from `count` spoofed sources (many addresses and ports) that never complete the handshake.
    private func flood(_ h: HostHarness, count: Int = floodSize) -> [ScriptedPeer] {
        (0..<count).map { i in
            let p = h.makePeer(address: IPv4Address(198, 18, 0, UInt8(10 + i % 200)), port: UInt16(20000 + i), hostPort: 80,
                               isn: UInt32(i) &* 0x0101_0101)
            p.sends(.syn(seq: 0))
            return p
        }
    }

    @Test("a full SYN queue answers with cookies: no request sock per cookie, no cookie retransmitted")
    func cookiesWhenQueueFull() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: Self.backlog)
        let spoofed = flood(h)
        // Every SYN is answered, each with a SYN-ACK to its own source.
        for p in spoofed { h.expectSent(flags: .synAck, seq: 0, ack: 1, at: .zero, to: p) }
        h.expectNothing()
        // The queue is full when qlen > backlog (3479c7549fb1): backlog + 1 request socks, the rest cookies.
        #expect(h.host.requestCount == Self.backlog + 1)
        let cookies = Self.floodSize - (Self.backlog + 1)
        #expect(h[.TCPReqQFullDoCookies] == cookies)
        #expect(h[.SyncookiesSent] == cookies)
        #expect(h[.ListenDrops] == 0)
        #expect(h.host.listenerInfo(of: listener)?.synQueueLength == Self.backlog + 1)

        // Only the request socks retransmit their SYN-ACKs.
        h.advance(to: .seconds(1))
        for p in spoofed.prefix(Self.backlog + 1) { h.expectSent(flags: .synAck, seq: 0, ack: 1, at: .seconds(1), to: p) }
        h.expectNothing()
    }

    @Test("during a flood a legitimate client still connects with a cookie, with the MSS from Linux's table")
    func legitimateClientWithCookie() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: Self.backlog)
        _ = flood(h)
        _ = h.takePending()

        let legit = h.makePeer(address: IPv4Address(198, 18, 0, 250), port: 50000, hostPort: 80, isn: 0x1234_5678)
        h.advance(to: .milliseconds(3))
        legit.sends(.syn(seq: 0, options: [.mss(1400), .sackOK, .ts(val: 42, ecr: 0), .nop, .wscale(7)]))
        // The cookie SYN-ACK: timestamps carry the peer's wscale and SACK back to us, so they are offered.
        let synAck = try #require(h.expectSent(flags: .synAck, seq: 0, ack: 1, window: 65160,
                                               options: [.mss(1460), .sackOK, .ts(ecr: 42), .nop, .wscale(10)], to: legit))
        #expect(h.host.requestCount == Self.backlog + 1)
        h.advance(to: .milliseconds(4))
        legit.sends(.ack(seq: 1, ack: 1, options: [.nop, .nop, .ts(val: 43, ecr: synAck.tsVal)]))
        h.expectNothing()
        #expect(h[.SyncookiesRecv] == 1)
        #expect(h[.SyncookiesFailed] == 0)

        let child = try #require(try h.accept(listener))
        let info = try #require(h.host.info(of: child))
        #expect(info.state == .established)
        #expect(info.tuple.remote == legit.socketAddress)
        #expect(info.iss == legit.hostSeq(0) && info.rcvNxt == legit.seq(1))
        // msstab = {536, 1300, 1440, 1460}: 1400 is carried as 1300, less 12 for timestamps.
        #expect(info.mss == 1300 - 12)
        #expect(info.timestamps && info.sack)
        #expect(info.sndWscale == 7 && info.rcvWscale == 10)
        // No request sock was made for it.
        #expect(h.host.requestCount == Self.backlog + 1)

        try h.send(child, "hi")
        h.expectSent(flags: .pshAck, seq: 1, ack: 1, payload: Array(text: "hi"), to: legit)
    }

    @Test("a cookie without timestamps cannot carry window scale or SACK: the SYN-ACK offers neither")
    func cookieWithoutTimestamps() throws {
        var sysctl = Sysctls()
        sysctl.tcp_syncookies = 2
        let h = HostHarness.make(sysctl: sysctl)
        let listener = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0, options: [.mss(1460), .nop, .nop, .sackOK, .nop, .wscale(7)]))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, window: 64240, options: [.mss(1460)])
        h.peer.sends(.ack(seq: 1, ack: 1, window: 1000))
        let child = try #require(try h.accept(listener))
        let info = try #require(h.host.info(of: child))
        #expect(info.mss == 1460)
        #expect(!info.timestamps && !info.sack)
        #expect(info.sndWscale == 0 && info.rcvWscale == 0)
        #expect(info.sndWnd == 1000)
    }

    @Test("tcp_syncookies = 0: past the backlog SYNs are dropped (TCPReqQFullDrop), legitimate ones too")
    func cookiesOff() throws {
        var sysctl = Sysctls()
        sysctl.tcp_syncookies = 0
        let h = HostHarness.make(sysctl: sysctl)
        _ = try h.listen(backlog: Self.backlog)
        let spoofed = flood(h)
        for p in spoofed.prefix(Self.backlog + 1) { h.expectSent(flags: .synAck, to: p) }
        h.expectNothing()
        let dropped = Self.floodSize - (Self.backlog + 1)
        #expect(h[.TCPReqQFullDrop] == dropped)
        #expect(h[.ListenDrops] == dropped)
        #expect(h[.TCPReqQFullDoCookies] == 0 && h[.SyncookiesSent] == 0)
        #expect(h.host.requestCount == Self.backlog + 1)

        let legit = h.makePeer(address: IPv4Address(198, 18, 0, 250), port: 50000, hostPort: 80)
        legit.sends(.syn(seq: 0))
        h.expectNothing()
        // A stray ACK is not taken for a cookie: RST.
        legit.sends(.ack(seq: 1, ack: .absolute(12345)))
        h.expectSent(flags: .rst, seq: .absolute(12345), to: legit)
    }

    @Test("tcp_syncookies = 2: cookies always, even with an empty SYN queue; the ACK completes")
    func cookiesAlways() throws {
        var sysctl = Sysctls()
        sysctl.tcp_syncookies = 2
        let h = HostHarness.make(sysctl: sysctl)
        let listener = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0))
        let synAck = try #require(h.expectSent(flags: .synAck, seq: 0, ack: 1,
                                               options: [.mss(1460), .sackOK, .ts(), .nop, .wscale(10)]))
        #expect(h.host.requestCount == 0)
        #expect(h[.TCPReqQFullDoCookies] == 1 && h[.SyncookiesSent] == 1)
        // Never retransmitted: there is nothing to retransmit from.
        h.advance(to: .seconds(2))
        h.expectNothing()
        h.peer.sends(.ack(seq: 1, ack: 1, options: [.nop, .nop, .ts(ecr: synAck.tsVal)]))
        h.expectNothing()
        #expect(h[.SyncookiesRecv] == 1)
        let child = try #require(try h.accept(listener))
        #expect(h.host.info(of: child)?.mss == 1448)
    }

    @Test("an ACK with a forged cookie is counted (SyncookiesFailed) and reset")
    func forgedCookie() throws {
        var sysctl = Sysctls()
        sysctl.tcp_syncookies = 2
        let h = HostHarness.make(sysctl: sysctl)
        let listener = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1)
        h.peer.sends(.ack(seq: 1, ack: 2))
        h.expectSent(flags: .rst, seq: 2, ack: .absolute(0))
        #expect(h[.SyncookiesFailed] == 1)
        #expect(h[.SyncookiesRecv] == 0)
        #expect(throws: SocketError.EAGAIN) { try h.accept(listener) }
    }

    @Test("two hosts: a LabSim host spraying SYNs, then a real client connects through the cookies")
    func floodBetweenHosts() throws {
        let lab = TwoHosts()
        let listener = try lab.server.listen(port: 80, backlog: 4, at: lab.sim.now)
        // The attacker's SYNs: real connects whose SYN-ACKs are lost on the way back.
        lab.link.dropHook = { f in
            guard f.from == "server", let s = f.frame.tcpSegment, s.tcp.flags == .synAck, s.tcp.destinationPort != 50000
            else { return nil }
            return "spoofed sources never see the SYN-ACK"
        }
        for _ in 0..<20 { _ = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now) }
        lab.sim.run(for: .milliseconds(5))
        #expect(lab.server.requestCount == 5)
        #expect(lab.server.counters[.SyncookiesSent] == 15)

        let conn = try lab.client.connect(to: lab.serverAddress, localPort: 50000, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(5))
        #expect(lab.client.state(of: conn) == .established)
        #expect(lab.server.counters[.SyncookiesRecv] == 1)
        let child = try #require(try lab.server.accept(listener, at: lab.sim.now))
        #expect(lab.server.tuple(of: child)?.remote.port == 50000)
        #expect(lab.server.info(of: child)?.mss == 1448)
    }

    @Test("tcp_syncookies = 0: the last quarter of tcp_max_syn_backlog is kept for proven peers")
    func maxSynBacklogReserve() throws {
        var sysctl = Sysctls()
        sysctl.tcp_syncookies = 0
        sysctl.tcp_max_syn_backlog = 8
        let h = HostHarness.make(sysctl: sysctl)
        _ = try h.listen(backlog: 128)
        // Dropped once fewer than 8/4 slots are left: 8 − qlen < 2, i.e. from the 8th SYN on.
        let peers = flood(h, count: 10)
        for p in peers.prefix(7) { h.expectSent(flags: .synAck, to: p) }
        h.expectNothing()
        #expect(h.host.requestCount == 7)
        #expect(h[.ListenDrops] == 3)
        #expect(h[.TCPReqQFullDrop] == 0)
    }

    @Test("the accept-queue check applies in cookie mode too: a SYN finding it full is dropped")
    func cookieModeAcceptQueueFull() throws {
        var sysctl = Sysctls()
        sysctl.tcp_syncookies = 2
        let h = HostHarness.make(sysctl: sysctl)
        let listener = try h.listen(backlog: 0)
        h.handshake()
        h.expectNothing()
        #expect(h.host.listenerInfo(of: listener)?.acceptQueueLength == 1)
        let late = h.makePeer(port: 40001, hostPort: 80)
        late.sends(.syn(seq: 0))
        h.expectNothing()
        #expect(h[.TCPReqQFullDoCookies] == 2)
        #expect(h[.SyncookiesSent] == 1)
        #expect(h[.ListenOverflows] == 1 && h[.ListenDrops] == 1)
    }

    @Test("a valid cookie ACK finding the accept queue full is dropped: no child, no RST")
    func cookieAckWithFullAcceptQueue() throws {
        var sysctl = Sysctls()
        sysctl.tcp_syncookies = 2
        let h = HostHarness.make(sysctl: sysctl)
        let listener = try h.listen(backlog: 0)
        let late = h.makePeer(port: 40001, hostPort: 80)
        h.peer.sends(.syn(seq: 0))
        late.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, to: h.peer)
        h.expectSent(flags: .synAck, to: late)
        h.peer.sends(.ack(seq: 1, ack: 1))
        late.sends(.ack(seq: 1, ack: 1))
        h.expectNothing()
        #expect(h[.SyncookiesRecv] == 2)
        #expect(h[.ListenOverflows] == 1)
        #expect(h.host.listenerInfo(of: listener)?.acceptQueueLength == 1)
    }
}

import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// The accept queue (reference §2 decision order, §3.9 accept queue full, §6 accept() and listener close).

@Suite("Accept queue: overflow, accept(), backlog, listener close")
struct AcceptQueueTests {
    /// Backlog 1 with two children queued (`sk_acceptq_is_full` is `>`: backlog N holds N + 1) and a third
    /// peer whose SYN got in while there was room: `a` and `b` queued, `c` has a request sock.
    private func fullQueue(_ h: HostHarness) throws -> (listener: SocketID, a: ScriptedPeer, b: ScriptedPeer, c: ScriptedPeer) {
        let listener = try h.listen(backlog: 1)
        let a = h.peer!
        let b = h.makePeer(port: 40001, hostPort: 80)
        let c = h.makePeer(port: 40002, hostPort: 80)
        a.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, to: a)
        b.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, to: b)
        a.sends(.ack(seq: 1, ack: 1))
        // One child queued, one request: room for c's SYN (neither queue is over the backlog).
        c.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, to: c)
        b.sends(.ack(seq: 1, ack: 1))
        #expect(h.host.listenerInfo(of: listener)?.acceptQueueLength == 2)
        #expect(h.host.requestCount == 1)
        return (listener, a, b, c)
    }

    @Test("accept queue full: the third ACK is dropped and the request kept; it completes once accept() makes room")
    func thirdAckDroppedThenCompleted() throws {
        let h = HostHarness.make()
        let (listener, a, b, c) = try fullQueue(h)

        c.sends(.ack(seq: 1, ack: 1))
        h.expectNothing()
        #expect(h[.ListenOverflows] == 1)
        #expect(h[.ListenDrops] == 1)
        #expect(h.host.requestCount == 1)

        // The request's timer goes on: SYN-ACK at 1 s; the client answers it (a challenge ACK from an
        // ESTABLISHED client), dropped again.
        h.advance(to: .seconds(1))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, at: .seconds(1), to: c)
        c.sends(.ack(seq: 1, ack: 1))
        h.expectNothing()
        #expect(h[.ListenOverflows] == 2)

        // accept() makes room, FIFO: a's child first.
        let first = try #require(try h.accept(listener))
        #expect(h.host.tuple(of: first)?.remote == a.socketAddress)
        h.advance(to: .seconds(3))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, at: .seconds(3), to: c)
        c.sends(.ack(seq: 1, ack: 1))
        h.expectNothing()
        #expect(h.host.requestCount == 0)
        #expect(h[.ListenOverflows] == 2)
        let second = try #require(try h.accept(listener))
        let third = try #require(try h.accept(listener))
        #expect(h.host.tuple(of: second)?.remote == b.socketAddress)
        #expect(h.host.tuple(of: third)?.remote == c.socketAddress)
        #expect(h.host.state(of: third) == .established)
        #expect(h[.PassiveOpens] == 3)
        // Two SYN-ACK retransmissions: the child starts with cwnd 1 (tcp_init_transfer).
        #expect(h.host.info(of: third)?.cwnd == 1)
        #expect(h.host.info(of: second)?.cwnd == 10)
    }

    @Test("accept queue full with tcp_abort_on_overflow = 1: the third ACK draws a RST and the request goes")
    func abortOnOverflow() throws {
        var sysctl = Sysctls()
        sysctl.tcp_abort_on_overflow = 1
        let h = HostHarness.make(sysctl: sysctl)
        let (_, _, _, c) = try fullQueue(h)
        c.sends(.ack(seq: 1, ack: 1))
        h.expectSent(flags: .rst, seq: 1, ack: .absolute(0), window: 0, options: [], to: c)
        h.expectNothing()
        #expect(h[.ListenOverflows] == 1)
        #expect(h[.ListenDrops] == 1)
        #expect(h[.EmbryonicRsts] == 1)
        #expect(h.host.requestCount == 0)
        h.advance(to: .seconds(10))
        h.expectNothing()
    }

    @Test("accept queue full: a new SYN is dropped (ListenOverflows) and never answered")
    func synDroppedWhenAcceptQueueFull() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 1)
        h.handshake(h.peer)
        h.handshake(h.makePeer(port: 40001, hostPort: 80))
        h.expectNothing()
        #expect(h.host.listenerInfo(of: listener)?.acceptQueueLength == 2)
        let late = h.makePeer(port: 40002, hostPort: 80)
        late.sends(.syn(seq: 0))
        h.expectNothing()
        #expect(h[.ListenOverflows] == 1 && h[.ListenDrops] == 1)
        #expect(h.host.requestCount == 0)
        // Its retransmitted SYN is welcome once accept() made room.
        _ = try h.accept(listener)
        h.advance(to: .seconds(1))
        late.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, to: late)
    }

    @Test("two hosts: the ESTABLISHED client's challenge ACKs complete the connection once there is room")
    func overflowWithRealClient() throws {
        let lab = TwoHosts()
        let listener = try lab.server.listen(port: 80, backlog: 1, at: lab.sim.now)
        let c1 = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(until: .zero + .milliseconds(1))
        // c2 and c3 start together: both SYNs find room, c3's ACK arrives after c2's fills the queue.
        let c2 = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        let c3 = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(until: .zero + .milliseconds(10))
        #expect([c1, c2, c3].allSatisfy { lab.client.state(of: $0) == .established })
        #expect(lab.server.counters[.ListenOverflows] == 1)
        #expect(lab.server.requestCount == 1)

        lab.sim.run(until: .zero + .milliseconds(1500))
        // SYN-ACK at ~1 s → challenge ACK (RFC 5961 §4.2) → still no room.
        #expect(lab.client.counters[.TCPSYNChallenge] == 1)
        #expect(lab.server.counters[.ListenOverflows] == 2)

        let first = try #require(try lab.server.accept(listener, at: lab.sim.now))
        lab.sim.run(until: .zero + .milliseconds(3500))
        #expect(lab.server.requestCount == 0)
        let second = try #require(try lab.server.accept(listener, at: lab.sim.now))
        let third = try #require(try lab.server.accept(listener, at: lab.sim.now))
        let local = { (id: SocketID) in lab.client.tuple(of: id)?.local }
        #expect(lab.server.tuple(of: first)?.remote == local(c1))
        #expect(lab.server.tuple(of: second)?.remote == local(c2))
        #expect(lab.server.tuple(of: third)?.remote == local(c3))
        #expect(lab.server.state(of: third) == .established)

        // Data flows on the late connection.
        try lab.client.send(c3, Array(text: "late"), at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        #expect(try lab.server.receive(third, at: lab.sim.now) == Array(text: "late"))
    }

    @Test("two hosts, tcp_abort_on_overflow = 1: the client gets ECONNRESET")
    func abortOnOverflowRealClient() throws {
        var sysctl = Sysctls()
        sysctl.tcp_abort_on_overflow = 1
        let lab = TwoHosts(serverSysctl: sysctl)
        _ = try lab.server.listen(port: 80, backlog: 1, at: lab.sim.now)
        _ = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(until: .zero + .milliseconds(1))
        let c2 = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        let c3 = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(until: .zero + .milliseconds(10))
        #expect(lab.client.state(of: c2) == .established)
        #expect(lab.client.error(of: c3) == .ECONNRESET)
        #expect(lab.client.state(of: c3) == .close)
        let rst = try #require(lab.segments(from: "server").last?.segment)
        #expect(rst.tcp.flags == .rst)
    }

    @Test("accept(): EAGAIN when empty and non-blocking; a blocked accept() is woken by the next child; FIFO")
    func acceptSemantics() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        #expect(throws: SocketError.EAGAIN) { try h.accept(listener, blocking: false) }
        // Blocking with nothing queued: accept() waits (nil); the next child is handed to it.
        #expect(try h.accept(listener, blocking: true) == nil)
        _ = h.takeEvents()
        h.handshake()
        let woken = h.takeEvents().compactMap { e -> (SocketID, SocketID)? in
            if case let .accepted(l, child) = e.kind { return (l, child) }
            return nil
        }
        #expect(woken.count == 1)
        let child = try #require(woken.first?.1)
        #expect(woken.first?.0 == listener)
        #expect(h.host.tuple(of: child)?.remote == h.peer.socketAddress)
        #expect(h.host.listenerInfo(of: listener)?.acceptQueueLength == 0)
        #expect(throws: SocketError.EAGAIN) { try h.accept(listener, blocking: false) }

        // FIFO: the oldest child first.
        let peers = (1...3).map { h.makePeer(port: 41000 + UInt16($0), hostPort: 80) }
        for p in peers { h.handshake(p) }
        for p in peers {
            let id = try #require(try h.accept(listener))
            #expect(h.host.tuple(of: id)?.remote == p.socketAddress)
        }
        // O_NONBLOCK on the listener makes the default accept() non-blocking.
        var options = SocketOptions()
        options.nonBlocking = true
        let other = try h.listen(port: 81, backlog: 8, options: options)
        #expect(throws: SocketError.EAGAIN) { try h.host.accept(other, at: h.now) }
        // accept() on a socket that is not listening.
        #expect(throws: SocketError.EINVAL) { try h.accept(child) }
    }

    @Test("listen() backlog: clamped by somaxconn; a negative backlog means somaxconn")
    func backlogClamp() throws {
        let h = HostHarness.make()
        #expect(h.host.listenerInfo(of: try h.listen(port: 80, backlog: 100_000))?.backlog == 4096)
        #expect(h.host.listenerInfo(of: try h.listen(port: 81, backlog: -1))?.backlog == 4096)
        #expect(h.host.listenerInfo(of: try h.listen(port: 82, backlog: 0))?.backlog == 0)
        #expect(h.host.listenerInfo(of: try h.listen(port: 83, backlog: 17))?.backlog == 17)

        var sysctl = Sysctls()
        sysctl.somaxconn = 1
        let small = HostHarness.make(sysctl: sysctl)
        let listener = try small.listen(backlog: 128)
        #expect(small.host.listenerInfo(of: listener)?.backlog == 1)
        #expect(small.host.listenerInfo(of: try small.listen(port: 81, backlog: -5))?.backlog == 1)
        // listen() again only changes the backlog.
        try small.host.relisten(listener, backlog: 1000, at: small.now)
        #expect(small.host.listenerInfo(of: listener)?.backlog == 1)

        // The clamped backlog of 1 holds two children; the third SYN is dropped.
        small.handshake(small.peer)
        small.handshake(small.makePeer(port: 40001, hostPort: 80))
        small.makePeer(port: 40002, hostPort: 80).sends(.syn(seq: 0))
        small.expectNothing()
        #expect(small[.ListenOverflows] == 1)
    }

    @Test("backlog 0 still takes one connection (the queue is full only above the backlog)")
    func backlogZero() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 0)
        h.handshake()
        h.expectNothing()
        #expect(try h.accept(listener) != nil)
    }

    @Test("closing the listener resets its queued children; an ACK for one of its requests draws a RST")
    func closeListener() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        let a = h.peer!
        let b = h.makePeer(port: 40001, hostPort: 80)
        let c = h.makePeer(port: 40002, hostPort: 80)
        h.handshake(a)
        h.handshake(b)
        c.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, to: c)
        #expect(h.host.requestCount == 1)

        h.advance(to: .milliseconds(10))
        h.close(listener)
        // inet_csk_listen_stop: each queued child is disconnected with RST|ACK at snd_nxt.
        h.expectSent(flags: .rstAck, seq: 1, ack: 1, at: .milliseconds(10), to: a)
        h.expectSent(flags: .rstAck, seq: 1, ack: 1, at: .milliseconds(10), to: b)
        h.expectNothing()
        #expect(h.host.state(of: listener) == nil)
        #expect(throws: SocketError.EBADF) { try h.accept(listener) }

        // c's request belongs to a listener that is gone: its ACK finds no socket → RST <SEQ=SEG.ACK>.
        c.sends(.ack(seq: 1, ack: 1))
        h.expectSent(flags: .rst, seq: 1, ack: .absolute(0), window: 0, options: [], to: c)
        #expect(h.host.requestCount == 0)
        // The children's segments are answered by RSTs too.
        a.sends(.data("late", seq: 1, ack: 1))
        h.expectSent(flags: .rst, seq: 1, to: a)
        h.advance(to: .seconds(5))
        h.expectNothing()
    }

    @Test("closing the listener: its requests die at their next timer run, without a SYN-ACK")
    func closeListenerRequestTimer() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, at: .zero)
        h.close(listener)
        h.advance(to: .seconds(2))
        h.expectNothing()
        #expect(h.host.requestCount == 0)
    }
}

import LabSim
import TCPEngine
import TCPPluginHost
import TCPPolicy
import TCPWire
import Testing

// Every example plugin, loaded with dlopen from the build directory, changes what the wire shows in
// LabSim; each test runs the same scenario with Linux's policy for contrast.

@Suite("Example plugins change behaviour in LabSim")
struct BehaviourTests {
    let registry = Plugins.registry()

    // MARK: ISN

    /// The server's ISNs (from its SYN-ACKs) for three connections opened together, and a fourth 1.2 s later.
    func serverISNs(_ isn: (any ISNGenerator)?) throws -> [UInt32] {
        let lab = Lab(serverISN: isn)
        _ = try lab.server.listen(port: 80, backlog: 16, at: lab.sim.now)
        for _ in 0..<3 { _ = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now) }
        lab.sim.run(until: Instant(nanoseconds: 1_200_000_000))
        _ = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        return lab.segments.filter { $0.from == "server" && $0.tcp.flags == .synAck }.map(\.tcp.sequenceNumber.rawValue)
    }

    @Test("counter: consecutive ISNs differ by the increment, plus per-second in half-second steps")
    func counter() throws {
        let isns = try serverISNs(try registry.makeISN("counter", parameters: ["increment": "64000"]))
        // start 1, +64,000 per connection; the fourth at 1.2 s also gets 2 ticks × 64,000.
        #expect(isns == [1, 64_001, 128_001, 192_001 + 128_000])
        let custom = try serverISNs(try registry.makeISN("counter", parameters: ["increment": "1", "per-second": "0", "start": "100"]))
        #expect(custom == [100, 101, 102, 103])

        // Linux: the 4-tuples differ (ports), so do the hashes: no step to learn.
        let linux = try serverISNs(nil)
        let steps = zip(linux.dropFirst(), linux).map { $0 &- $1 }
        #expect(Set(steps).count == steps.count)
    }

    @Test("rfc793 (a C plugin): the ISN is the 4 µs clock, whatever the 4-tuple")
    func rfc793() throws {
        let isn = try registry.makeISN("rfc793", parameters: ["offset": "1000"])
        let lab = Lab(clientISN: isn)
        _ = try lab.server.listen(port: 80, backlog: 16, at: lab.sim.now)
        lab.sim.run(until: Instant(nanoseconds: 1_000_000_000))
        _ = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(for: .microseconds(8))
        _ = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(1))
        let syns = lab.segments.filter { $0.from == "client" && $0.tcp.flags == .syn }.map(\.tcp.sequenceNumber.rawValue)
        #expect(syns == [1000 + 250_000, 1000 + 250_002])
    }

    // MARK: Accept queue

    /// Three clients connect 10 ms apart; the server accepts `accepts` times. Returns the accepted
    /// children's client ports and the three clients' ports in order.
    func accept(_ policy: (any AcceptQueuePolicy)?, times accepts: Int = 1) throws -> (accepted: [UInt16], ports: [UInt16]) {
        let lab = Lab(serverAcceptQueue: policy)
        let l = try lab.server.listen(port: 80, backlog: 16, at: lab.sim.now)
        var ports: [UInt16] = []
        for _ in 0..<3 {
            let c = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
            lab.sim.run(for: .milliseconds(10))
            ports.append(try #require(lab.client.tuple(of: c)).local.port)
        }
        var accepted: [UInt16] = []
        for _ in 0..<accepts {
            let child = try #require(try lab.server.accept(l, at: lab.sim.now))
            accepted.append(try #require(lab.server.tuple(of: child)).remote.port)
        }
        return (accepted, ports)
    }

    @Test("lifo: accept() hands out the newest child; Linux the oldest")
    func lifo() throws {
        let lifo = try accept(try registry.makeAcceptQueue("lifo"), times: 3)
        #expect(lifo.accepted == lifo.ports.reversed())
        let linux = try accept(nil, times: 3)
        #expect(linux.accepted == linux.ports)
        // The starvation guard: every 2nd accept() serves the oldest.
        let guarded = try accept(try registry.makeAcceptQueue("lifo", parameters: ["oldest-every": "2"]), times: 3)
        #expect(guarded.accepted == [guarded.ports[2], guarded.ports[0], guarded.ports[1]])
    }

    /// An attacker on its own link floods SYNs it never completes (its SYN-ACKs are lost, as with a
    /// spoofed source): 64 connects, so 64 SYNs in the 500 ms observed (the first retransmissions come at
    /// 1 s). A well-behaved client then connects. Returns when it got ESTABLISHED (nil: not within 500 ms)
    /// and the SYNs the attacker sent.
    func flood(_ policy: (any AcceptQueuePolicy)?) throws -> (established: Instant?, floodSYNs: Int, queue: Int) {
        var sysctl = Sysctls()
        sysctl.tcp_syncookies = 0
        let sim = LabSim(seed: 5)
        let server = sim.add(Host(name: "server", interfaces: [
            Interface(name: "eth0", mac: MACAddress(2, 0, 0, 0, 0, 2), address: IPv4Interface("198.18.0.2/24")!),
            Interface(name: "eth1", mac: MACAddress(2, 0, 0, 0, 1, 2), address: IPv4Interface("198.18.1.2/24")!),
        ], sysctl: sysctl, seed: 6, acceptQueue: policy))
        let client = sim.add(Host(name: "client", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 1),
                                                                         address: IPv4Interface("198.18.0.1/24")!)], seed: 7))
        let attacker = sim.add(Host(name: "attacker", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 1, 1),
                                                                             address: IPv4Interface("198.18.1.1/24")!)], seed: 8))
        let delay = LinkImpairment(delay: .microseconds(50))
        sim.connect(client, 0, server, 0, aToB: delay, bToA: delay)
        sim.connect(attacker, 0, server, 1, aToB: delay, bToA: LinkImpairment(loss: 1.0))
        client.addNeighbor(IPv4Address(198, 18, 0, 2), MACAddress(2, 0, 0, 0, 0, 2))
        attacker.addNeighbor(IPv4Address(198, 18, 1, 2), MACAddress(2, 0, 0, 0, 1, 2))
        server.addNeighbor(IPv4Address(198, 18, 0, 1), MACAddress(2, 0, 0, 0, 0, 1))
        server.addNeighbor(IPv4Address(198, 18, 1, 1), MACAddress(2, 0, 0, 0, 1, 1))

        let listener = try server.listen(port: 80, backlog: 8, at: sim.now)
        for _ in 0..<64 { _ = try attacker.connect(to: SocketAddress(IPv4Address(198, 18, 1, 2), 80), at: sim.now) }
        sim.run(for: .milliseconds(10))
        let c = try client.connect(to: SocketAddress(IPv4Address(198, 18, 0, 2), 80), at: sim.now)
        sim.run(for: .milliseconds(500))
        let established = sim.records.first {
            if $0.host == "client", case let .connected(id) = $0.event.kind { id == c } else { false }
        }.map { $0.event.time }
        let floodSYNs = sim.frames.filter { $0.from == "attacker" && $0.frame.tcpSegment?.tcp.flags == .syn }.count
        return (established, floodSYNs, try #require(server.listenerInfo(of: listener)).synQueueLength)
    }

    @Test("fair: a one-source SYN flood fills its own share, and the well-behaved client still connects")
    func fair() throws {
        let linux = try flood(nil)
        #expect(linux.floodSYNs == 64)
        #expect(linux.established == nil, "Linux: the flood fills the SYN queue (backlog 8, no cookies): the client's SYN is dropped")
        #expect(linux.queue == 9)

        let fair = try flood(try registry.makeAcceptQueue("fair", parameters: ["per-source": "4"]))
        #expect(fair.floodSYNs == 64)
        let at = try #require(fair.established, "fair: the client connects despite the flood")
        #expect(at < Instant(nanoseconds: 11_000_000))  // within 1 ms of its connect at 10 ms
        #expect(fair.queue == 4)
    }

    @Test("refuse-prefix: SYNs from the prefix get a RST (connection refused); silent: nothing (the client retries)")
    func refusePrefix() throws {
        for silent in [false, true] {
            let policy = try registry.makeAcceptQueue("refuse-prefix", parameters: ["prefix": "198.18.0.0/24",
                                                                                    "silent": "\(silent)"])
            let lab = Lab(serverAcceptQueue: policy)
            _ = try lab.server.listen(port: 80, backlog: 16, at: lab.sim.now)
            let c = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
            lab.sim.run(for: .milliseconds(1500))
            let refused = lab.sim.records.contains {
                if $0.host == "client", case .error(c, .ECONNREFUSED) = $0.event.kind { true } else { false }
            }
            let serverRSTs = lab.segments.filter { $0.from == "server" && $0.tcp.flags.contains(.rst) }.count
            let clientSYNs = lab.segments.filter { $0.from == "client" && $0.tcp.flags == .syn }.count
            if silent {
                #expect(!refused && serverRSTs == 0 && clientSYNs == 2)  // the SYN and its 1 s retransmission
            } else {
                #expect(refused && serverRSTs == 1 && clientSYNs == 1)
            }
        }
        // Another prefix: Linux's behaviour, the handshake completes.
        let lab = Lab(serverAcceptQueue: try registry.makeAcceptQueue("refuse-prefix", parameters: ["prefix": "10.0.0.0/8"]))
        _ = try lab.server.listen(port: 80, backlog: 16, at: lab.sim.now)
        let c = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        #expect(lab.client.state(of: c) == .established)
    }

    // MARK: Delayed ACK

    /// A request/response exchange puts the server in interactive (pingpong) mode; then the client sends
    /// a lone segment. Returns how long after the client sent it the server sent its ACK (the link takes 50 µs).
    func loneSegmentAckDelay(_ policy: (any DelayedAckPolicy)?) throws -> Interval {
        let lab = Lab(serverDelayedAck: policy)
        let l = try lab.server.listen(port: 80, backlog: 16, at: lab.sim.now)
        let c = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        let child = try #require(try lab.server.accept(l, at: lab.sim.now))
        _ = try lab.client.send(c, Array("GET".utf8), at: lab.sim.now)
        lab.sim.run(for: .milliseconds(1))
        _ = try lab.server.receive(child, at: lab.sim.now)
        _ = try lab.server.send(child, Array("OK".utf8), at: lab.sim.now)
        lab.sim.run(for: .milliseconds(100))
        let sentAt = lab.sim.now
        _ = try lab.client.send(c, Array("bye".utf8), at: lab.sim.now)
        lab.sim.run(for: .milliseconds(400))
        let ack = try #require(lab.segments.first { $0.time >= sentAt && $0.from == "server" && $0.tcp.flags == .ack })
        return ack.time - sentAt
    }

    @Test("immediate: a lone segment is ACKed at once, where Linux waits 40 ms")
    func immediate() throws {
        #expect(try loneSegmentAckDelay(nil) == .microseconds(40_050))  // 50 µs on the link + 40 ms (TCP_DELACK_MIN)
        #expect(try loneSegmentAckDelay(try registry.makeDelayedAck("immediate")) == .microseconds(50))  // on arrival
    }

    @Test("fixed-delay: every ACK waits the configured delay, even where Linux's quick-ACK mode answers at once")
    func fixedDelay() throws {
        func firstDataAck(_ policy: (any DelayedAckPolicy)?) throws -> Interval {
            let lab = Lab(serverDelayedAck: policy)
            _ = try lab.server.listen(port: 80, backlog: 16, at: lab.sim.now)
            let c = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
            lab.sim.run(for: .milliseconds(10))
            let sentAt = lab.sim.now
            _ = try lab.client.send(c, Array("hello".utf8), at: lab.sim.now)
            lab.sim.run(for: .milliseconds(400))
            return try #require(lab.segments.first { $0.time >= sentAt && $0.from == "server" }).time - sentAt
        }
        #expect(try firstDataAck(nil) == .microseconds(50))  // quick-ACK mode: on arrival
        #expect(try firstDataAck(try registry.makeDelayedAck("fixed-delay", parameters: ["delay": "120ms"]))
            == .microseconds(120_050))
    }

    @Test("every-nth: one ACK per N full-sized segments (stretch ACKs); Linux's quick-ACK start ACKs each")
    func everyNth() throws {
        func acksFor8Segments(_ policy: (any DelayedAckPolicy)?) throws -> (acks: Int, segments: Int) {
            let lab = Lab(serverDelayedAck: policy)
            _ = try lab.server.listen(port: 80, backlog: 16, at: lab.sim.now)
            let c = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
            lab.sim.run(for: .milliseconds(10))
            let sentAt = lab.sim.now
            _ = try lab.client.send(c, [UInt8](repeating: 7, count: 8 * 1448), at: lab.sim.now)
            lab.sim.run(for: .milliseconds(5))
            let after = lab.segments.filter { $0.time >= sentAt }
            return (after.filter { $0.from == "server" && $0.payload == 0 }.count,
                    after.filter { $0.from == "client" && $0.payload > 0 }.count)
        }
        let linux = try acksFor8Segments(nil)
        #expect(linux.segments == 8 && linux.acks == 8)
        let every4 = try acksFor8Segments(try registry.makeDelayedAck("every-nth", parameters: ["n": "4"]))
        #expect(every4.segments == 8 && every4.acks == 2)
    }
}

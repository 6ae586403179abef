import CTCPLabPlugin
import LabSim
import TCPEngine
import TCPPluginHost
import TCPPolicy
import TCPWire
import Testing

// At run time an invalid answer is not used: the engine gets Linux's answer for that call, and the
// wrapper records a violation (count, list, callback).

@Suite("Invalid answers fall back to Linux and are reported")
struct ViolationTests {
    @Test("accept-queue plugin naming child 99: accept() returns the oldest child, one violation")
    func badChildIndex() throws {
        let policy = try PluginLibrary(descriptor: MisbehavingPlugins.badChild, origin: "test").instantiate() as! PluginAcceptQueue
        var seen: [PluginViolation] = []
        policy.onViolation = { seen.append($0) }
        let lab = Lab(serverAcceptQueue: policy)
        let l = try lab.server.listen(port: 80, backlog: 16, at: lab.sim.now)
        let first = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        _ = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        let child = try #require(try lab.server.accept(l, at: lab.sim.now))
        #expect(lab.server.tuple(of: child)?.remote == lab.client.tuple(of: first)?.local)
        #expect(policy.violationCount == 1)
        #expect(seen == policy.violations)
        #expect(policy.violations.first?.description
            == "plugin 'bad-child' answered select_child = 99: no child has that index (the queue holds 2, indices 0…1); used Linux's answer (0, the oldest) instead")
    }

    @Test("delayed-ACK plugin answering a deadline 5 ms in the past: Linux's decision is used")
    func negativeDelay() throws {
        let policy = try PluginLibrary(descriptor: MisbehavingPlugins.negativeDelay, origin: "test").instantiate() as! PluginDelayedAck
        let lab = Lab(serverDelayedAck: policy)
        _ = try lab.server.listen(port: 80, backlog: 16, at: lab.sim.now)
        let c = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        let sentAt = lab.sim.now
        _ = try lab.client.send(c, Array("hello".utf8), at: lab.sim.now)
        lab.sim.run(for: .milliseconds(100))
        // Linux: the first data segment is ACKed on arrival (quick-ACK mode).
        let ack = try #require(lab.segments.first { $0.time >= sentAt && $0.from == "server" })
        #expect(ack.time - sentAt == .microseconds(50))
        #expect(policy.violationCount == 1)
        let v = try #require(policy.violations.first)
        #expect(v.call == "ack_check")
        #expect(v.answer == "at now − 5ms")
        #expect(v.problem == "a deadline in the past (a delay of −5ms)")
        #expect(v.fallback == "now")
        #expect(v.time == Instant(nanoseconds: sentAt.nanoseconds + 50_000))
    }

    @Test("a plugin that corrupts the ACK state: the state is restored and Linux's call runs instead")
    func corruptState() throws {
        let policy = try PluginLibrary(descriptor: MisbehavingPlugins.corruptState, origin: "test").instantiate() as! PluginDelayedAck
        var ack = AckState()
        let facts = AckFacts(now: .zero, rto: .seconds(1), receiveWindow: 65535, advertisedMSS: 1460)
        policy.dataReceived(&ack, ReceivedData(length: 1000), facts: facts)
        var linux = AckState()
        LinuxDelayedAck().dataReceived(&linux, ReceivedData(length: 1000), facts: facts)
        #expect(ack == linux)
        #expect(policy.violations.map(\.problem) == ["ack->rcv_mss = 0: must be at least 1"])
    }

    @Test("raw C answers: verdict 0, overflow 7, child −1, a delay of 500 ms, an unknown decision")
    func rawAnswers() throws {
        let aq = try PluginLibrary(descriptor: rawDescriptor(kind: TCPLAB_KIND_ACCEPT_QUEUE), origin: "raw").instantiate()
            as! PluginAcceptQueue
        let tuple = FourTuple(local: SocketAddress(IPv4Address(198, 18, 0, 2), 80), remote: SocketAddress(IPv4Address(198, 18, 0, 1), 4000))
        let snapshot = ListenerSnapshot(synQueueLength: 0, youngCount: 0, acceptQueueLength: 0, backlog: 8, maxSynBacklog: 128,
                                        syncookies: 1, abortOnOverflow: true)
        #expect(aq.onSyn(SynFacts(tuple: tuple, now: .zero), listener: snapshot) == .queue)
        #expect(aq.onAcceptQueueFull(tuple, listener: snapshot) == .reset)
        #expect(aq.selectChild([QueuedChild(tuple: tuple, establishedAt: .zero)]) == 0)
        #expect(aq.violations.map(\.call) == ["on_syn", "on_accept_queue_full", "select_child"])

        // A delayed-ACK plugin whose ack_check answers "at now + 500 ms", then 9.
        let d = rawDescriptor(kind: TCPLAB_KIND_DELAYED_ACK, name: "slow") { p in
            var ops = p.delayed_ack!.pointee
            ops.ack_check = { _, _, facts, deadline in
                if facts!.pointee.now_ns == 0 {
                    deadline!.pointee = 500_000_000
                    return TCPLAB_ACK_DECISION_AT
                }
                return 9
            }
            let o = UnsafeMutablePointer<tcplab_delayed_ack_ops>.allocate(capacity: 1)
            o.initialize(to: ops)
            p.delayed_ack = UnsafePointer(o)
        }
        let da = try PluginLibrary(descriptor: d, origin: "raw").instantiate() as! PluginDelayedAck
        var ack = AckState()
        ack.pending = [.scheduled]
        _ = da.ackCheck(&ack, facts: AckFacts(now: .zero, rto: .seconds(1), receiveWindow: 65535, advertisedMSS: 1460))
        _ = da.ackCheck(&ack, facts: AckFacts(now: Instant(nanoseconds: 1_000_000), rto: .seconds(1), receiveWindow: 65535, advertisedMSS: 1460))
        #expect(da.violations.map(\.problem) == ["a delay of 500ms, not less than 500 ms (RFC 1122 §4.2.3.2)",
                                                 "not a TCPLAB_ACK_DECISION_* value (1…3)"])
    }

    @Test("a cookie while tcp_syncookies = 0 is refused")
    func cookieWithoutSyncookies() throws {
        let d = rawDescriptor(kind: TCPLAB_KIND_ACCEPT_QUEUE, name: "cookie-monster") { p in
            var ops = p.accept_queue!.pointee
            ops.on_syn = { _, _, _ in TCPLAB_SYN_COOKIE }
            let o = UnsafeMutablePointer<tcplab_accept_queue_ops>.allocate(capacity: 1)
            o.initialize(to: ops)
            p.accept_queue = UnsafePointer(o)
        }
        let aq = try PluginLibrary(descriptor: d, origin: "raw").instantiate() as! PluginAcceptQueue
        let tuple = FourTuple(local: SocketAddress(IPv4Address(198, 18, 0, 2), 80), remote: SocketAddress(IPv4Address(198, 18, 0, 1), 4000))
        var snapshot = ListenerSnapshot(synQueueLength: 0, youngCount: 0, acceptQueueLength: 0, backlog: 8, maxSynBacklog: 128,
                                        syncookies: 1, abortOnOverflow: false)
        #expect(aq.onSyn(SynFacts(tuple: tuple, now: .zero), listener: snapshot) == .cookie)
        snapshot.syncookies = 0
        #expect(aq.onSyn(SynFacts(tuple: tuple, now: .zero), listener: snapshot) == .queue)
        #expect(aq.violationCount == 1)
    }
}

@Suite("The kit's defaults are Linux")
struct KitDefaultTests {
    @Test("a plugin's default methods give Linux's answers, on the Swift path (first call) and the direct path (after)")
    func defaultsMatchLinux() throws {
        let registry = Plugins.registry()
        let plugin = try registry.makeDelayedAck("immediate")   // overrides ackCheck and delayThirdAck only
        let linux = LinuxDelayedAck()
        var a = AckState(), b = AckState()
        for i in 0..<6 {
            let facts = AckFacts(now: Instant(nanoseconds: Int64(i) * 30_000_000), rto: .milliseconds(200), srtt: .milliseconds(3),
                                 receiveWindow: 65535, advertisedMSS: 1460, unacknowledged: 1448 * (i % 3))
            let data = ReceivedData(length: i % 2 == 0 ? 1448 : 100, push: i == 3)
            plugin.dataReceived(&a, data, facts: facts)
            linux.dataReceived(&b, data, facts: facts)
            plugin.enterQuickAck(&a, credits: 4, facts: facts)
            linux.enterQuickAck(&b, credits: 4, facts: facts)
            #expect(plugin.timerFired(&a, facts: facts) == linux.timerFired(&b, facts: facts))
            plugin.dataSent(&a, facts: facts)
            linux.dataSent(&b, facts: facts)
            plugin.setQuickAck(&a, value: i % 2, facts: facts)
            linux.setQuickAck(&b, value: i % 2, facts: facts)
            plugin.ackSent(&a, facts: facts)
            linux.ackSent(&b, facts: facts)
            #expect(a == b, "call \(i)")
        }
        #expect((plugin as? PluginPolicy)?.violationCount == 0)

        let lifo = try registry.makeAcceptQueue("lifo")
        let tuple = FourTuple(local: SocketAddress(IPv4Address(198, 18, 0, 2), 80), remote: SocketAddress(IPv4Address(198, 18, 0, 1), 4000))
        for synQueue in [0, 5, 9, 9] {
            for cookies in [0, 1, 2] {
                let l = ListenerSnapshot(synQueueLength: synQueue, youngCount: 0, acceptQueueLength: synQueue / 2, backlog: 8,
                                         maxSynBacklog: 16, syncookies: cookies, abortOnOverflow: synQueue == 5)
                let syn = SynFacts(tuple: tuple, now: .zero)
                #expect(lifo.onSyn(syn, listener: l) == LinuxAcceptQueue().onSyn(syn, listener: l))
                #expect(lifo.onAcceptQueueFull(tuple, listener: l) == LinuxAcceptQueue().onAcceptQueueFull(tuple, listener: l))
            }
        }
    }
}

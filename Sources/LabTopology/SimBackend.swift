import Foundation
import LabControl
import LabImpair
import LabSim
import TCPEngine
import TCPPluginHost
import TCPPolicy
import TCPWire

/// Runs a topology in LabSim: a `Host` per end, the middlebox folded into the simulated link between
/// them (the same LabImpair rules per direction, its drops recorded under its name), the steps at
/// their virtual times, and events in the same form the netns workers send.
struct SimBackend {
    let topology: Topology
    let seed: UInt64
    let policies: PolicyCatalog
    /// One-way delay of the simulated wire when the topology sets none (a veth pair's is a few µs;
    /// 50 µs keeps the order of events readable).
    static let wireDelay = Interval.microseconds(50)

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func run(runID: String, outputDirectory: String) throws -> RunRecord {
        let t = topology
        let sim = LabSim(seed: seed)
        sim.capturing = true
        var notes: [String] = []
        var hosts: [String: TCPEngine.Host] = [:]
        let order = t.chain.filter { name in t.node(named: name)?.role != .middlebox }
        for (i, name) in order.enumerated() {
            guard let n = t.node(named: name) else { continue }
            if n.role.isKernel {
                notes.append("\(n.name) is a \(n.role.rawValue): LabSim stands in for the Linux kernel with TCPLab's engine (the real kernel runs only with --backend netns)")
            }
            var sysctl = Sysctls()
            for (k, v) in n.sysctl { sysctl[k] = v }
            let nodeIndex = t.nodes.firstIndex { $0.name == n.name } ?? i
            let hostSeed = seed &* 1000 &+ UInt64(nodeIndex)
            var isn: (any ISNGenerator)?
            var acceptQueue: (any AcceptQueuePolicy)?
            var delayedAck: (any DelayedAckPolicy)?
            for p in n.policies {
                guard let instance = try policies.make(kind: p.kind, name: p.name, parameters: p.parameters, seed: hostSeed,
                                                       timestampsMode: sysctl.tcp_timestamps) else { continue }
                switch instance {
                case let .isn(g): isn = g
                case let .acceptQueue(q): acceptQueue = q
                case let .delayedAck(d): delayedAck = d
                }
                notes.append("\(n.name): \(p.kind) policy \(p.name)\(p.parameters.isEmpty ? "" : " \(p.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")")
            }
            let interfaces = n.interfaces.compactMap { i -> Interface? in
                guard let a = i.address, let mac = MACAddress(i.mac) else { return nil }
                return Interface(name: i.name, mac: mac, address: a, mtu: i.mtu)
            }
            let host = TCPEngine.Host(name: n.name, interfaces: interfaces, sysctl: sysctl, seed: hostSeed, isn: isn, acceptQueue: acceptQueue,
                            delayedAck: delayedAck)
            host.gateway = n.gateway
            sim.add(host)
            hosts[n.name] = host
        }
        guard order.count == 2, let a = hosts[order[0]], let b = hosts[order[1]] else {
            throw Failure(description: "LabSim runs two ends, directly or through one middlebox")
        }
        let box = t.middleboxes.first
        var aToB = Impairment(delay: Self.wireDelay), bToA = Impairment(delay: Self.wireDelay)
        if let box {
            let specs = t.impairments(of: box)
            let ia = t.directionIndex(box, from: a.name) ?? 0
            aToB = try impairment(specs[ia])
            bToA = try impairment(specs[1 - ia])
        }
        sim.connect(a, 0, b, 0, aToB: aToB, bToA: bToA)

        // The steps, at their times.
        var sockets: [String: [String: SocketID]] = [:]
        var replies: [RunRecord.StepReply] = []
        /// Stopped nodes and when: from then on nothing reaches or leaves them, and they record nothing.
        var stopped: [String: Instant] = [:]
        for step in t.expandedSteps {
            sim.run(until: .zero + step.at)
            if case .stop = step.operation {
                stopped[step.node] = sim.now
                let gone = Set(stopped.keys)
                sim.links[0].dropHook = { f in gone.contains(f.from) || gone.contains(f.to) ? "node stopped" : nil }
                replies.append(.init(node: step.node, op: "stop", at: step.at, saveAs: nil, reply: ControlReply(id: 0, ok: true),
                                     call: step.operation.callText))
                continue
            }
            if stopped[step.node] != nil {
                var r = ControlReply(id: 0, ok: false)
                r.error = "node \(step.node) is stopped"
                replies.append(.init(node: step.node, op: step.operation.op, at: step.at, saveAs: nil, reply: r, call: step.operation.callText))
                continue
            }
            guard let host = hosts[step.node] else {
                var r = ControlReply(id: 0, ok: true)
                if case .counters = step.operation, let box, box.name == step.node { r.counters = boxCounters(sim, box: box, aName: a.name) }
                replies.append(.init(node: step.node, op: step.operation.op, at: step.at, saveAs: nil, reply: r, call: step.operation.callText))
                continue
            }
            let reply = execute(step, on: host, sockets: sockets[step.node] ?? [:], at: sim.now)
            if let name = step.saveAs, let s = reply.socket { sockets[step.node, default: [:]][name] = SocketID(s) }
            if !reply.ok && Topology.mustSucceed(step) {
                throw Failure(description: "step \(step.operation.op) on \(step.node) at \(step.at) failed: \(reply.error ?? "failed") (\(step.location))")
            }
            replies.append(.init(node: step.node, op: step.operation.op, at: step.at, saveAs: step.saveAs, reply: reply,
                                 call: step.operation.callText))
            sim.collect()
        }
        sim.run(until: .zero + t.duration)

        // Events as the workers record them, plus the middlebox's drops.
        var events: [(Int, LabEvent)] = []
        for (k, r) in sim.records.enumerated() {
            // A stopped node records nothing after its stop (its simulated host keeps running, unseen).
            if let t = stopped[r.host], r.event.time > t { continue }
            if let e = LabEvent.from(r.event, node: r.host) { events.append((k, e)) }
        }
        if let box {
            let names = box.interfaces.map(\.name)
            let ia = t.directionIndex(box, from: a.name) ?? 0
            // Frames a stopped node would have sent never existed; those sent to it are lost.
            for (k, f) in sim.frames.enumerated() where f.droppedBy != nil && stopped[f.from] == nil {
                guard let s = f.frame.tcpSegment else { continue }
                var e = LabEvent.segment(t: f.time.nanoseconds, node: box.name, dir: "through", SegmentRecord(s), droppedBy: f.droppedBy)
                e.kind = "drop"
                e.reason = f.droppedBy
                let inIndex = f.from == a.name ? ia : 1 - ia
                e.from = names[inIndex]
                e.to = names[1 - inIndex]
                events.append((sim.records.count + k, e))
            }
        }
        let sorted = events.sorted { ($0.1.t, $0.0) < ($1.1.t, $1.0) }.map(\.1)

        var counters: [String: [String: Int]] = [:]
        for (name, h) in hosts {
            counters[name] = Dictionary(uniqueKeysWithValues: h.counters.nonZero.map { ($0.0.name, $0.1) })
        }
        if let box { counters[box.name] = boxCounters(sim, box: box, aName: a.name) }

        // One capture for the simulated wire (with the middlebox folded in, frames it dropped included).
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        let wireName = ([a.name] + (box.map { [$0.name] } ?? []) + [b.name]).joined(separator: "-")
        let pcap = "\(outputDirectory)/\(wireName).pcap"
        try Data(sim.pcap(link: 0)).write(to: URL(fileURLWithPath: pcap))
        return RunRecord(runID: runID, backend: .sim, seed: seed, events: sorted, counters: counters, replies: replies, pcaps: [pcap],
                         notes: notes, outputDirectory: outputDirectory, duration: t.duration)
    }

    func impairment(_ spec: ImpairmentSpec) throws -> Impairment {
        var i = try spec.impairment()
        if spec.delayMs == nil { i.delay = Self.wireDelay }
        return i
    }

    /// The middlebox's tallies, named as the netns middlebox names them.
    func boxCounters(_ sim: LabSim, box: Topology.Node, aName: String) -> [String: Int] {
        let ia = topology.directionIndex(box, from: aName) ?? 0
        var c = ["Forwarded0to1": 0, "Forwarded1to0": 0, "Dropped0to1": 0, "Dropped1to0": 0]
        for f in sim.frames {
            let from = f.from == aName ? ia : 1 - ia
            let key = (f.droppedBy == nil ? "Forwarded" : "Dropped") + (from == 0 ? "0to1" : "1to0")
            c[key, default: 0] += 1
        }
        return c
    }

    /// One step on a host, answered as a worker answers it.
    func execute(_ step: Topology.Step, on host: TCPEngine.Host, sockets: [String: SocketID], at now: Instant) -> ControlReply {
        var reply = ControlReply(id: 1, ok: true)
        func socket() throws -> SocketID {
            guard let name = step.socket else { throw Failure(description: "\(step.operation.op) needs a socket") }
            guard let s = sockets[name] else { throw Failure(description: "no socket named \(name) (the step that makes it returned none)") }
            return s
        }
        do {
            switch step.operation {
            case let .listen(port, backlog, address):
                let a = address.flatMap { IPv4Address($0) } ?? .any
                reply.socket = try host.listen(port: port, address: a, backlog: backlog, at: now).rawValue
            case let .connect(to, localPort):
                let parts = to.split(separator: ":")
                guard parts.count == 2, let ip = IPv4Address(parts[0]), let port = UInt16(parts[1]) else {
                    throw Failure(description: "connect needs to: \"198.18.0.2:80\"")
                }
                reply.socket = try host.connect(to: SocketAddress(ip, port), localPort: localPort, at: now).rawValue
            case .accept:
                reply.socket = try host.accept(try socket(), blocking: false, at: now)?.rawValue
            case let .send(data):
                reply.data = String(try host.send(try socket(), Array(data.utf8), at: now))
            case .recv:
                reply.data = String(decoding: try host.receive(try socket(), at: now), as: UTF8.self)
            case .close:
                host.close(try socket(), at: now)
            case let .shutdown(how):
                try host.shutdown(try socket(), how == "read" ? .read : how == "both" ? .readWrite : .write, at: now)
            case let .setsockopt(name, value, seconds):
                try host.setsockopt(try socket(), try Self.option(name, value, seconds), at: now)
            case let .sysctl(name, value):
                host.sysctl[name] = value
            case .counters:
                reply.counters = Dictionary(uniqueKeysWithValues: host.counters.nonZero.map { ($0.0.name, $0.1) })
            case .state:
                reply.state = host.state(of: try socket()).map { "\($0)" }
            case .stop:
                break  // handled by the step loop
            }
        } catch let e as SocketError {
            reply = ControlReply(id: 1, ok: false)
            reply.error = e.rawValue
        } catch {
            reply = ControlReply(id: 1, ok: false)
            reply.error = "\(error)"
        }
        return reply
    }

    /// A socket option by its Linux name (the worker's table).
    static func option(_ name: String, _ v: Int, _ seconds: Int?) throws -> SocketOption {
        switch name {
        case "SO_REUSEADDR": return .SO_REUSEADDR(v != 0)
        case "SO_KEEPALIVE": return .SO_KEEPALIVE(v != 0)
        case "SO_RCVBUF": return .SO_RCVBUF(v)
        case "SO_SNDBUF": return .SO_SNDBUF(v)
        case "SO_LINGER": return .SO_LINGER(on: v != 0, seconds: seconds ?? 0)
        case "TCP_DEFER_ACCEPT": return .TCP_DEFER_ACCEPT(seconds: v)
        case "TCP_QUICKACK": return .TCP_QUICKACK(v)
        case "TCP_SYNCNT": return .TCP_SYNCNT(v)
        case "TCP_MAXSEG": return .TCP_MAXSEG(v)
        case "TCP_USER_TIMEOUT": return .TCP_USER_TIMEOUT(milliseconds: v)
        case "TCP_KEEPIDLE": return .TCP_KEEPIDLE(seconds: v)
        case "TCP_KEEPINTVL": return .TCP_KEEPINTVL(seconds: v)
        case "TCP_KEEPCNT": return .TCP_KEEPCNT(v)
        case "TCP_LINGER2": return .TCP_LINGER2(seconds: v)
        case "TCP_NODELAY": return .TCP_NODELAY(v != 0)
        case "O_NONBLOCK": return .O_NONBLOCK(v != 0)
        default: throw Failure(description: "unknown socket option \(name)")
        }
    }
}

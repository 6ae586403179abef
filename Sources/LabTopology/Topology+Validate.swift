import LabControl
import TCPEngine
import TCPPolicy
import TCPWire

/// The checks that need the whole topology: the shape of the network, addresses and subnets, the
/// middlebox's directions, the sockets the steps use, and expectations that cannot all hold.
struct Validator {
    var topology: Topology
    let reader: Reader
    let allowed: [IPv4Interface]
    let policies: PolicyCatalog
    /// Nodes that did not load (reported already).
    let broken: Set<String>

    func error(_ at: SourceLocation, _ message: String, suggestion: String? = nil) {
        reader.error(at, message, suggestion: suggestion)
    }

    var runsOnNetns: Bool { topology.backends.contains(.netns) }

    mutating func run() {
        checkShape()
        checkAddresses()
        checkMiddleboxes()
        resolveSockets()
        checkExpectations()
        checkContradictions()
    }

    // MARK: Network

    func checkShape() {
        let t = topology
        guard !t.nodes.isEmpty, broken.isEmpty else { return }
        let endpoints = t.endpoints, boxes = t.middleboxes
        let at = t.nodes[0].location
        if endpoints.count != 2 {
            error(at, "a lab has two ends (client and server roles, or kernel ones); this one has \(endpoints.count): \(endpoints.map(\.name).joined(separator: ", "))",
                  suggestion: "to load a server with many connections, give one client several connect steps")
        }
        if boxes.count > 1 {
            error(boxes[1].location, "at most one middlebox between the two ends (\(boxes.map(\.name).joined(separator: ", ")))",
                  suggestion: "put every rule on one middlebox; rules are per direction")
        }
        for n in t.nodes {
            let linked = t.links.filter { $0.a.node == n.name || $0.b.node == n.name }
            if linked.isEmpty && !t.links.isEmpty {
                error(n.location, "node \(n.name) is not linked to anything", suggestion: "add it to links:")
            }
            if n.role == .middlebox {
                if n.interfaces.count != 2 { error(n.location, "middlebox \(n.name) needs exactly two interfaces, it has \(n.interfaces.count)") }
                for l in linked where t.node(named: l.a.node == n.name ? l.b.node : l.a.node)?.role == .middlebox {
                    error(l.location, "two middleboxes linked to each other")
                }
            } else if linked.count > 1 {
                error(linked[1].location, "node \(n.name) is linked twice; an end has one interface on the lab's wire")
            }
        }
        if boxes.count == 1, endpoints.count == 2 {
            let direct = t.links.contains { l in endpoints.contains { $0.name == l.a.node } && endpoints.contains { $0.name == l.b.node } }
            if direct, let l = t.links.first(where: { l in endpoints.contains { $0.name == l.a.node } && endpoints.contains { $0.name == l.b.node } }) {
                error(l.location, "the ends are linked directly although there is a middlebox; link each end to the middlebox")
            }
        }
    }

    func checkAddresses() {
        var seen: [UInt32: (String, SourceLocation)] = [:]
        let endpoints = topology.endpoints
        for n in endpoints {
            for i in n.interfaces {
                guard let a = i.address else {
                    if n.role != .middlebox { error(i.location, "node \(n.name): interface \(i.name) has no address", suggestion: "add an address such as 198.18.0.1/24") }
                    continue
                }
                if !allowed.contains(where: { $0.contains(a.address) && $0.prefixLength <= a.prefixLength }) {
                    error(i.location, "node \(n.name): \(a) is outside 198.18.0.0/15, the range labs use (RFC 2544)",
                          suggestion: "use 198.18.x.y, or allow the range with allow-addresses: [\(a.network)/\(a.prefixLength)]")
                }
                if a.prefixLength < 31 && (a.address == a.network || a.address == a.broadcast) {
                    error(i.location, "node \(n.name): \(a.address) is the \(a.address == a.network ? "network" : "broadcast") address of \(a.network)/\(a.prefixLength)",
                          suggestion: "pick a host address inside the subnet")
                }
                if let other = seen[a.address.rawValue] {
                    error(i.location, "node \(n.name): address \(a.address) is also \(other.0)'s (line \(other.1.line))")
                }
                seen[a.address.rawValue] = (n.name, i.location)
                if let g = n.gateway, !a.contains(g) {
                    error(n.location, "node \(n.name): gateway \(g) is outside its subnet \(a.network)/\(a.prefixLength)")
                }
            }
        }
        // The two ends share one wire (through the middlebox, a bump in it): each must be in the
        // other's subnet, or have a gateway.
        if endpoints.count == 2, let a = endpoints[0].address, let b = endpoints[1].address {
            for (me, mine, peer) in [(endpoints[0], a, b), (endpoints[1], b, a)] where me.gateway == nil && !mine.contains(peer.address) {
                error(me.interfaces.first?.location ?? me.location,
                      "node \(me.name): its peer \(peer.address) is outside its subnet \(mine.network)/\(mine.prefixLength) (the ends share one wire)",
                      suggestion: "put both in one subnet, e.g. \(mine.network)/\(mine.prefixLength)")
            }
        }
    }

    func checkMiddleboxes() {
        for n in topology.middleboxes {
            let neighbours = n.interfaces.map { i in
                topology.links.first { ($0.a.node == n.name && $0.a.interface == i.name) || ($0.b.node == n.name && $0.b.interface == i.name) }
                    .map { $0.a.node == n.name ? $0.b.node : $0.a.node }
            }
            let names = neighbours.compactMap { $0 } + n.interfaces.map(\.name)
            for d in n.directions where !names.contains(d.from) {
                error(d.location, "middlebox \(n.name): from: \(d.from) is not one of its neighbours",
                      suggestion: didYouMean(d.from, names) ?? "neighbours: \(neighbours.compactMap { $0 }.joined(separator: ", "))")
            }
        }
    }

    // MARK: Steps

    mutating func resolveSockets() {
        var named: [String: [String: Topology.Operation]] = [:]  // node → name → what made it
        var lastListener: [String: String] = [:]
        var lastConnection: [String: String] = [:]
        var counter = 0
        for (k, step) in topology.steps.enumerated() {
            guard let node = topology.node(named: step.node) else { continue }
            var s = step
            let op = step.operation
            if node.role == .middlebox && op.op != "counters" {
                error(step.location, "a middlebox takes no \(op.op); it only forwards (and counts)", suggestion: "give the step to a client or server")
                continue
            }
            if node.role.isKernel && (op.op == "counters" || op.op == "state") {
                error(step.location, "a kernel node does not report \(op.op) (it runs the namespace's own Linux stack)")
                continue
            }
            if op.needsSocket {
                if let name = step.socket {
                    if named[step.node]?[name] == nil {
                        let known = Array((named[step.node] ?? [:]).keys)
                        error(step.location, "\(op.op) on \(step.node): no socket named \(name) yet",
                              suggestion: didYouMean(name, known) ?? (known.isEmpty ? "save one with as: on a listen, connect or accept step before" : "sockets so far: \(known.sorted().joined(separator: ", "))"))
                    }
                } else {
                    let fallback: String?
                    switch op {
                    case .accept: fallback = lastListener[step.node]
                    default: fallback = lastConnection[step.node] ?? lastListener[step.node]
                    }
                    guard let f = fallback else {
                        error(step.location, "\(op.op) on \(step.node): it has no socket yet",
                              suggestion: op.op == "accept" ? "listen first" : "connect or accept first")
                        continue
                    }
                    s.socket = f
                }
                if case .accept = op, let name = s.socket, let maker = named[step.node]?[name], maker.op != "listen" {
                    error(step.location, "accept on \(name), which is not a listening socket")
                }
            } else if step.socket != nil {
                error(step.location, "\(op.op) takes no socket")
            }
            if op.createsSocket {
                counter += 1
                let name = step.saveAs ?? "\(op.op)\(counter)"
                if step.saveAs != nil, named[step.node]?[name] != nil {
                    error(step.location, "socket name \(name) is already used on \(step.node)", suggestion: "give each socket its own as: name")
                }
                named[step.node, default: [:]][name] = op
                s.saveAs = name
                if case .listen = op { lastListener[step.node] = name } else { lastConnection[step.node] = name }
            }
            topology.steps[k] = s
        }
    }

    // MARK: Expectations

    func checkExpectations() {
        let t = topology
        let engineNodes = t.nodes.filter { $0.role.runsEngine || (!runsOnNetns && $0.role.isKernel) }
        for e in t.expectations {
            let node = e.node.flatMap { t.node(named: $0) }
            let kernelHere = node?.role.isKernel == true && runsOnNetns
            switch e.clause {
            case .segments:
                if node?.role == .middlebox {
                    error(e.location, "a middlebox records only what it drops or delays; expect on what the ends send and receive")
                }
            case .state, .neverReaches:
                if kernelHere {
                    error(e.location, "\(e.node!) is a kernel node: its socket states are the kernel's and not recorded",
                          suggestion: "expect on its segments (\(e.node!) sends \"S.\") or its connect instead")
                }
                if node?.role == .middlebox { error(e.location, "a middlebox has no TCP states") }
            case let .counter(name, _, _):
                if let node {
                    if node.role == .middlebox {
                        if !Topology.middleboxCounters.contains(name) {
                            error(e.location, "a middlebox counts only \(Topology.middleboxCounters.joined(separator: ", "))",
                                  suggestion: didYouMean(name, Topology.middleboxCounters))
                        }
                    } else if kernelHere {
                        error(e.location, "\(node.name) is a kernel node: TCPLab does not read its counters (nstat inside its namespace does)")
                    } else if MIB(name: name) == nil {
                        error(e.location, "unknown counter \(name)", suggestion: didYouMean(name, MIB.allCases.map(\.name)) ?? "counters are named as nstat prints them, such as ListenOverflows")
                    }
                } else if MIB(name: name) == nil && !Topology.middleboxCounters.contains(name) {
                    error(e.location, "unknown counter \(name)", suggestion: didYouMean(name, MIB.allCases.map(\.name) + Topology.middleboxCounters) ?? "counters are named as nstat prints them, such as ListenOverflows")
                } else if engineNodes.isEmpty {
                    error(e.location, "no node here reports counters")
                }
            case .connectSucceeds, .connectFails:
                if !t.steps.contains(where: { ($0.node == e.node || e.node == nil) && $0.operation.op == "connect" }) {
                    error(e.location, "\(e.node ?? "no node") never connects", suggestion: "add a connect step, or expect on another node")
                }
            case .acceptReturns, .acceptFails:
                if !t.steps.contains(where: { ($0.node == e.node || e.node == nil) && $0.operation.op == "accept" }) {
                    error(e.location, "\(e.node ?? "no node") never calls accept", suggestion: "add an accept step")
                }
            case .reads:
                if !t.steps.contains(where: { ($0.node == e.node || e.node == nil) && $0.operation.op == "recv" }) {
                    error(e.location, "\(e.node ?? "no node") never calls recv", suggestion: "add a recv step")
                }
            case .error, .consumes:
                break
            }
        }
    }

    /// Expectations that cannot all hold: different exact counts of the same segments, counter bounds
    /// with nothing between them, a connect that must both succeed and fail, a state both reached and
    /// never reached, a schedule with more or fewer times than the count.
    func checkContradictions() {
        struct Seen {
            var text: String
            var location: SourceLocation
            var range: ClosedRange<Int>
        }
        var segmentCounts: [String: Seen] = [:]
        var counterRanges: [String: Seen] = [:]
        var connects: [String: (String, Expectation)] = [:]
        var reached: [String: Expectation] = [:]
        var never: [String: Expectation] = [:]
        func clash(_ e: Expectation, _ other: SourceLocation, _ otherText: String) {
            error(e.location, "expectation contradicts line \(other.line) (\"\(otherText)\"): both cannot hold",
                  suggestion: "remove one of them")
        }
        for e in topology.expectations {
            let who = e.node ?? "*"
            switch e.clause {
            case let .segments(dir, flags, payload, seq, count, schedule, window):
                if let schedule, let count, count.lowerBound == count.upperBound, schedule.count != count.lowerBound {
                    error(e.location, "expectation contradicts itself: \(count.lowerBound) times but \(schedule.count) times listed")
                }
                if let schedule, schedule != schedule.sorted() {
                    error(e.location, "the times after 'at' must go up (they are offsets from the first match)")
                }
                guard window == nil else { continue }
                let range = count ?? schedule.map { $0.count...$0.count } ?? (1...Int.max)
                let key = "\(who) \(dir) \(flags ?? "*") \(payload) \(seq.map(String.init) ?? "*")"
                if let prev = segmentCounts[key] {
                    let lo = max(prev.range.lowerBound, range.lowerBound), hi = min(prev.range.upperBound, range.upperBound)
                    if lo > hi { clash(e, prev.location, prev.text) } else { segmentCounts[key] = Seen(text: prev.text, location: prev.location, range: lo...hi) }
                } else {
                    segmentCounts[key] = Seen(text: e.text, location: e.location, range: range)
                }
            case let .counter(name, op, value):
                guard let range = op.range(value) else { continue }
                let key = "\(who) \(name)"
                if let prev = counterRanges[key] {
                    let lo = max(prev.range.lowerBound, range.lowerBound), hi = min(prev.range.upperBound, range.upperBound)
                    if lo > hi { clash(e, prev.location, prev.text) } else { counterRanges[key] = Seen(text: prev.text, location: prev.location, range: lo...hi) }
                } else {
                    counterRanges[key] = Seen(text: e.text, location: e.location, range: range)
                }
            case .connectSucceeds, .connectFails:
                let outcome: String
                if case let .connectFails(errno, _) = e.clause { outcome = errno } else { outcome = "success" }
                if let (prev, pe) = connects[who], prev != outcome,
                   topology.steps.filter({ $0.node == e.node && $0.operation.op == "connect" }).count <= 1 {
                    clash(e, pe.location, pe.text)
                } else {
                    connects[who] = (outcome, e)
                }
            case let .state(s, _):
                if let n = never["\(who) \(s)"] { clash(e, n.location, n.text) }
                reached["\(who) \(s)"] = e
            case let .neverReaches(s):
                if let r = reached["\(who) \(s)"] { clash(e, r.location, r.text) }
                never["\(who) \(s)"] = e
            default:
                break
            }
        }
    }
}

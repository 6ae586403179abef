import LabControl
import LabCoordinator
import TCPPolicy

extension Topology {
    /// Whether a failed reply of this step stops the run (a lab error) when the file does not say
    /// `may-fail`: accept and recv report "nothing yet" as an answer, not as a failure.
    static func mustSucceed(_ step: Step) -> Bool {
        if step.mayFail { return false }
        switch step.operation {
        case .accept, .recv, .state: return false
        default: return true
        }
    }

    /// The steps as the worker protocol runs them: each node's socket options right after every
    /// socket it opens (the control protocol has no socket() call, so they follow listen/connect).
    var expandedSteps: [Step] {
        var out: [Step] = []
        for s in steps {
            out.append(s)
            guard let n = node(named: s.node), !n.socketOptions.isEmpty, let name = s.saveAs else { continue }
            switch s.operation {
            case .listen, .connect:
                for o in n.socketOptions {
                    let op: Operation = o.name == "SO_LINGER" ? .setsockopt(name: o.name, value: 1, seconds: o.value) : .setsockopt(name: o.name, value: o.value, seconds: nil)
                    out.append(Step(at: s.at, node: s.node, operation: op, socket: name, saveAs: nil, mayFail: false, location: s.location))
                }
            default: break
            }
        }
        return out
    }

    /// A middlebox's impairments as the worker takes them: [frames arriving on interface 0, on 1].
    func impairments(of box: Node) -> [ImpairmentSpec] {
        var specs = [ImpairmentSpec(), ImpairmentSpec()]
        for d in box.directions {
            guard let k = directionIndex(box, from: d.from), k < 2 else { continue }
            var s = specs[k]
            let o = d.spec
            s.loss = o.loss ?? s.loss
            s.delayMs = o.delayMs ?? s.delayMs
            s.jitterMs = o.jitterMs ?? s.jitterMs
            s.duplicate = o.duplicate ?? s.duplicate
            s.reorder = o.reorder ?? s.reorder
            s.reorderDelayMs = o.reorderDelayMs ?? s.reorderDelayMs
            s.corrupt = o.corrupt ?? s.corrupt
            s.rateBitsPerSecond = o.rateBitsPerSecond ?? s.rateBitsPerSecond
            if let r = o.rules { s.rules = (s.rules ?? []) + r }
            specs[k] = s
        }
        return specs
    }

    /// Which of a middlebox's interfaces the frames from `from` (a neighbour, or an interface name) arrive on.
    func directionIndex(_ box: Node, from: String) -> Int? {
        for (k, i) in box.interfaces.enumerated() {
            if i.name == from { return k }
            let peer = links.first { ($0.a.node == box.name && $0.a.interface == i.name) || ($0.b.node == box.name && $0.b.interface == i.name) }
                .map { $0.a.node == box.name ? $0.b.node : $0.a.node }
            if peer == from { return k }
        }
        return nil
    }

    /// The network-namespace plan: a namespace and worker per node, a veth per link, the steps.
    public func labPlan(seed: UInt64) -> LabPlan {
        let planNodes = nodes.map { n in
            LabPlan.Node(name: n.name, role: n.role,
                         interfaces: n.interfaces.map { InterfaceSpec(name: $0.name, mac: $0.mac, address: $0.address.map { "\($0)" }, mtu: $0.mtu) },
                         sysctl: n.sysctl, impair: n.role == .middlebox ? impairments(of: n) : [], gateway: n.gateway.map { "\($0)" },
                         policies: Dictionary(n.policies.map { ($0.kind, PolicySpec(name: $0.name, parameters: $0.parameters)) },
                                              uniquingKeysWith: { _, b in b }),
                         placement: n.placement)
        }
        let planLinks = links.map { LabPlan.Link(($0.a.node, $0.a.interface), ($0.b.node, $0.b.interface)) }
        let planSteps = expandedSteps.map { s in
            LabPlan.Step(at: s.at, node: s.node, s.operation.op, socket: s.socket, saveAs: s.saveAs, mustSucceed: Self.mustSucceed(s)) { c in
                switch s.operation {
                case let .listen(port, backlog, address):
                    c.port = port
                    c.backlog = backlog
                    c.address = address
                case let .connect(to, localPort):
                    c.to = to
                    c.localPort = localPort
                case let .send(data): c.data = data
                case let .shutdown(how): c.how = how
                case let .setsockopt(name, value, seconds):
                    c.name = name
                    c.value = value
                    c.seconds = seconds
                case let .sysctl(name, value):
                    c.name = name
                    c.value = value
                case .accept: c.blocking = false
                default: break
                }
            }
        }
        return LabPlan(name: name, nodes: planNodes, links: planLinks, steps: planSteps, duration: duration, seed: seed)
    }
}

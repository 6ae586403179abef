import Foundation
import LabControl
import TCPPolicy

/// A lab to build and an experiment to run in it: nodes, links, and a timeline of steps. Topology
/// files compile to this; tests build it directly.
public struct LabPlan: Sendable {
    public struct Node: Sendable {
        public var name: String
        public var role: NodeRole
        /// Interfaces in order (`eth0`, `eth1`); addresses for client, server and kernel nodes.
        public var interfaces: [InterfaceSpec]
        public var sysctl: [String: Int]
        /// Middlebox: [interface 0 → 1, interface 1 → 0].
        public var impair: [ImpairmentSpec]
        public var gateway: String?
        /// Policies by seam (`isn`, `accept-queue`, `delayed-ack`): built-ins or plugins with parameters.
        public var policies: [String: PolicySpec]
        /// The worker's CPUs and wake-up latency.
        public var placement: Placement

        public init(name: String, role: NodeRole, interfaces: [InterfaceSpec], sysctl: [String: Int] = [:],
                    impair: [ImpairmentSpec] = [], gateway: String? = nil, policies: [String: PolicySpec] = [:],
                    placement: Placement = Placement()) {
            self.name = name
            self.role = role
            self.interfaces = interfaces
            self.sysctl = sysctl
            self.impair = impair
            self.gateway = gateway
            self.policies = policies
            self.placement = placement
        }
    }

    /// A veth pair between two node interfaces.
    public struct Link: Sendable {
        public var a: (node: String, interface: String)
        public var b: (node: String, interface: String)
        public var mtu: Int
        public init(_ a: (String, String), _ b: (String, String), mtu: Int = 1500) {
            self.a = a
            self.b = b
            self.mtu = mtu
        }
    }

    /// One step of the timeline: at `at` after the start, on `node`, do `command` (its `op` and fields
    /// as the worker protocol says). `socket` names a handle from an earlier step's `saveAs`.
    public struct Step: Sendable {
        public var at: Interval
        public var node: String
        public var command: ControlCommand
        /// Use the socket an earlier step saved under this name.
        public var socket: String?
        /// Save the socket this step returns under this name.
        public var saveAs: String?
        /// Whether a failed reply fails the run (false for steps whose failure is the point, such as a
        /// connect expected to be refused, which reports through events anyway).
        public var mustSucceed: Bool

        public init(at: Interval, node: String, _ op: String, socket: String? = nil, saveAs: String? = nil,
                    mustSucceed: Bool = true, configure: (inout ControlCommand) -> Void = { _ in })
        {
            self.at = at
            self.node = node
            var c = ControlCommand(id: 0, op: op)
            configure(&c)
            command = c
            self.socket = socket
            self.saveAs = saveAs
            self.mustSucceed = mustSucceed
        }
    }

    public var name: String
    public var nodes: [Node]
    public var links: [Link]
    public var steps: [Step]
    /// How long the run lasts after the start (the last step plus a grace period by default).
    public var duration: Interval
    public var seed: UInt64

    public init(name: String, nodes: [Node], links: [Link], steps: [Step], duration: Interval? = nil, seed: UInt64 = 1) {
        self.name = name
        self.nodes = nodes
        self.links = links
        self.steps = steps.sorted { $0.at < $1.at }
        self.duration = duration ?? ((steps.map(\.at).max() ?? .zero) + .milliseconds(500))
        self.seed = seed
    }

    /// Problems that make the plan unbuildable, each naming the node or link and the fix.
    public func validate() -> [String] {
        var problems: [String] = []
        var seen = Set<String>()
        for n in nodes {
            if !seen.insert(n.name).inserted { problems.append("node \(n.name): duplicate name") }
            if n.role == .middlebox && n.interfaces.count != 2 { problems.append("node \(n.name): a middlebox needs exactly two interfaces") }
            for i in n.interfaces where i.name.utf8.count > 15 {
                problems.append("node \(n.name): interface name \(i.name) is longer than 15 characters")
            }
            if n.role != .middlebox {
                for i in n.interfaces where i.address == nil { problems.append("node \(n.name): interface \(i.name) needs an address") }
            }
        }
        for l in links {
            for end in [l.a, l.b] {
                guard let node = nodes.first(where: { $0.name == end.node }) else {
                    problems.append("link \(l.a.node):\(l.a.interface)-\(l.b.node):\(l.b.interface): unknown node \(end.node)")
                    continue
                }
                if !node.interfaces.contains(where: { $0.name == end.interface }) {
                    problems.append("link to \(end.node):\(end.interface): node \(end.node) has no interface \(end.interface)")
                }
            }
        }
        for s in steps where !nodes.contains(where: { $0.name == s.node }) {
            problems.append("step at \(s.at): unknown node \(s.node)")
        }
        return problems
    }
}

import LabControl
import TCPPolicy
import TCPWire

/// Where a topology runs.
public enum Backend: String, Sendable, CaseIterable, Codable {
    /// Network namespaces and real time (root).
    case netns
    /// LabSim: every node in one process, virtual time.
    case sim
}

/// A lab experiment as a topology file describes it (docs/topologies.md): nodes, links, a timeline of
/// steps and the expectations that make the run pass or fail. Produced by `Topology.load`, which has
/// checked everything a lab needs; compiled to a `LabPlan` (netns) or run in LabSim.
public struct Topology: Sendable {
    public var file: String
    public var name: String
    public var description: String
    /// The backend these values were resolved for (its `netns:` or `sim:` overlay applied).
    public var backend: Backend
    /// Backends the scenario runs on (all when the file says nothing), and why not the others.
    public var backends: [Backend]
    public var backendsReason: String?
    public var seed: UInt64?
    /// How long the run lasts from its start.
    public var duration: Interval
    public var nodes: [Node]
    public var links: [Link]
    /// In time order.
    public var steps: [Step]
    public var expectations: [Expectation]

    public struct Interface: Sendable {
        public var name: String
        public var address: IPv4Interface?
        public var mac: String
        public var mtu: Int
        public var location: SourceLocation
    }

    /// A policy for one seam: a built-in name (`linux`) or a plugin with its parameters.
    public struct PolicyChoice: Sendable {
        /// `isn`, `accept-queue`, `delayed-ack`.
        public var kind: String
        public var name: String
        public var parameters: [String: String]
        public var location: SourceLocation
        public var isLinux: Bool { name == "linux" && parameters.isEmpty }
    }

    /// A middlebox rule or impairment for the frames coming from one side.
    public struct Direction: Sendable {
        /// The neighbour the frames come from (a node name), as written.
        public var from: String
        public var spec: ImpairmentSpec
        public var location: SourceLocation
    }

    public struct Node: Sendable {
        public var name: String
        public var role: NodeRole
        public var interfaces: [Interface]
        public var gateway: IPv4Address?
        public var sysctl: [String: Int]
        /// Socket options applied to every socket the node opens (right after listen/connect).
        public var socketOptions: [(name: String, value: Int)]
        public var policies: [PolicyChoice]
        /// Middlebox only: impairments and rules per direction, by the neighbour they come from.
        public var directions: [Direction]
        /// The worker's CPUs and wake-up latency (`cpus`, `low-latency`); the simulator ignores them.
        public var placement: Placement = Placement()
        public var location: SourceLocation

        public var address: IPv4Interface? { interfaces.first?.address }
    }

    public struct Link: Sendable {
        public var a: (node: String, interface: String)
        public var b: (node: String, interface: String)
        public var location: SourceLocation
    }

    public enum Operation: Sendable {
        case listen(port: UInt16, backlog: Int, address: String?)
        /// `to` resolved to `198.18.0.2:80`.
        case connect(to: String, localPort: UInt16?)
        case accept
        case send(String)
        case recv
        case close
        case shutdown(String)
        case setsockopt(name: String, value: Int, seconds: Int?)
        case sysctl(name: String, value: Int)
        case counters
        case state
        /// The node vanishes: its worker (or simulated host) stops at once, as a machine that crashes or
        /// loses power — no FIN, no RST (a kernel node's process exit closes its sockets, as Linux does).
        case stop

        public var op: String {
            switch self {
            case .listen: "listen"
            case .connect: "connect"
            case .accept: "accept"
            case .send: "send"
            case .recv: "recv"
            case .close: "close"
            case .shutdown: "shutdown"
            case .setsockopt: "setsockopt"
            case .sysctl: "sysctl"
            case .counters: "counters"
            case .state: "state"
            case .stop: "stop"
            }
        }

        /// The call as a reader would write it: `listen(80, backlog 128)`, `setsockopt(SO_KEEPALIVE, 1)`.
        public var callText: String {
            switch self {
            case let .listen(port, backlog, address): "listen(\(address.map { "\($0):" } ?? "")\(port), backlog \(backlog))"
            case let .connect(to, localPort): "connect(\(to)\(localPort.map { " from port \($0)" } ?? ""))"
            case .accept: "accept()"
            case let .send(data): "send(\"\(data)\")"
            case .recv: "recv()"
            case .close: "close()"
            case let .shutdown(how): "shutdown(\(how))"
            case let .setsockopt(name, value, seconds): "setsockopt(\(name), \(seconds.map { "on, \($0) s" } ?? String(value)))"
            case let .sysctl(name, value): "sysctl \(name) = \(value)"
            case .counters: "counters"
            case .state: "state"
            case .stop: "stop the node"
            }
        }

        /// Creates a socket the step saves.
        var createsSocket: Bool {
            switch self {
            case .listen, .connect, .accept: true
            default: false
            }
        }

        /// Works on an existing socket.
        var needsSocket: Bool {
            switch self {
            case .accept, .send, .recv, .close, .shutdown, .setsockopt, .state: true
            default: false
            }
        }
    }

    public struct Step: Sendable {
        public var at: Interval
        public var node: String
        public var operation: Operation
        /// The socket it works on (a name saved by an earlier step), resolved.
        public var socket: String?
        /// The name under which the socket it creates is saved.
        public var saveAs: String?
        /// Whether a failure is part of the story (connect refused, accept with nothing queued…).
        public var mayFail: Bool
        public var location: SourceLocation
    }

    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// The endpoints (everything but middleboxes), in file order.
    public var endpoints: [Node] { nodes.filter { $0.role != .middlebox } }
    public var middleboxes: [Node] { nodes.filter { $0.role == .middlebox } }

    /// Nodes left to right for pictures: along the links from the first endpoint.
    public var chain: [String] {
        guard let start = endpoints.first?.name else { return nodes.map(\.name) }
        var order = [start]
        var current = start
        while let next = links.compactMap({ l -> String? in
            if l.a.node == current && !order.contains(l.b.node) { return l.b.node }
            if l.b.node == current && !order.contains(l.a.node) { return l.a.node }
            return nil
        }).first {
            order.append(next)
            current = next
        }
        for n in nodes where !order.contains(n.name) { order.append(n.name) }
        return order
    }
}

import Foundation
import LabControl
import TCPEngine
import TCPPolicy
import TCPWire

extension Topology {
    static let topKeys = ["name", "description", "seed", "duration", "backends", "allow-addresses", "nodes", "links", "steps",
                          "expect", "netns", "sim"]
    static let overlayKeys = ["description", "seed", "duration", "allow-addresses", "nodes", "links", "steps", "expect"]
    static let nodeKeys = ["role", "address", "interfaces", "mac", "gateway", "sysctl", "socket-options", "policies", "impair", "rules",
                           "cpus", "low-latency"]
    static let interfaceKeys = ["address", "mac", "mtu"]
    static let impairKeys = ["from", "loss", "delay", "jitter", "duplicate", "reorder", "reorder-delay", "corrupt", "rate"]
    static let ruleKeys = ["from", "match", "nth", "action", "delay", "name"]
    static let matchKeys = ["flags", "len", "sport", "dport", "arp"]
    static let stepKeys = ["at", "after", "node", "as", "socket", "may-fail"]
    static let operations = ["listen", "connect", "accept", "send", "recv", "close", "shutdown", "setsockopt", "sysctl",
                             "counters", "state", "wait", "stop"]
    static let policyKinds = ["isn", "accept-queue", "delayed-ack"]
    static let socketOptionNames = ["SO_REUSEADDR", "SO_KEEPALIVE", "SO_RCVBUF", "SO_SNDBUF", "SO_LINGER", "TCP_DEFER_ACCEPT",
                                    "TCP_QUICKACK", "TCP_SYNCNT", "TCP_MAXSEG", "TCP_USER_TIMEOUT", "TCP_KEEPIDLE", "TCP_KEEPINTVL",
                                    "TCP_KEEPCNT", "TCP_LINGER2", "TCP_NODELAY", "O_NONBLOCK"]
    /// What a kernel node's worker can set (`setsockopt(2)` numbers it knows).
    static let kernelSocketOptionNames = ["SO_REUSEADDR", "SO_KEEPALIVE", "SO_RCVBUF", "SO_SNDBUF", "SO_LINGER", "TCP_NODELAY",
                                          "TCP_MAXSEG", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_SYNCNT", "TCP_LINGER2",
                                          "TCP_DEFER_ACCEPT", "TCP_QUICKACK", "TCP_USER_TIMEOUT"]
    /// Counters a middlebox keeps.
    static let middleboxCounters = ["Forwarded0to1", "Forwarded1to0", "Dropped0to1", "Dropped1to0"]
    /// RFC 2544's benchmarking range: lab addresses live here unless a topology allows more.
    public static let labRange = IPv4Interface(address: IPv4Address(198, 18, 0, 0), prefixLength: 15)

    /// Loads and checks a topology file for one backend (its `netns:` or `sim:` overlay applied).
    /// - Throws: `TopologyErrors` with every problem found, each at its `file:line:column`.
    public static func load(path: String, backend: Backend, policies: PolicyCatalog = .shared) throws(TopologyErrors) -> Topology {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw TopologyErrors([Diagnostic(SourceLocation(file: path, line: 1, column: 1), "cannot read the file: \(error.localizedDescription)",
                                             suggestion: "the shipped topologies are in Topologies/")])
        }
        return try parse(yaml: text, file: path, backend: backend, policies: policies)
    }

    /// Checks a topology file for every backend it runs on: the union of their problems.
    public static func validate(path: String, policies: PolicyCatalog = .shared) -> [Diagnostic] {
        var all: [Diagnostic] = []
        for b in Backend.allCases {
            do { _ = try load(path: path, backend: b, policies: policies) } catch {
                all += error.diagnostics
            }
        }
        return TopologyErrors(all).diagnostics
    }

    /// Parses and checks YAML text (`file` names it in diagnostics).
    public static func parse(yaml: String, file: String, backend: Backend, policies: PolicyCatalog = .shared) throws(TopologyErrors) -> Topology {
        let root = try YAMLNode.parse(yaml, file: file)
        var loader = Loader(file: file, text: yaml, backend: backend, policies: policies)
        let topology = loader.load(root)
        let problems = loader.reader.diagnostics
        if !problems.isEmpty || topology == nil {
            throw TopologyErrors(problems.isEmpty ? [Diagnostic(root.location, "not a topology")] : problems)
        }
        return topology!
    }
}

/// Reads a topology out of the YAML tree, checking as it goes; `Topology+Validate` does the checks
/// that need the whole picture.
struct Loader {
    let file: String
    let lines: [Substring]
    let backend: Backend
    let policies: PolicyCatalog
    let reader = Reader()
    /// Nodes written but not loadable (already reported): references to them are not errors again.
    var broken: Set<String> = []

    init(file: String, text: String, backend: Backend, policies: PolicyCatalog) {
        self.file = file
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        self.backend = backend
        self.policies = policies
    }

    func error(_ at: SourceLocation, _ message: String, suggestion: String? = nil) {
        reader.error(at, message, suggestion: suggestion)
    }

    mutating func load(_ original: YAMLNode) -> Topology? {
        guard let top = reader.mapping(original, "the topology", allowed: Topology.topKeys) else { return nil }
        // The backend's overlay: its keys replace or extend the base document's.
        var root = original
        for b in Backend.allCases {
            guard let overlay = top.first(where: { $0.key.name == b.rawValue })?.value else { continue }
            _ = reader.mapping(overlay, "\(b.rawValue) (what changes on the \(b.rawValue) backend)", allowed: Topology.overlayKeys)
            if b == backend {
                if case let .mapping(pairs) = overlay.value, let nodes = pairs.first(where: { $0.key.name == "nodes" })?.value,
                   case let .mapping(overNodes) = nodes.value, let baseNodes = original["nodes"], case let .mapping(base) = baseNodes.value {
                    let names = base.map(\.key.name)
                    for n in overNodes where !names.contains(n.key.name) {
                        error(n.key.location, "\(b.rawValue): nodes: \(n.key.name) is not a node of this topology",
                              suggestion: didYouMean(n.key.name, names) ?? "an overlay changes nodes defined above")
                    }
                }
                root = original.merged(with: overlay)
            }
        }
        guard let fields = reader.mapping(root, "the topology", allowed: Topology.topKeys) else { return nil }
        func field(_ k: String) -> YAMLNode? { fields.first { $0.key.name == k }?.value }

        var name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        if let n = field("name"), let s = reader.string(n, "name") { name = s }
        else if field("name") == nil { error(root.location, "the topology has no name", suggestion: "add name: \(name)") }
        let description = field("description").flatMap { reader.string($0, "description") } ?? ""
        var seed: UInt64?
        if let s = field("seed"), let v = reader.int(s, "seed", range: 0...Int.max) { seed = UInt64(v) }
        var backends = Backend.allCases
        var backendsReason: String?
        if let b = field("backends") {
            backends = []
            for item in reader.list(b, "backends") ?? [] {
                guard let s = reader.string(item, "a backend") else { continue }
                if let v = Backend(rawValue: s) { backends.append(v) } else {
                    error(item.location, "unknown backend \(s)", suggestion: didYouMean(s, Backend.allCases.map(\.rawValue)) ?? "netns or sim")
                }
            }
            backendsReason = comment(before: b.location)
        }
        var allowed: [IPv4Interface] = [Topology.labRange]
        if let a = field("allow-addresses") {
            for item in reader.list(a, "allow-addresses") ?? [] {
                guard let s = reader.string(item, "an address range") else { continue }
                if let r = IPv4Interface(s) { allowed.append(r) } else { error(item.location, "\(s) is not a range such as 10.0.0.0/8") }
            }
        }

        var nodes: [Topology.Node] = []
        if let n = field("nodes") {
            for (k, v) in reader.mapping(n, "nodes") ?? [] {
                if let node = loadNode(k, v, index: nodes.count) { nodes.append(node) } else { broken.insert(k.name) }
            }
        } else {
            error(root.location, "the topology has no nodes", suggestion: "add nodes: { client: { role: client, address: 198.18.0.1/24 }, … }")
        }
        let links = field("links").map { loadLinks($0, nodes: nodes) } ?? []
        if field("links") == nil && !nodes.isEmpty {
            error(root.location, "the topology has no links", suggestion: "add links: [[client:eth0, server:eth0]]")
        }
        var steps = field("steps").map { loadSteps($0, nodes: nodes) } ?? []
        steps = steps.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
        let lastStep = steps.map(\.at).max() ?? .zero
        var duration = lastStep + .seconds(1)
        if let d = field("duration"), let v = reader.duration(d, "duration") {
            duration = v
            if v < lastStep { error(d.location, "duration \(v) ends before the last step (at \(lastStep))", suggestion: "make it at least \(lastStep)") }
        }
        var expectations: [Expectation] = []
        if let e = field("expect") {
            for item in reader.list(e, "expect") ?? [] {
                guard let text = reader.string(item, "an expectation") else { continue }
                do throws(ExpectationSyntaxError) {
                    let (node, clause) = try Expectation.parse(text, nodes: nodes.map(\.name) + broken.sorted())
                    if let node, broken.contains(node) { continue }
                    expectations.append(Expectation(text: text, location: item.location, node: node, clause: clause))
                } catch {
                    let quoted = source(at: item.location).first.map { $0 == "\"" || $0 == "'" } ?? false
                    var at = item.location
                    at.column += error.offset + (quoted ? 1 : 0)
                    self.error(at, "expectation: \(error.message)", suggestion: error.suggestion)
                }
            }
        }
        var t = Topology(file: file, name: name, description: description, backend: backend, backends: backends,
                         backendsReason: backendsReason, seed: seed, duration: duration, nodes: nodes, links: links,
                         steps: steps, expectations: expectations)
        var validator = Validator(topology: t, reader: reader, allowed: allowed, policies: policies, broken: broken)
        validator.run()
        t = validator.topology
        return t
    }

    // MARK: Source text

    /// The text at a location (for column arithmetic on quoted scalars).
    func source(at l: SourceLocation) -> Substring {
        let ls = lines
        guard l.line - 1 < ls.count, l.line >= 1 else { return "" }
        let line = ls[l.line - 1]
        let start = line.index(line.startIndex, offsetBy: min(max(0, l.column - 1), line.count))
        return line[start...]
    }

    /// A `# comment` on the line of `l` (the reason written beside `backends:`).
    func comment(before l: SourceLocation) -> String? {
        let ls = lines
        guard l.line - 1 < ls.count, l.line >= 1, let hash = ls[l.line - 1].firstIndex(of: "#") else { return nil }
        return String(ls[l.line - 1][ls[l.line - 1].index(after: hash)...]).trimmingSpaces
    }

    // MARK: Nodes

    func loadNode(_ key: YAMLKey, _ value: YAMLNode, index: Int) -> Topology.Node? {
        let name = key.name
        checkName(name, at: key.location)
        guard let fields = reader.mapping(value, "node \(name)", allowed: Topology.nodeKeys) else { return nil }
        func field(_ k: String) -> YAMLNode? { fields.first { $0.key.name == k }?.value }
        var role = NodeRole.client
        if let r = field("role"), let s = reader.string(r, "role") {
            if let v = NodeRole(rawValue: s) { role = v } else {
                error(r.location, "node \(name): unknown role \(s)",
                      suggestion: didYouMean(s, NodeRole.allCases.map(\.rawValue)) ?? "roles: \(NodeRole.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
        } else if field("role") == nil {
            error(key.location, "node \(name) has no role", suggestion: "add role: client, server, middlebox, kernel-client or kernel-server")
            return nil
        }
        func mac(_ i: Int) -> String {
            String(format: "02:00:00:00:%02x:%02x", (index + 1) & 0xff, i & 0xff)
        }
        var interfaces: [Topology.Interface] = []
        if let a = field("address") {
            if let s = reader.string(a, "address") {
                interfaces.append(Topology.Interface(name: "eth0", address: parseAddress(s, at: a.location, node: name), mac: mac(0), mtu: 1500,
                                                     location: a.location))
            }
        }
        if let i = field("interfaces") {
            if field("address") != nil {
                error(i.location, "node \(name): give either address: (one interface, eth0) or interfaces:, not both")
            }
            for (k, v) in reader.mapping(i, "node \(name): interfaces") ?? [] {
                checkInterfaceName(k.name, at: k.location, node: name)
                var iface = Topology.Interface(name: k.name, address: nil, mac: mac(interfaces.count), mtu: 1500, location: k.location)
                switch v.value {
                case .null: break
                case .scalar:
                    if let s = reader.string(v, "address") { iface.address = parseAddress(s, at: v.location, node: name) }
                default:
                    for (fk, fv) in reader.mapping(v, "interface \(name):\(k.name)", allowed: Topology.interfaceKeys) ?? [] {
                        switch fk.name {
                        case "address": if let s = reader.string(fv, "address") { iface.address = parseAddress(s, at: fv.location, node: name) }
                        case "mac":
                            if let s = reader.string(fv, "mac") {
                                if MACAddress(s) == nil { error(fv.location, "\(s) is not a MAC address such as 02:00:00:00:00:01") } else { iface.mac = s }
                            }
                        case "mtu": if let m = reader.int(fv, "mtu", range: 576...9000) { iface.mtu = m }
                        default: break
                        }
                    }
                }
                interfaces.append(iface)
            }
        }
        if let m = field("mac"), let s = reader.string(m, "mac") {
            if MACAddress(s) == nil { error(m.location, "\(s) is not a MAC address such as 02:00:00:00:00:01") }
            else if !interfaces.isEmpty { interfaces[0].mac = s }
        }
        if role == .middlebox && interfaces.isEmpty {
            interfaces = [Topology.Interface(name: "eth0", address: nil, mac: mac(0), mtu: 1500, location: key.location),
                          Topology.Interface(name: "eth1", address: nil, mac: mac(1), mtu: 1500, location: key.location)]
        }
        var gateway: IPv4Address?
        if let g = field("gateway"), let s = reader.string(g, "gateway") {
            if let a = IPv4Address(s) { gateway = a } else { error(g.location, "gateway \(s) is not an IPv4 address") }
        }
        var sysctl: [String: Int] = [:]
        if let s = field("sysctl") {
            for (k, v) in reader.mapping(s, "node \(name): sysctl") ?? [] {
                guard checkSysctl(k.name, at: k.location) else { continue }
                if let n = reader.int(v, k.name) { sysctl[k.name] = n }
            }
        }
        var options: [(name: String, value: Int)] = []
        if let s = field("socket-options") {
            for (k, v) in reader.mapping(s, "node \(name): socket-options") ?? [] {
                guard checkSocketOption(k.name, at: k.location, role: role) else { continue }
                if let n = reader.int(v, k.name) { options.append((k.name, n)) }
            }
        }
        var policyChoices: [Topology.PolicyChoice] = []
        if let p = field("policies") {
            for (k, v) in reader.mapping(p, "node \(name): policies", allowed: Topology.policyKinds) ?? [] {
                if let c = loadPolicy(kind: k.name, v) { policyChoices.append(c) }
            }
        }
        var directions: [Topology.Direction] = []
        if let i = field("impair") {
            for item in reader.list(i, "node \(name): impair") ?? [] {
                if let d = loadImpair(item, node: name) { directions.append(d) }
            }
        }
        if let r = field("rules") {
            for item in reader.list(r, "node \(name): rules") ?? [] {
                if let d = loadRule(item, node: name) { directions.append(d) }
            }
        }
        let placement = loadPlacement(field("cpus"), field("low-latency"), node: name)
        if role != .middlebox {
            for k in ["impair", "rules"] where field(k) != nil {
                error(fields.first { $0.key.name == k }!.key.location, "node \(name): only a middlebox takes \(k)",
                      suggestion: "add a node with role: middlebox between the two ends and give it the \(k)")
            }
            if interfaces.isEmpty { error(key.location, "node \(name) has no address", suggestion: "add address: 198.18.0.\(index + 1)/24") }
        } else {
            for k in ["address", "sysctl", "socket-options", "policies", "gateway"] where field(k) != nil {
                error(fields.first { $0.key.name == k }!.key.location, "node \(name): a middlebox takes no \(k) (it runs no TCP)")
            }
        }
        if role.isKernel {
            for c in policyChoices where !c.isLinux {
                error(c.location, "node \(name): a kernel node runs Linux's own stack; its \(c.kind) policy cannot be changed")
            }
        }
        return Topology.Node(name: name, role: role, interfaces: interfaces, gateway: gateway, sysctl: sysctl, socketOptions: options,
                             policies: policyChoices, directions: directions, placement: placement, location: key.location)
    }

    /// `cpus: [1]` and `low-latency: true`: where the node's worker runs and how fast it wakes.
    /// The CPUs are checked against this machine's, where the lab will run.
    func loadPlacement(_ cpus: YAMLNode?, _ lowLatency: YAMLNode?, node: String) -> Placement {
        var placement = Placement()
        if let cpus {
            let machine = ProcessInfo.processInfo.activeProcessorCount
            for item in reader.list(cpus, "node \(node): cpus") ?? [] {
                guard let n = reader.int(item, "a cpu") else { continue }
                if n < 0 || n >= machine {
                    error(item.location, "node \(node): cpu \(n) is not on this machine (it has cpus 0–\(machine - 1))",
                          suggestion: "choose cpus between 0 and \(machine - 1), or drop cpus")
                } else if !placement.cpus.contains(n) {
                    placement.cpus.append(n)
                }
            }
        }
        if let lowLatency, let b = reader.bool(lowLatency, "low-latency") { placement.lowLatency = b }
        return placement
    }

    func checkName(_ name: String, at l: SourceLocation) {
        let ok = !name.isEmpty && name.utf8.allSatisfy { b in
            (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
        }
        if !ok { error(l, "node name \"\(name)\" may use only letters, digits, '-' and '_'") }
        if name.utf8.count > 32 { error(l, "node name \(name) is longer than 32 characters", suggestion: "namespaces are named tl-<run>-<node>") }
    }

    func checkInterfaceName(_ name: String, at l: SourceLocation, node: String) {
        if name.utf8.count > 15 {
            error(l, "node \(node): interface name \(name) is \(name.utf8.count) characters; Linux allows at most 15 (IFNAMSIZ)",
                  suggestion: "use a shorter name such as \(String(name.prefix(15)))")
        }
        let ok = !name.isEmpty && name != "." && name != ".." && name.utf8.allSatisfy { b in
            (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
        }
        if !ok { error(l, "node \(node): interface name \"\(name)\" may use only letters, digits, '-', '_' and '.'") }
    }

    func parseAddress(_ s: String, at l: SourceLocation, node: String) -> IPv4Interface? {
        guard s.contains("/"), let a = IPv4Interface(s), (1...32).contains(a.prefixLength) else {
            error(l, "node \(node): \(s) is not an address with its prefix such as 198.18.0.1/24",
                  suggestion: IPv4Address(s) != nil ? "add the prefix length: \(s)/24" : nil)
            return nil
        }
        return a
    }

    func checkSysctl(_ name: String, at l: SourceLocation) -> Bool {
        if Sysctls()[name] != nil { return true }
        error(l, "unknown sysctl \(name)", suggestion: didYouMean(name, Sysctls.names) ?? "known: net.ipv4 and net.core names such as tcp_synack_retries")
        return false
    }

    func checkSocketOption(_ name: String, at l: SourceLocation, role: NodeRole) -> Bool {
        let known = role.isKernel ? Topology.kernelSocketOptionNames : Topology.socketOptionNames
        if known.contains(name) { return true }
        if Topology.socketOptionNames.contains(name) {
            error(l, "socket option \(name) cannot be set on a kernel node")
            return false
        }
        error(l, "unknown socket option \(name)", suggestion: didYouMean(name, known) ?? "known: \(known.joined(separator: ", "))")
        return false
    }

    func loadPolicy(kind: String, _ v: YAMLNode) -> Topology.PolicyChoice? {
        var name = ""
        var params: [String: String] = [:]
        switch v.value {
        case let .scalar(s, _): name = s
        case .mapping:
            for (k, pv) in reader.mapping(v, "\(kind) policy") ?? [] {
                if k.name == "plugin" || k.name == "name" {
                    name = reader.string(pv, "plugin") ?? ""
                } else if let s = reader.string(pv, "parameter \(k.name)") {
                    params[k.name] = s
                }
            }
            if name.isEmpty { error(v.location, "\(kind) policy: say which with plugin: <name>", suggestion: "e.g. { plugin: counter, increment: 64000 }") }
        default:
            error(v.location, "\(kind) policy should be a name (linux) or { plugin: <name>, <parameter>: <value> }, found \(v.kindDescription)")
        }
        guard !name.isEmpty else { return nil }
        if let problem = policies.check(kind: kind, name: name, parameters: params) {
            error(v.location, "\(kind) policy: \(problem.message)", suggestion: problem.fix)
        }
        return Topology.PolicyChoice(kind: kind, name: name, parameters: params, location: v.location)
    }

    func loadImpair(_ item: YAMLNode, node: String) -> Topology.Direction? {
        guard let fields = reader.mapping(item, "node \(node): impair", allowed: Topology.impairKeys) else { return nil }
        var spec = ImpairmentSpec()
        var from: String?
        for (k, v) in fields {
            switch k.name {
            case "from": from = reader.string(v, "from")
            case "loss": spec.loss = reader.double(v, "loss", range: 0...1)
            case "delay": spec.delayMs = reader.duration(v, "delay").map { Double($0.nanoseconds) / 1e6 }
            case "jitter": spec.jitterMs = reader.duration(v, "jitter").map { Double($0.nanoseconds) / 1e6 }
            case "duplicate": spec.duplicate = reader.double(v, "duplicate", range: 0...1)
            case "reorder": spec.reorder = reader.double(v, "reorder", range: 0...1)
            case "reorder-delay": spec.reorderDelayMs = reader.duration(v, "reorder-delay").map { Double($0.nanoseconds) / 1e6 }
            case "corrupt": spec.corrupt = reader.double(v, "corrupt", range: 0...1)
            case "rate": spec.rateBitsPerSecond = reader.int(v, "rate (bits per second)", range: 1...100_000_000_000)
            default: break
            }
        }
        guard let from else {
            error(item.location, "node \(node): impair needs from: <the neighbour whose frames it applies to>")
            return nil
        }
        return Topology.Direction(from: from, spec: spec, location: item.location)
    }

    func loadRule(_ item: YAMLNode, node: String) -> Topology.Direction? {
        guard let fields = reader.mapping(item, "node \(node): rule", allowed: Topology.ruleKeys) else { return nil }
        var from: String?
        var rule = RuleSpec(action: "drop")
        var actionGiven = false
        var delay: Interval?
        for (k, v) in fields {
            switch k.name {
            case "from": from = reader.string(v, "from")
            case "name": rule.name = reader.string(v, "name")
            case "nth":
                switch v.value {
                case .sequence: rule.nth = (reader.list(v, "nth") ?? []).compactMap { reader.int($0, "nth", range: 1...1_000_000) }
                default: rule.nth = reader.int(v, "nth", range: 1...1_000_000).map { [$0] }
                }
            case "action":
                if let a = reader.string(v, "action") {
                    actionGiven = true
                    if a == "drop" || a == "delay" { rule.action = a } else {
                        error(v.location, "unknown rule action \(a)", suggestion: didYouMean(a, ["drop", "delay"]) ?? "drop or delay")
                    }
                }
            case "delay": delay = reader.duration(v, "delay")
            case "match":
                for (mk, mv) in reader.mapping(v, "match", allowed: Topology.matchKeys) ?? [] {
                    switch mk.name {
                    case "flags":
                        if let f = reader.string(mv, "flags") {
                            if TCPFlags(tcpdump: f) == nil {
                                error(mv.location, "\"\(f)\" is not a tcpdump flag set", suggestion: "write the flags as tcpdump does: S, S., ., P., F., R, R.")
                            } else { rule.flags = f }
                        }
                    case "len": rule.len = reader.int(mv, "len", range: 0...65535)
                    case "sport": rule.sport = reader.int(mv, "sport", range: 1...65535).map(UInt16.init)
                    case "dport": rule.dport = reader.int(mv, "dport", range: 1...65535).map(UInt16.init)
                    case "arp": rule.arp = reader.bool(mv, "arp")
                    default: break
                    }
                }
            default: break
            }
        }
        if !actionGiven { error(item.location, "node \(node): the rule needs an action", suggestion: "action: drop, or action: delay with delay: 100ms") }
        if rule.action == "delay" {
            if let delay { rule.delayMs = Double(delay.nanoseconds) / 1e6 } else {
                error(item.location, "node \(node): a delay rule needs delay: <time>", suggestion: "e.g. delay: 100ms")
            }
        } else if delay != nil {
            error(item.location, "node \(node): delay: only goes with action: delay")
        }
        guard let from else {
            error(item.location, "node \(node): the rule needs from: <the neighbour whose frames it applies to>")
            return nil
        }
        return Topology.Direction(from: from, spec: ImpairmentSpec(rules: [rule]), location: item.location)
    }

    // MARK: Links

    func loadLinks(_ node: YAMLNode, nodes: [Topology.Node]) -> [Topology.Link] {
        var links: [Topology.Link] = []
        var used: [String: SourceLocation] = [:]
        let names = nodes.map(\.name)
        for item in reader.list(node, "links") ?? [] {
            guard let ends = reader.list(item, "a link"), ends.count == 2 else {
                if case .sequence = item.value { error(item.location, "a link joins exactly two interfaces: [client:eth0, server:eth0]") }
                continue
            }
            var parsed: [(String, String)] = []
            for end in ends {
                guard let s = reader.string(end, "a link end") else { continue }
                let parts = s.split(separator: ":", maxSplits: 1).map(String.init)
                let nodeName = parts[0]
                guard let n = nodes.first(where: { $0.name == nodeName }) else {
                    if broken.contains(nodeName) { continue }
                    error(end.location, "link to unknown node \(nodeName)", suggestion: didYouMean(nodeName, names) ?? "nodes: \(names.joined(separator: ", "))")
                    continue
                }
                var iface: String
                if parts.count == 2 {
                    iface = parts[1]
                    if !n.interfaces.contains(where: { $0.name == iface }) {
                        let known = n.interfaces.map(\.name)
                        error(end.location, "node \(nodeName) has no interface \(iface)",
                              suggestion: didYouMean(iface, known) ?? "its interfaces: \(known.joined(separator: ", "))")
                        continue
                    }
                } else {
                    guard let free = n.interfaces.first(where: { used["\(nodeName):\($0.name)"] == nil }) else {
                        error(end.location, "node \(nodeName) has no free interface for this link")
                        continue
                    }
                    iface = free.name
                }
                if let first = used["\(nodeName):\(iface)"] {
                    error(end.location, "interface \(nodeName):\(iface) is already linked (line \(first.line))", suggestion: "a veth joins exactly two interfaces")
                    continue
                }
                used["\(nodeName):\(iface)"] = end.location
                parsed.append((nodeName, iface))
            }
            guard parsed.count == 2 else { continue }
            if parsed[0].0 == parsed[1].0 { error(item.location, "a link from \(parsed[0].0) to itself"); continue }
            links.append(Topology.Link(a: parsed[0], b: parsed[1], location: item.location))
        }
        return links
    }

    // MARK: Steps

    func loadSteps(_ node: YAMLNode, nodes: [Topology.Node]) -> [Topology.Step] {
        var steps: [Topology.Step] = []
        var cursor = Interval.zero
        let names = nodes.map(\.name)
        for item in reader.list(node, "steps") ?? [] {
            guard let fields = reader.mapping(item, "a step", allowed: Topology.stepKeys + Topology.operations) else { continue }
            func field(_ k: String) -> YAMLNode? { fields.first { $0.key.name == k }?.value }
            let ops = fields.filter { Topology.operations.contains($0.key.name) }
            guard ops.count == 1, let (opKey, opValue) = ops.first.map({ ($0.key, $0.value) }) else {
                error(item.location, ops.isEmpty ? "the step does nothing" : "a step does one thing; this one has \(ops.map(\.key.name).joined(separator: " and "))",
                      suggestion: "one of: \(Topology.operations.joined(separator: ", "))")
                continue
            }
            var at = cursor
            if let a = field("at"), let d = reader.duration(a, "at") {
                at = d
                if field("after") != nil { error(a.location, "give either at: (from the start) or after: (from the step before), not both") }
            } else if let a = field("after"), let d = reader.duration(a, "after") {
                at = cursor + d
            }
            if opKey.name == "wait" {
                if let d = reader.duration(opValue, "wait") { cursor = at + d }
                for k in ["node", "as", "socket"] where field(k) != nil { error(item.location, "wait takes no \(k)") }
                continue
            }
            cursor = at
            guard let nodeField = field("node") else {
                error(item.location, "the step says no node", suggestion: "add node: \(names.first ?? "client")")
                continue
            }
            guard let nodeName = reader.string(nodeField, "node") else { continue }
            guard let n = nodes.first(where: { $0.name == nodeName }) else {
                if broken.contains(nodeName) { continue }
                error(nodeField.location, "step on unknown node \(nodeName)", suggestion: didYouMean(nodeName, names) ?? "nodes: \(names.joined(separator: ", "))")
                continue
            }
            var mayFail = false
            if let m = field("may-fail") { mayFail = reader.bool(m, "may-fail") ?? false }
            let saveAs = field("as").flatMap { reader.string($0, "as") }
            let socket = field("socket").flatMap { reader.string($0, "socket") }
            for op in operations(opKey, opValue, node: n, nodes: nodes) {
                steps.append(Topology.Step(at: at, node: nodeName, operation: op, socket: socket, saveAs: op.createsSocket ? saveAs : nil,
                                           mayFail: mayFail, location: opKey.location))
            }
        }
        return steps
    }

    /// The operation(s) a step's op key stands for (a setsockopt or sysctl mapping may set several).
    func operations(_ key: YAMLKey, _ v: YAMLNode, node: Topology.Node, nodes: [Topology.Node]) -> [Topology.Operation] {
        let noArgument = { (op: Topology.Operation) -> [Topology.Operation] in
            if !v.isNull, v.scalar != "true" { self.error(v.location, "\(key.name) takes no value", suggestion: "write it as \(key.name): null, or name the socket with socket:") }
            return [op]
        }
        switch key.name {
        case "listen":
            var port: Int?
            var backlog = 128
            var address: String?
            if case .scalar = v.value { port = reader.int(v, "listen port", range: 1...65535) } else {
                let fields = reader.mapping(v, "listen", allowed: ["port", "backlog", "address"]) ?? []
                let portGiven = fields.contains { $0.key.name == "port" }
                for (k, fv) in fields {
                    switch k.name {
                    case "port": port = reader.int(fv, "port", range: 1...65535)
                    case "backlog": backlog = reader.int(fv, "backlog", range: -1...65535) ?? 128
                    case "address": address = reader.string(fv, "address")
                    default: break
                    }
                }
                if !portGiven && !v.isNull { error(v.location, "listen needs a port", suggestion: "listen: { port: 80, backlog: 128 }") }
            }
            guard let port else { if v.isNull { error(v.location, "listen needs a port", suggestion: "listen: 80") }; return [] }
            return [.listen(port: UInt16(port), backlog: backlog, address: address)]
        case "connect":
            var target: String?
            var targetLocation = v.location
            var localPort: UInt16?
            if case .scalar = v.value { target = reader.string(v, "connect") } else {
                for (k, fv) in reader.mapping(v, "connect", allowed: ["to", "local-port"]) ?? [] {
                    if k.name == "to" { target = reader.string(fv, "to"); targetLocation = fv.location }
                    if k.name == "local-port" { localPort = reader.int(fv, "local-port", range: 1...65535).map(UInt16.init) }
                }
            }
            guard let target else { error(v.location, "connect needs a destination", suggestion: "connect: server:80"); return [] }
            guard let resolved = resolveEndpoint(target, at: targetLocation, nodes: nodes) else { return [] }
            return [.connect(to: resolved, localPort: localPort)]
        case "accept": return noArgument(.accept)
        case "recv": return noArgument(.recv)
        case "close": return noArgument(.close)
        case "counters": return noArgument(.counters)
        case "state": return noArgument(.state)
        case "stop": return noArgument(.stop)
        case "send":
            guard let s = reader.string(v, "send (the bytes to send, as text)") else { return [] }
            return [.send(s)]
        case "shutdown":
            guard let s = reader.string(v, "shutdown") else { return [] }
            guard ["read", "write", "both"].contains(s) else {
                error(v.location, "shutdown \(s)?", suggestion: didYouMean(s, ["read", "write", "both"]) ?? "read, write or both")
                return []
            }
            return [.shutdown(s)]
        case "setsockopt":
            var ops: [Topology.Operation] = []
            for (k, fv) in reader.mapping(v, "setsockopt") ?? [] {
                guard checkSocketOption(k.name, at: k.location, role: node.role), let n = reader.int(fv, k.name) else { continue }
                ops.append(k.name == "SO_LINGER" ? .setsockopt(name: k.name, value: 1, seconds: n) : .setsockopt(name: k.name, value: n, seconds: nil))
            }
            return ops
        case "sysctl":
            var ops: [Topology.Operation] = []
            for (k, fv) in reader.mapping(v, "sysctl") ?? [] {
                guard checkSysctl(k.name, at: k.location), let n = reader.int(fv, k.name) else { continue }
                ops.append(.sysctl(name: k.name, value: n))
            }
            return ops
        default:
            return []
        }
    }

    /// `server:80` or `198.18.0.2:80` → `198.18.0.2:80`.
    func resolveEndpoint(_ text: String, at l: SourceLocation, nodes: [Topology.Node]) -> String? {
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 2, let port = UInt16(parts[1]), port > 0 else {
            error(l, "connect to \(text)?", suggestion: "write node:port or address:port, e.g. server:80")
            return nil
        }
        if IPv4Address(parts[0]) != nil { return text }
        guard let n = nodes.first(where: { $0.name == parts[0] }) else {
            if broken.contains(parts[0]) { return nil }
            error(l, "connect to unknown node \(parts[0])", suggestion: didYouMean(parts[0], nodes.map(\.name)))
            return nil
        }
        guard let a = n.address else {
            error(l, "node \(n.name) has no address to connect to")
            return nil
        }
        return "\(a.address):\(port)"
    }
}

#if canImport(Glibc)
import Glibc
#endif
import TCPWire

/// A whole lab network: one namespace per node, veth pairs between them, addresses, loopbacks up,
/// IPv6 off and TX checksum offload off on lab interfaces. Built from a `Plan` in one call and torn
/// down in one call; a build that fails part way removes what it made before rethrowing.
///
/// Every lab link joins two lab namespaces: nothing is ever linked to the host's namespace.
public final class LabNetwork {
    /// One end of a link.
    public struct Endpoint: Hashable, Sendable {
        public var node: String
        public var interface: String
        /// Random (locally administered, chosen by the kernel) when nil.
        public var mac: MACAddress?

        public init(node: String, interface: String, mac: MACAddress? = nil) {
            self.node = node
            self.interface = interface
            self.mac = mac
        }
    }

    /// A veth pair between two nodes.
    public struct Link: Hashable, Sendable {
        public var a: Endpoint
        public var b: Endpoint
        /// Both ends' MTU; 1500 when nil.
        public var mtu: Int?

        public init(_ a: Endpoint, _ b: Endpoint, mtu: Int? = nil) {
            self.a = a
            self.b = b
            self.mtu = mtu
        }

        /// `Link("client", "eth0", "mbox", "eth0", mtu: 1500)`.
        public init(_ nodeA: String, _ interfaceA: String, _ nodeB: String, _ interfaceB: String,
                    mtu: Int? = nil, macA: MACAddress? = nil, macB: MACAddress? = nil) {
            self.init(Endpoint(node: nodeA, interface: interfaceA, mac: macA),
                      Endpoint(node: nodeB, interface: interfaceB, mac: macB), mtu: mtu)
        }
    }

    /// An IPv4 address on a node's interface.
    public struct Address: Hashable, Sendable {
        public var node: String
        public var interface: String
        public var address: IPv4Interface

        public init(_ node: String, _ interface: String, _ address: IPv4Interface) {
            self.node = node
            self.interface = interface
            self.address = address
        }
    }

    /// What to build.
    public struct Plan: Sendable {
        public var nodes: [String]
        public var links: [Link]
        public var addresses: [Address]
        /// IPv6 off on every lab interface (and as the namespace default), so the kernel sends no MLD or
        /// router solicitations.
        public var disableIPv6: Bool
        /// TX checksum offload off on every lab interface, so kernel-sent frames carry finished checksums.
        public var txChecksumOffloadOff: Bool

        public init(nodes: [String], links: [Link], addresses: [Address] = [],
                    disableIPv6: Bool = true, txChecksumOffloadOff: Bool = true) {
            self.nodes = nodes
            self.links = links
            self.addresses = addresses
            self.disableIPv6 = disableIPv6
            self.txChecksumOffloadOff = txChecksumOffloadOff
        }

        /// Checks names, references and duplicates before anything is created.
        public func validate(run: String) throws {
            try LabNames.validateRunID(run)
            var seenNodes = Set<String>()
            for node in nodes {
                try LabNames.validateNode(node)
                try LabNames.validateNamespace(LabNames.namespace(run: run, node: node), operation: "check node name")
                guard seenNodes.insert(node).inserted else {
                    throw NetlinkError.invalid("check plan", "node \(node)", "listed twice")
                }
            }
            var seenInterfaces = Set<String>()
            for link in links {
                for end in [link.a, link.b] {
                    guard seenNodes.contains(end.node) else {
                        throw NetlinkError.invalid("check plan", "link \(end.node):\(end.interface)", "no node named \(end.node)")
                    }
                    try LabNames.validateInterface(end.interface, operation: "check plan")
                    guard seenInterfaces.insert("\(end.node)/\(end.interface)").inserted else {
                        throw NetlinkError.invalid("check plan", "\(end.node):\(end.interface)", "interface used by two links")
                    }
                }
                if let mtu = link.mtu {
                    try Netlink.validateMTU(mtu, operation: "check plan", object: "link \(link.a.node):\(link.a.interface)")
                }
            }
            for address in addresses {
                guard seenInterfaces.contains("\(address.node)/\(address.interface)") || address.interface == "lo" else {
                    throw NetlinkError.invalid("check plan", "address \(address.address)",
                                               "\(address.node):\(address.interface) is not an interface of any link")
                }
            }
        }
    }

    public let run: String
    public let plan: Plan
    /// The ledger that lists what this lab made.
    public let ledger: Ledger
    private var namespaces: [String: NetworkNamespace] = [:]
    private var sessions: [String: Netlink] = [:]
    /// Nodes in creation order, for teardown.
    private var built: [String] = []

    private init(run: String, plan: Plan, ledger: Ledger) {
        self.run = run
        self.plan = plan
        self.ledger = ledger
    }

    /// The namespace name of `node` (`tl-<run>-<node>`).
    public func namespaceName(of node: String) -> String { LabNames.namespace(run: run, node: node) }

    /// The open namespace of `node`, while the lab stands.
    public func namespace(of node: String) -> NetworkNamespace? { namespaces[node] }

    /// The netlink session of `node`'s namespace, while the lab stands.
    public func session(of node: String) -> Netlink? { sessions[node] }

    /// Builds `plan` as run `run`.
    ///
    /// Order: namespaces (with lo up and the IPv6 default off), then each veth pair with its first end up
    /// in the create request, then per namespace the interface settings (IPv6, offload) in one visit,
    /// then addresses, then the second ends up from their own namespaces.
    ///
    /// - Throws: `NetlinkError`; by then everything this call created has been removed again.
    public static func build(run: String, plan: Plan, ledgerDirectory: String = Ledger.defaultDirectory) throws -> LabNetwork {
        try plan.validate(run: run)
        try Privileges.check()
        let lab = LabNetwork(run: run, plan: plan, ledger: try Ledger(run: run, directory: ledgerDirectory))
        do {
            try lab.buildAll()
        } catch {
            try? lab.teardown()
            throw error
        }
        return lab
    }

    private func buildAll() throws {
        for node in plan.nodes {
            let namespace = try NetworkNamespace.create(named: namespaceName(of: node), ledger: ledger)
            namespaces[node] = namespace
            built.append(node)
            let session = try Netlink(namespace: namespace)
            sessions[node] = session
            if plan.disableIPv6, access("/proc/sys/net/ipv6", F_OK) == 0 {
                // New interfaces inherit `default`: the veths are born with IPv6 off, before any MLD.
                try session.writeSysctl("net/ipv6/conf/default/disable_ipv6", "1")
            }
            try session.bringLoopbackUp()
        }
        for link in plan.links {
            try sessions[link.a.node]!.createVeth(
                link.a.interface, peer: link.b.interface, in: namespaces[link.b.node]!,
                mtu: link.mtu, mac: link.a.mac, peerMAC: link.b.mac, up: true, ledger: ledger)
        }
        if plan.disableIPv6 || plan.txChecksumOffloadOff {
            var interfaces: [String: [String]] = [:]
            for link in plan.links {
                interfaces[link.a.node, default: []].append(link.a.interface)
                interfaces[link.b.node, default: []].append(link.b.interface)
            }
            for node in plan.nodes {
                guard let names = interfaces[node] else { continue }
                try sessions[node]!.inNamespace { inside in
                    for name in names {
                        if plan.disableIPv6 { try inside.disableIPv6(on: name) }
                        if plan.txChecksumOffloadOff { try inside.setTXChecksumOffload(false, on: name) }
                    }
                }
            }
        }
        for address in plan.addresses {
            try sessions[address.node]!.addAddress(address.address, to: address.interface)
        }
        for link in plan.links {
            try sessions[link.b.node]!.setUp(link.b.interface)
        }
    }

    /// Removes the lab: closes its sockets and descriptors, then removes every namespace by name, which
    /// takes its veths with it (about 30 times faster than deleting the links one by one). Withdraws
    /// the ledger records of what is gone. Idempotent.
    ///
    /// Processes still running inside a namespace keep it (and its interfaces) alive after its name is
    /// gone; stop the workers first.
    public func teardown() throws {
        for session in sessions.values { session.close() }
        sessions.removeAll()
        var failures: [NetlinkError] = []
        var removed: Set<String> = []
        for node in built.reversed() {
            guard let namespace = namespaces[node] else { continue }
            do {
                try namespace.delete()
                removed.insert(namespace.name)
                namespaces[node] = nil
            } catch let error as NetlinkError {
                failures.append(error)
            }
        }
        built.removeAll { namespaces[$0] == nil }
        let gone = ledger.entries.filter { entry in
            switch entry.kind {
            case .namespace: return removed.contains(entry.name)
            case .veth: return removed.contains(entry.namespace ?? "") || removed.contains(entry.peerNamespace ?? "")
            }
        }
        if !gone.isEmpty { try ledger.withdraw(gone) }
        if let first = failures.first {
            var error = first
            if failures.count > 1 { error.reason += " (and \(failures.count - 1) more namespace(s) could not be removed)" }
            throw error
        }
    }
}

import Foundation
import LabNetlink
import TCPWire
import Testing

/// The lab of DESIGN.md's sketch: client — mbox — server, two veth pairs.
@Suite(.enabled(if: canBuildLabs, "needs root, or CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct ChainTests {
    static let nodes = ["client", "mbox", "server"]

    static func chainPlan() -> LabNetwork.Plan {
        LabNetwork.Plan(
            nodes: nodes,
            links: [
                LabNetwork.Link("client", "eth0", "mbox", "eth0", mtu: 1500,
                                macA: MACAddress("02:00:00:00:00:01"), macB: MACAddress("02:00:00:00:00:02")),
                LabNetwork.Link("mbox", "eth1", "server", "eth0", mtu: 9000,
                                macA: MACAddress("02:00:00:00:01:01"), macB: MACAddress("02:00:00:00:01:02")),
            ],
            addresses: [
                LabNetwork.Address("client", "eth0", IPv4Interface("198.18.0.1/24")!),
                LabNetwork.Address("mbox", "eth0", IPv4Interface("198.18.0.2/24")!),
                LabNetwork.Address("mbox", "eth1", IPv4Interface("198.18.1.1/24")!),
                LabNetwork.Address("server", "eth0", IPv4Interface("198.18.1.2/24")!),
            ]
        )
    }

    /// The host namespace's interfaces (index and name).
    func hostLinks() throws -> Set<String> {
        Set(try ipJSON("link", "show").map { "\($0["ifindex"] ?? "") \($0["ifname"] ?? "")" })
    }

    @Test func threeNodeChainIsWhatIpSees() throws {
        let run = uniqueRunID()
        defer { removeNamespaces(run: run, nodes: Self.nodes) }
        let hostLinksBefore = try hostLinks()
        let lab = try LabNetwork.build(run: run, plan: Self.chainPlan())
        defer { try? lab.teardown() }
        // Nothing appeared in the host's namespace: no lab link reaches it.
        #expect(try hostLinks() == hostLinksBefore)

        let listed = try listedNamespaces()
        for node in Self.nodes { #expect(listed.contains("tl-\(run)-\(node)")) }

        let expected: [(node: String, interface: String, mtu: Int, mac: String, address: String, prefix: Int)] = [
            ("client", "eth0", 1500, "02:00:00:00:00:01", "198.18.0.1", 24),
            ("mbox", "eth0", 1500, "02:00:00:00:00:02", "198.18.0.2", 24),
            ("mbox", "eth1", 9000, "02:00:00:00:01:01", "198.18.1.1", 24),
            ("server", "eth0", 9000, "02:00:00:00:01:02", "198.18.1.2", 24),
        ]
        for want in expected {
            let namespace = lab.namespaceName(of: want.node)
            let link = try #require(try ipJSON("-n", namespace, "link", "show", "dev", want.interface).first)
            #expect(link["mtu"] as? Int == want.mtu, "\(namespace) \(want.interface) mtu")
            #expect(link["address"] as? String == want.mac, "\(namespace) \(want.interface) mac")
            let flags = link["flags"] as? [String] ?? []
            #expect(flags.contains("UP") && flags.contains("LOWER_UP"), "\(namespace) \(want.interface) flags \(flags)")
            #expect(link["link_type"] as? String == "ether")

            let addr = try #require(try ipJSON("-n", namespace, "addr", "show", "dev", want.interface).first)
            let infos = addr["addr_info"] as? [[String: Any]] ?? []
            let inet = infos.filter { $0["family"] as? String == "inet" }
            #expect(inet.count == 1)
            #expect(inet.first?["local"] as? String == want.address)
            #expect(inet.first?["prefixlen"] as? Int == want.prefix)
            #expect(!infos.contains { $0["family"] as? String == "inet6" }, "\(namespace) \(want.interface) has IPv6 addresses")

            let disabled = try sh("ip", "netns", "exec", namespace, "cat", "/proc/sys/net/ipv6/conf/\(want.interface)/disable_ipv6")
            #expect(disabled.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
            let offloads = try sh("ip", "netns", "exec", namespace, "ethtool", "-k", want.interface)
            #expect(offloads.stdout.contains("tx-checksumming: off"), "\(namespace) \(want.interface): \(offloads.stdout.prefix(200))")
        }
        for node in Self.nodes {
            let lo = try #require(try ipJSON("-n", lab.namespaceName(of: node), "link", "show", "dev", "lo").first)
            #expect((lo["flags"] as? [String] ?? []).contains("UP"), "lo in \(node)")
        }

        // The session sees the same thing through libnl.
        let info = try #require(try lab.session(of: "mbox")?.link(named: "eth1"))
        #expect(info.mtu == 9000 && info.isUp && info.hasCarrier && info.mac == MACAddress("02:00:00:00:01:01"))
        #expect(try lab.session(of: "mbox")?.link(named: "nothere") == nil)
        #expect(try lab.session(of: "server")?.link(named: "eth0")?.mtu == 9000)

        // The ledger lists what was made, and only that.
        let recorded = lab.ledger.entries
        #expect(Set(recorded.filter { $0.kind == .namespace }.map(\.name)) == Set(Self.nodes.map { "tl-\(run)-\($0)" }))
        #expect(recorded.filter { $0.kind == .veth }.count == 2)
        #expect(ledgerFiles(ofRun: run).count == 1)

        try lab.teardown()
        #expect(try namespaces(ofRun: run).isEmpty)
        #expect(ledgerFiles(ofRun: run).isEmpty)
    }

    @Test func kernelStacksTalkOverTheVeth() throws {
        let run = uniqueRunID()
        defer { removeNamespaces(run: run, nodes: Self.nodes) }
        let lab = try LabNetwork.build(run: run, plan: Self.chainPlan())
        defer { try? lab.teardown() }

        // The server accepts one connection and answers "ok"; the client retries until it listens.
        // Both give up after a few seconds, whatever happens.
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        server.arguments = ["netns", "exec", lab.namespaceName(of: "mbox"), "python3", "-c", """
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("198.18.0.2", 7000)); s.listen(1); s.settimeout(5)
            c, peer = s.accept(); c.sendall(("ok " + peer[0]).encode()); c.close()
            """]
        try server.run()
        defer { if server.isRunning { server.terminate() }; server.waitUntilExit() }

        let client = try sh("ip", "netns", "exec", lab.namespaceName(of: "client"), "python3", "-c", """
            import socket, time
            deadline = time.monotonic() + 4
            while True:
                try:
                    s = socket.create_connection(("198.18.0.2", 7000), timeout=2); print(s.recv(64).decode()); break
                except (ConnectionRefusedError, OSError) as e:
                    if time.monotonic() > deadline: raise
                    time.sleep(0.05)
            """, timeout: 8)
        #expect(client.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "ok 198.18.0.1", "client: \(client.stdout) \(client.stderr)")

    }

    @Test func sessionOperationsOnOneNamespace() throws {
        let run = uniqueRunID()
        let nodes = ["a", "b"]
        defer { removeNamespaces(run: run, nodes: nodes) }
        let lab = try LabNetwork.build(run: run, plan: .init(nodes: nodes, links: [.init("a", "veth-a", "b", "veth-b")]))
        defer { try? lab.teardown() }
        let session = try #require(lab.session(of: "a"))

        try session.setLink("veth-a", up: false, mtu: 1400, mac: MACAddress("02:00:00:00:0a:0a"))
        var info = try #require(try session.link(named: "veth-a"))
        #expect(!info.isUp && info.mtu == 1400 && info.mac == MACAddress("02:00:00:00:0a:0a"))
        try session.setUp("veth-a")
        info = try #require(try session.link(named: "veth-a"))
        #expect(info.isUp)

        #expect(try session.txChecksumOffload(on: "veth-a") == false)
        try session.setTXChecksumOffload(true, on: "veth-a")
        #expect(try session.txChecksumOffload(on: "veth-a") == true)
        #expect(try session.readSysctl("net/ipv6/conf/veth-a/disable_ipv6") == "1")

        try session.addAddress(IPv4Interface("198.18.5.1/30")!, to: "veth-a")
        #expect(throws: NetlinkError.self) { try session.addAddress(IPv4Interface("198.18.5.1/30")!, to: "veth-a") }

        // Deleting one end removes both.
        try session.deleteLink("veth-a")
        #expect(try session.link(named: "veth-a") == nil)
        #expect(try lab.session(of: "b")?.link(named: "veth-b") == nil)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import LabNetlink
import TCPWire

/// Figures of issue "Lab runtime" (LabNetlink): how long a real lab takes to build and to tear down,
/// through libnl in this process and, for comparison, with the `ip` commands a shell script would run.
///
/// Labs: the 3-node chain (client — middlebox — server: two veth pairs, addresses on the ends) built
/// and removed `threeNodeRuns` times, and a 100-node chain (99 veth pairs) `chainRuns` times. Figures are
/// wall time (CLOCK_MONOTONIC): the work is in the kernel. Teardown means the names are gone and this
/// process holds no reference; the kernel frees the namespaces asynchronously after that, for both roads.
///
/// The libnl build does more than the `ip` script (loopbacks up, IPv6 off, TX checksum offload off on
/// every lab interface); the `ip` script runs `ip netns add`, `ip link add … type veth peer name … netns …`,
/// `ip link set … up`, `ip addr add` and, to tear down, `ip netns del`.
///
/// Needs root. Run: `swift run -c release --scratch-path .build-netlink-release tcplab-bench netlink`.
enum NetlinkBenchmark {
    static let threeNodeRuns = 30
    static let chainRuns = 3
    static let chainLength = 100

    static func run() {
        do {
            try Privileges.check(for: "netlink benchmark")
        } catch {
            print("netlink: skipped: \(error)")
            return
        }
        guard spawnAndWait(["ip", "-V"], quiet: true) == 0 else {
            print("netlink: skipped: `ip` (iproute2) is not installed")
            return
        }
        compare("3-node lab", plan: threeNodePlan(), runs: threeNodeRuns, budget: 100)
        compare("\(chainLength)-node chain", plan: chainPlan(length: chainLength), runs: chainRuns, budget: 2000)
    }

    /// client:eth0 — mbox:eth0, mbox:eth1 — server:eth0; 198.18.0.1/24 on the client, .2 on the server.
    static func threeNodePlan() -> LabNetwork.Plan {
        LabNetwork.Plan(
            nodes: ["client", "mbox", "server"],
            links: [.init("client", "eth0", "mbox", "eth0"), .init("mbox", "eth1", "server", "eth0")],
            addresses: [.init("client", "eth0", IPv4Interface("198.18.0.1/24")!),
                        .init("server", "eth0", IPv4Interface("198.18.0.2/24")!)])
    }

    /// n0 — n1 — … — n(length-1), each link nI:eth1 — nI+1:eth0; addresses on the two ends.
    static func chainPlan(length: Int) -> LabNetwork.Plan {
        let nodes = (0..<length).map { "n\($0)" }
        let links = (0..<length - 1).map { LabNetwork.Link(nodes[$0], "eth1", nodes[$0 + 1], "eth0") }
        return LabNetwork.Plan(
            nodes: nodes, links: links,
            addresses: [.init(nodes[0], "eth1", IPv4Interface("198.18.0.1/24")!),
                        .init(nodes[length - 1], "eth0", IPv4Interface("198.18.0.2/24")!)])
    }

    private static func compare(_ what: String, plan: LabNetwork.Plan, runs: Int, budget: Double) {
        var libnlBuild: [Double] = [], libnlTeardown: [Double] = []
        var ipBuild: [Double] = [], ipTeardown: [Double] = []
        for _ in 0..<runs {
            let run = "b" + LabNames.randomRunID()
            var start = monotonicNanoseconds()
            let lab: LabNetwork
            do {
                lab = try LabNetwork.build(run: run, plan: plan)
            } catch {
                print("netlink: \(what): build failed: \(error)")
                return
            }
            libnlBuild.append(milliseconds(since: start))
            start = monotonicNanoseconds()
            do {
                try lab.teardown()
            } catch {
                print("netlink: \(what): teardown failed: \(error)")
                return
            }
            libnlTeardown.append(milliseconds(since: start))

            let ipRun = "b" + LabNames.randomRunID()
            start = monotonicNanoseconds()
            let built = ipBuildLab(run: ipRun, plan: plan)
            let ipBuilt = milliseconds(since: start)
            start = monotonicNanoseconds()
            let removed = ipTeardownLab(run: ipRun, namespaces: built.namespaces)
            let ipRemoved = milliseconds(since: start)
            guard built.ok, removed else {
                print("netlink: \(what): the `ip` script failed (see its messages above)")
                return
            }
            ipBuild.append(ipBuilt)
            ipTeardown.append(ipRemoved)
        }
        report(what, "build", libnlBuild, ipBuild, runs: runs, budget: budget)
        report(what, "teardown", libnlTeardown, ipTeardown, runs: runs, budget: budget)
    }

    private static func report(_ what: String, _ phase: String, _ libnl: [Double], _ ip: [Double], runs: Int, budget: Double) {
        let ours = median(libnl), theirs = median(ip)
        let verdict = (libnl.max() ?? .infinity) < budget ? "within" : "OVER"
        print("netlink: \(what) \(phase): libnl \(fmt(ours)) ms median (min \(fmt(libnl.min() ?? 0)), max \(fmt(libnl.max() ?? 0)); \(verdict) the \(fmt(budget)) ms target), ip commands \(fmt(theirs)) ms median; ip/libnl \(fmt(theirs / ours))x (\(runs) runs)")
    }

    // MARK: The `ip` script

    /// Builds `plan` with one `ip` command per step, as a shell script would. Returns the namespaces it
    /// created (to remove even after a failure) and whether every command succeeded.
    private static func ipBuildLab(run: String, plan: LabNetwork.Plan) -> (namespaces: [String], ok: Bool) {
        var namespaces: [String] = []
        func ns(_ node: String) -> String { LabNames.namespace(run: run, node: node) }
        for node in plan.nodes {
            guard spawnAndWait(["ip", "netns", "add", ns(node)]) == 0 else { return (namespaces, false) }
            namespaces.append(ns(node))
            guard spawnAndWait(["ip", "-n", ns(node), "link", "set", "lo", "up"]) == 0 else { return (namespaces, false) }
        }
        for link in plan.links {
            let a = link.a, b = link.b
            guard spawnAndWait(["ip", "-n", ns(a.node), "link", "add", "name", a.interface, "type", "veth",
                                "peer", "name", b.interface, "netns", ns(b.node)]) == 0,
                  spawnAndWait(["ip", "-n", ns(a.node), "link", "set", a.interface, "up"]) == 0,
                  spawnAndWait(["ip", "-n", ns(b.node), "link", "set", b.interface, "up"]) == 0
            else { return (namespaces, false) }
        }
        for address in plan.addresses {
            guard spawnAndWait(["ip", "-n", ns(address.node), "addr", "add", "\(address.address)", "dev", address.interface]) == 0
            else { return (namespaces, false) }
        }
        return (namespaces, true)
    }

    private static func ipTeardownLab(run: String, namespaces: [String]) -> Bool {
        var ok = true
        for name in namespaces.reversed() where spawnAndWait(["ip", "netns", "del", name]) != 0 { ok = false }
        return ok
    }

    /// posix_spawnp + waitpid: the cheapest way to run a command, so the figure is `ip`'s, not ours.
    private static func spawnAndWait(_ arguments: [String], quiet: Bool = false) -> Int32 {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if quiet { posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
        guard rc == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED && WEXITSTATUS, spelled out: Glibc's macros are not imported.
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : -1
    }

    // MARK: Figures

    private static func milliseconds(since start: UInt64) -> Double {
        Double(monotonicNanoseconds() - start) / 1e6
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    private static func fmt(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

import ArgumentParser
import Foundation
import LabControl
import LabCoordinator
import LabNetlink
import LabSim
import TCPEngine
import TCPPolicy
import TCPWire

/// `tcplab run`: the default experiment — a client connects to a server, sends "hello", both close —
/// played in LabSim (virtual time). Topology files and network-namespace labs arrive with their issues.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the default handshake experiment and print its trace and verdict.")

    enum Backend: String, ExpressibleByArgument, CaseIterable {
        case sim, netns
    }

    @Option(help: "Where the lab runs: netns (network namespaces, real time; needs root) or sim (in-process, virtual time). Default: netns when privileged, else sim.")
    var backend: Backend?

    @Option(help: "Seed for every random choice (ISNs, ports); the same seed gives the same run.")
    var seed: UInt64 = 1

    @Option(help: "One-way delay of the simulated link, in microseconds.")
    var delayMicroseconds: Int64 = 500

    @Option(help: "Directory for the run's pcaps (netns backend; default runs/<time>-handshake).")
    var out: String?

    func run() throws {
        let outcome: DefaultLab.Outcome
        let privileged = (try? Privileges.check()) != nil
        let chosen = backend ?? (privileged ? .netns : .sim)
        if backend == nil && !privileged {
            print("(not privileged for network namespaces: running in LabSim; run as root for --backend netns)\n")
        }
        switch chosen {
        case .sim:
            outcome = DefaultLab(seed: seed, delay: .microseconds(delayMicroseconds)).run()
        case .netns:
            if !privileged {
                print("the netns backend needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN); run as root, or use --backend sim")
                throw ExitCode(3)
            }
            do {
                outcome = try DefaultLab(seed: seed, delay: .microseconds(delayMicroseconds)).runInNamespaces(outputDirectory: out)
            } catch {
                print("lab error: \(error)")
                throw ExitCode(3)
            }
        }
        print(outcome.report)
        if !outcome.passed { throw ExitCode(1) }
    }
}

/// The default lab: client 198.18.0.1 connects to server 198.18.0.2:80, sends "hello", closes.
struct DefaultLab {
    let seed: UInt64
    let delay: Interval

    struct Outcome {
        var report: String
        var passed: Bool
    }

    func run() -> Outcome {
        let sim = LabSim(seed: seed)
        let client = sim.add(Host(name: "client", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 1),
                                                                         address: IPv4Interface("198.18.0.1/24")!)],
                                  seed: seed &* 2 &+ 1))
        let server = sim.add(Host(name: "server", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 2),
                                                                         address: IPv4Interface("198.18.0.2/24")!)],
                                  seed: seed &* 2 &+ 2))
        sim.connect(client, 0, server, 0, aToB: LinkImpairment(delay: delay), bToA: LinkImpairment(delay: delay))
        var checks: [(String, Bool)] = []
        do {
            let listener = try server.listen(port: 80, backlog: 128, at: sim.now)
            let conn = try client.connect(to: SocketAddress(IPv4Address(198, 18, 0, 2), 80), at: sim.now)
            sim.run(for: .milliseconds(10))
            checks.append(("client reaches ESTABLISHED", client.state(of: conn) == .established))
            let child = try server.accept(listener, blocking: false, at: sim.now)
            checks.append(("accept() returns the child", child != nil))
            try client.send(conn, Array("hello".utf8), at: sim.now)
            sim.run(for: .milliseconds(10))
            let got = child.flatMap { try? server.receive($0, at: sim.now) } ?? []
            checks.append(("server reads \"hello\"", got == Array("hello".utf8)))
            client.close(conn, at: sim.now)
            sim.run(for: .milliseconds(10))
            if let child { server.close(child, at: sim.now) }
            sim.run(for: .milliseconds(10))
            checks.append(("client in TIME_WAIT after the close", client.state(of: conn) == .timeWait))
        } catch {
            checks.append(("socket calls succeed (\(error))", false))
        }
        var lines: [String] = ["TCPLab default lab (LabSim, seed \(seed), one-way delay \(delay))", ""]
        for f in sim.frames {
            let t = f.time.nanoseconds
            let stamp = "\(t / 1_000_000_000).\(String(t % 1_000_000_000 / 1000).leftPad(6))"
            lines.append("\(stamp) \(f.from.padding(6)) > \(f.to.padding(6)) \(f.frame.tcpdumpLine)")
        }
        lines.append("")
        for r in sim.records {
            if case let .stateChanged(socket, _, from, to, cause) = r.event.kind {
                lines.append("\(r.host) \(socket): \(from) -> \(to) (\(cause.rawValue))")
            }
        }
        lines.append("")
        for (text, ok) in checks { lines.append("\(ok ? "PASS" : "FAIL")  \(text)") }
        let passed = checks.allSatisfy(\.1)
        lines.append("")
        lines.append("verdict: \(passed ? "pass" : "fail")")
        return Outcome(report: lines.joined(separator: "\n"), passed: passed)
    }
}

extension DefaultLab {
    /// The same experiment in network namespaces: client — middlebox — server on real veths, our stack
    /// on both ends, real time.
    func runInNamespaces(outputDirectory: String?) throws -> Outcome {
        let mac = { (n: Int) in "02:00:00:00:00:0\(n)" }
        let plan = LabPlan(
            name: "handshake",
            nodes: [
                .init(name: "client", role: .client, interfaces: [InterfaceSpec(name: "eth0", mac: mac(1), address: "198.18.0.1/24")]),
                .init(name: "mbox", role: .middlebox,
                      interfaces: [InterfaceSpec(name: "eth0", mac: mac(3), address: nil), InterfaceSpec(name: "eth1", mac: mac(4), address: nil)]),
                .init(name: "server", role: .server, interfaces: [InterfaceSpec(name: "eth0", mac: mac(2), address: "198.18.0.2/24")]),
            ],
            links: [LabPlan.Link(("client", "eth0"), ("mbox", "eth0")), LabPlan.Link(("mbox", "eth1"), ("server", "eth0"))],
            steps: [
                .init(at: .zero, node: "server", "listen", saveAs: "l") { $0.port = 80; $0.backlog = 128 },
                .init(at: .milliseconds(100), node: "client", "connect", saveAs: "c") { $0.to = "198.18.0.2:80" },
                .init(at: .milliseconds(300), node: "server", "accept", socket: "l", saveAs: "a"),
                .init(at: .milliseconds(400), node: "client", "send", socket: "c") { $0.data = "hello" },
                .init(at: .milliseconds(600), node: "server", "recv", socket: "a"),
                .init(at: .milliseconds(700), node: "client", "close", socket: "c"),
                .init(at: .milliseconds(900), node: "server", "close", socket: "a"),
                .init(at: .milliseconds(1100), node: "client", "counters"),
            ],
            seed: seed)
        let stamp = Int(Date().timeIntervalSince1970)
        let dir = outputDirectory ?? "runs/\(stamp)-handshake"
        let result = try LabRun(plan: plan, outputDirectory: dir).run()
        var lines = ["TCPLab default lab (network namespaces: client — mbox — server, seed \(seed))", ""]
        for e in result.events where e.kind == "segment" && e.dir == "out" && (e.node == "client" || e.node == "server") {
            let other = e.node == "client" ? "server" : "client"
            lines.append("\(Self.stamp(e.t)) \(e.node.padding(6)) > \(other.padding(6)) \(e.src ?? "") > \(e.dst ?? ""): \(e.tcpdump ?? "")")
        }
        for e in result.events where e.kind == "drop" && e.node == "mbox" {
            lines.append("\(Self.stamp(e.t)) mbox dropped \(e.tcpdump ?? "a frame") (\(e.reason ?? ""))")
        }
        lines.append("")
        for e in result.events where e.kind == "state" {
            lines.append("\(e.node) sk\(e.socket ?? 0): \(e.from ?? "") -> \(e.to ?? "") (\(e.cause ?? ""))")
        }
        let recv = result.stepReplies.first { $0.op == "recv" }?.reply.data
        let checks: [(String, Bool)] = [
            ("client reaches ESTABLISHED", result.states("client").contains { $0.to == "ESTABLISHED" }),
            ("accept() returns the child", result.stepReplies.first { $0.op == "accept" }?.reply.socket != nil),
            ("server reads \"hello\"", recv == "hello"),
            ("client in TIME_WAIT after the close", result.states("client").last?.to == "TIME_WAIT"),
        ]
        lines.append("")
        for (text, ok) in checks { lines.append("\(ok ? "PASS" : "FAIL")  \(text)") }
        lines.append("")
        lines.append("pcaps: \(result.pcaps.joined(separator: " "))")
        let passed = checks.allSatisfy(\.1)
        lines.append("verdict: \(passed ? "pass" : "fail")")
        return Outcome(report: lines.joined(separator: "\n"), passed: passed)
    }

    static func stamp(_ t: Int64) -> String {
        "\(t / 1_000_000_000).\(String(t % 1_000_000_000 / 1000).leftPad(6))"
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

import ArgumentParser
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

    @Option(help: "Where the lab runs: sim (in-process, virtual time). netns is not available yet.")
    var backend: Backend = .sim

    @Option(help: "Seed for every random choice (ISNs, ports); the same seed gives the same run.")
    var seed: UInt64 = 1

    @Option(help: "One-way delay of the simulated link, in microseconds.")
    var delayMicroseconds: Int64 = 500

    func run() throws {
        guard backend == .sim else {
            throw ValidationError("--backend netns is not built yet (network-namespace labs come with the lab-runtime issue); use --backend sim")
        }
        let outcome = DefaultLab(seed: seed, delay: .microseconds(delayMicroseconds)).run()
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

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

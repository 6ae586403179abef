import ArgumentParser
import Foundation
import LabCoordinator
import LabNetlink
import LabTopology

#if canImport(Glibc)
import Glibc
#endif

/// Where standing labs are recorded: one JSON file per lab, removed by `tcplab down`.
enum StandingLabs {
    static let directory = "/run/tcplab/up"

    struct Record: Codable {
        var run: String
        var pid: Int32
        var topology: String
        var file: String
        var namespaces: [String]
        var directory: String
        var started: Date
    }

    static func path(_ run: String) -> String { "\(directory)/\(run).json" }

    static func all() -> [Record] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            FileManager.default.contents(atPath: "\(directory)/\(name)").flatMap { try? decoder.decode(Record.self, from: $0) }
        }
    }

    static func save(_ r: Record) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(r).write(to: URL(fileURLWithPath: path(r.run)))
    }
}

/// `tcplab up FILE`: builds the lab, starts its workers, runs its steps, and leaves it standing for
/// `ip netns exec` until `tcplab down`. A keeper process (this command, detached) holds the workers.
struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a topology's lab and keep it standing (namespaces, veths, workers) until `tcplab down`.")

    @Argument(help: "The topology file.", completion: .file(extensions: ["yaml", "yml"]))
    var file: String = "Topologies/handshake.yaml"

    @Option(help: "Seed (default: the topology's, else 1).")
    var seed: UInt64?

    @Option(help: "Directory for the lab's captures and log (default runs/<time>-<name>-up/).")
    var out: String?

    @Option(help: "How long the lab may stand before it takes itself down.")
    var hours: Double = 24

    @Flag(help: .hidden) var keeper = false
    @Option(help: .hidden) var runID: String?

    func run() throws {
        let path = resolveTopology(file)
        let topology: Topology
        do { topology = try Topology.load(path: path, backend: .netns) } catch {
            report(error)
            throw ExitCode(Status.badInput)
        }
        do { try Privileges.check(for: "build a standing lab") } catch {
            Terminal.error("\(error)")
            throw ExitCode(Status.labError)
        }
        let dir = out ?? TopologyRunner.defaultOutputDirectory(for: topology.name) + "-up"
        if keeper { try keep(topology, dir: dir) } else { try start(topology, path: path, dir: dir) }
    }

    /// Runs the lab in this process until SIGTERM (from `tcplab down`), then tears it down.
    func keep(_ topology: Topology, dir: String) throws {
        var plan = topology.labPlan(seed: seed ?? topology.seed ?? 1)
        plan.duration = .nanoseconds(Int64(hours * 3600e9))
        let run = LabRun(plan: plan, runID: runID ?? LabNames.randomRunID(), outputDirectory: dir)
        do {
            _ = try run.run { r in
                _ = FileManager.default.createFile(atPath: "\(dir)/up.ready", contents: Data(r.runID.utf8))
                print("lab \(r.runID) is up")
            }
            print("lab \(run.runID) took itself down after \(hours) h")
        } catch let e as LabError {
            if case .interrupted = e { print("lab \(run.runID) is down") } else {
                print("lab error: \(e)")
                throw ExitCode(Status.labError)
            }
        }
    }

    /// Starts the keeper detached (its own session), waits until the lab is up, records it.
    func start(_ topology: Topology, path: String, dir: String) throws {
        let id = runID ?? LabNames.randomRunID()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let log = "\(dir)/up.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        var args = [me, "up", URL(fileURLWithPath: path).path, "--keeper", "--run-id", id, "--out", URL(fileURLWithPath: dir).path,
                    "--hours", String(hours)]
        if let seed { args += ["--seed", String(seed)] }
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle(forWritingAtPath: log)
        p.standardError = FileHandle(forWritingAtPath: log)
        try p.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && !FileManager.default.fileExists(atPath: "\(dir)/up.ready") {
            if !p.isRunning {
                Terminal.error("the lab did not come up:\n" + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? ""))
                throw ExitCode(Status.labError)
            }
            usleep(50_000)
        }
        guard FileManager.default.fileExists(atPath: "\(dir)/up.ready") else {
            Terminal.error("the lab did not come up within 30 s; see \(log)")
            throw ExitCode(Status.labError)
        }
        // The keeper runs `setsid` then execs: find its pid through the ledger's creator if possible.
        let keeperPID = keeperProcess(run: id) ?? p.processIdentifier
        let namespaces = topology.nodes.map { LabNames.namespace(run: id, node: $0.name) }
        try StandingLabs.save(StandingLabs.Record(run: id, pid: keeperPID, topology: topology.name, file: path, namespaces: namespaces,
                                                  directory: dir, started: Date()))
        print("lab \(id) (\(topology.name)) is up; its steps have run (or are running) on the real clock.")
        for n in topology.nodes {
            let ns = LabNames.namespace(run: id, node: n.name)
            print("  \(n.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(n.role.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) ip netns exec \(ns) …")
        }
        let kernel = topology.nodes.first { $0.role.isKernel }
        print("")
        print("  try: ip -n \(namespaces[0]) link; ip netns exec \(LabNames.namespace(run: id, node: kernel?.name ?? topology.nodes[0].name)) ss -tan")
        print("  nodes running TCPLab's engine have no kernel address: poke at them from a kernel-* node or tcpdump a veth")
        print("  captures and the keeper's log: \(dir)/")
        print("  take it down with: tcplab down \(id)   (or tcplab down for every standing lab)")
    }

    /// The pid that created the lab's ledger (the keeper after setsid's exec).
    func keeperProcess(run: String) -> Int32? {
        let dir = "/run/tcplab/ledger"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.contains(run) {
            guard let text = try? String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8) else { continue }
            if let r = text.range(of: "\"creatorPID\":") {
                let digits = text[r.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }
                if let pid = Int32(digits) { return pid }
            }
        }
        return nil
    }
}

/// `tcplab down [RUN…]`: takes standing labs down (their keepers tear down what they built; the
/// ledger cleans up whatever is left).
struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Take down labs started with `tcplab up` (all of them by default).")

    @Argument(help: "Run ids (default: every standing lab).")
    var runs: [String] = []

    func run() throws {
        let standing = StandingLabs.all().filter { runs.isEmpty || runs.contains($0.run) }
        if standing.isEmpty && runs.isEmpty {
            print("no standing lab (tcplab up starts one; tcplab clean removes leftovers of crashed runs)")
            return
        }
        var failed = false
        for lab in standing {
            if kill(lab.pid, 0) == 0 { kill(lab.pid, SIGTERM) }
            let deadline = Date().addingTimeInterval(15)
            while kill(lab.pid, 0) == 0 && Date() < deadline { usleep(50_000) }
            if kill(lab.pid, 0) == 0 { kill(lab.pid, SIGKILL) }
            do {
                let r = try LabCleanup.clean(runs: [lab.run], includeLiveCreators: true)
                for ns in r.removedNamespaces { print("removed leftover namespace \(ns)") }
                if !r.failures.isEmpty { failed = true; for f in r.failures { print("could not remove \(f)") } }
            } catch {
                failed = true
                print("clean \(lab.run): \(error)")
            }
            try? FileManager.default.removeItem(atPath: StandingLabs.path(lab.run))
            print("lab \(lab.run) (\(lab.topology)) is down")
        }
        for r in runs where !standing.contains(where: { $0.run == r }) {
            // Not recorded as standing: maybe a crashed one; the ledger knows.
            let removed = (try? LabCleanup.clean(runs: [r], includeLiveCreators: true))?.removedNamespaces ?? []
            print(removed.isEmpty ? "no lab \(r)" : "removed \(removed.joined(separator: ", "))")
        }
        if failed { throw ExitCode(Status.labError) }
    }
}

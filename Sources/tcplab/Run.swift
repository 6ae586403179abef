import ArgumentParser
import Foundation
import LabControl
import LabCoordinator
import LabJournal
import LabNetlink
import LabReport
import LabTopology

/// `tcplab run [FILE]`: runs a topology, prints what happens, the ladder and the verdict.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a topology (default Topologies/handshake.yaml): events, ladder diagram, verdict.",
        discussion: "Exit status: 0 pass, 1 an expectation failed, 2 bad input, 3 lab error.")

    @Argument(help: "The topology file.", completion: .file(extensions: ["yaml", "yml"]))
    var file: String = "Topologies/handshake.yaml"

    @Option(help: "Where the lab runs: netns (network namespaces, real time; needs root) or sim (in-process, virtual time). Default: netns when privileged, else sim.")
    var backend: Backend?

    @Option(help: "Seed for every random choice (ISNs, ports, impairments); the same seed gives the same run. Default: the topology's, else 1.")
    var seed: UInt64?

    @Flag(help: "Print one JSON object on stdout (docs/json-output.md) instead of the report.")
    var json = false

    @Option(help: "The run directory (default runs/<time>-<name>/).")
    var out: String?

    @Option(name: .customLong("plugin-path"), help: "Also look for policy plugins here.")
    var pluginPath: [String] = []

    @Option(help: "Width of the ladder in columns (default: the terminal's).")
    var width: Int?

    func run() throws {
        let path = resolveTopology(file)
        let privileged = (try? Privileges.check()) != nil
        let catalog = PolicyCatalog(pluginPath: pluginPath)
        var chosen = backend ?? (privileged ? .netns : .sim)
        var preface: [String] = []
        // A scenario that runs only in the sim is run there when no backend was asked for.
        if backend == nil, let probe = try? Topology.load(path: path, backend: .sim, policies: catalog), !probe.backends.contains(chosen) {
            preface.append("(\(probe.name) runs on \(probe.backends.map(\.rawValue).joined(separator: ", ")) only\(probe.backendsReason.map { ": \($0)" } ?? ""); running in LabSim)")
            chosen = probe.backends.first ?? .sim
        } else if backend == nil && !privileged {
            preface.append("(not privileged for network namespaces: running in LabSim, virtual time; run as root for --backend netns)")
        } else if backend == nil && !FileManager.default.isExecutableFile(atPath: LabRun.defaultWorkerPath()) {
            preface.append("(tcplab-worker is not built beside tcplab: running in LabSim, virtual time; `swift build --product tcplab-worker` for network namespaces)")
            chosen = .sim
        }
        let topology: Topology
        do {
            topology = try Topology.load(path: path, backend: chosen, policies: catalog)
        } catch {
            report(error)
            throw ExitCode(Status.badInput)
        }
        guard topology.backends.contains(chosen) else {
            Terminal.error("\(topology.name) runs on \(topology.backends.map(\.rawValue).joined(separator: ", ")) only\(topology.backendsReason.map { " (\($0))" } ?? ""); use --backend \(topology.backends.first?.rawValue ?? "sim")")
            throw ExitCode(Status.badInput)
        }
        if chosen == .netns && !privileged {
            Terminal.error("the netns backend needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN); run as root, or use --backend sim")
            throw ExitCode(Status.labError)
        }
        // The run directory is fixed now: the journal's fallback file lives in it.
        let directory = out ?? TopologyRunner.defaultOutputDirectory(for: topology.name)
        var options = RunOptions(backend: chosen, seed: seed, outputDirectory: directory, policies: catalog)
        if chosen == .netns && !json {
            // Events as they happen; the full trace, the ladder and the verdict follow at the end.
            options.onEvent = { e in
                guard let line = Run.liveLine(e) else { return }
                print("\(Terminal.stamp(e.t))  \(line)")
            }
        }
        if !json {
            for p in preface { print(p) }
            print("\(topology.name): \(chosen == .sim ? "LabSim (virtual time)" : "network namespaces (real time)"), seed \(options.seed ?? topology.seed ?? 1), \(topology.duration) of lab time")
            if let first = topology.description.split(separator: "\n").first { print("  \(first)\(topology.description.contains("\n") ? " …" : "")") }
            print("")

        }
        let progress = Progress(total: topology.duration.seconds, enabled: chosen == .netns && !json)
        let report: RunReport
        var journal: RunJournal?
        let nodes = Dictionary(uniqueKeysWithValues: topology.nodes.map {
            ($0.name, NodeInfo(role: $0.role.rawValue, plugins: $0.policies.filter { !$0.isLinux }.map { "\($0.kind)=\($0.name)" }))
        })
        do {
            report = try TopologyRunner.run(topology, options: options) { id in
                // Every run leaves a trail in the journal (or, without journald, in journal.jsonl).
                journal = RunJournal(run: RunInfo(runID: id, topology: topology.name, directory: directory, nodes: nodes,
                                                  backend: chosen.rawValue, seed: options.seed ?? topology.seed ?? 1))
                if let notice = journal?.notice, !json { Terminal.error(notice) }
                progress.start()
            }
            progress.stop()
        } catch {
            progress.stop()
            Terminal.error("lab error: \(error)")
            throw ExitCode(Status.labError)
        }
        if let journal {
            journal.log(report.record.events)
            let written = journal.finish(verdict: report.passed ? "pass" : "fail")
            for n in written.notices where n != journal.notice { Terminal.error(n) }
        }
        if json {
            FileHandle.standardOutput.write(report.json())
            print("")
        } else {
            print(render(report))
        }
        if !report.passed { throw ExitCode(Status.failed) }
    }

    /// One line for an event worth seeing live: segments each node sends, drops, state changes, errors.
    static func liveLine(_ e: LabEvent) -> String? {
        switch e.kind {
        case "segment" where e.dir == "out":
            return "\(e.node) > \(e.dst ?? "")  \(e.tcpdump ?? "")\(e.retransmission.map { " (retransmission \($0))" } ?? "")"
        case "drop" where e.node != "client" && e.node != "server" || e.droppedBy != nil:
            return "\(e.node) drops \(e.tcpdump ?? "a frame") (\(e.reason ?? e.droppedBy ?? ""))"
        case "state":
            return "\(e.node) \(e.from ?? "") -> \(e.to ?? "") (\(e.cause ?? ""))"
        case "error":
            return "\(e.node) \(e.error ?? "") \(e.message ?? "")"
        default:
            return nil
        }
    }

    func render(_ r: RunReport) -> String {
        var lines: [String] = []
        for n in r.record.notes { lines.append("note: \(n)") }
        if !r.record.notes.isEmpty { lines.append("") }
        for (t, text) in r.eventLines() { lines.append("\(Terminal.stamp(t))  \(text)") }
        lines.append("")
        let colour = Terminal.colour
        lines.append(r.ladder().renderTerminal(Ladder.TerminalStyle(width: width ?? Terminal.width, colour: colour)))
        lines.append("")
        if r.results.isEmpty { lines.append("(no expectations: the run passes when the lab runs)") }
        for e in r.results {
            let mark = e.passed ? (colour ? "\u{1B}[32mPASS\u{1B}[0m" : "PASS") : (colour ? "\u{1B}[31mFAIL\u{1B}[0m" : "FAIL")
            lines.append("\(mark)  \(e.text)")
            lines.append("      \(e.detail)")
        }
        lines.append("")
        lines.append("run directory: \(r.record.outputDirectory)  (report.html, ladder.svg, result.json, events.jsonl, \(r.record.pcaps.count) pcap\(r.record.pcaps.count == 1 ? "" : "s"))")
        let verdict = r.passed ? "pass" : "fail"
        lines.append("verdict: \(colour ? (r.passed ? "\u{1B}[1;32m" : "\u{1B}[1;31m") + verdict + "\u{1B}[0m" : verdict)")
        return lines.joined(separator: "\n")
    }
}

extension Backend: ExpressibleByArgument {}

/// Finds a topology: as given, else under the package root (beside the build directory), else the
/// shipped one by name (`tcplab run third-ack-lost`).
func resolveTopology(_ file: String) -> String {
    let fm = FileManager.default
    if fm.fileExists(atPath: file) { return file }
    var candidates: [String] = []
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<5 {
        candidates.append(dir.appendingPathComponent(file).path)
        candidates.append(dir.appendingPathComponent("Topologies/\(file)").path)
        candidates.append(dir.appendingPathComponent("Topologies/\(file).yaml").path)
        dir = dir.deletingLastPathComponent()
    }
    candidates.insert("Topologies/\(file).yaml", at: 0)
    candidates.insert("Topologies/\(file)", at: 0)
    return candidates.first { fm.fileExists(atPath: $0) } ?? file
}

/// "running: 3.0 s of 8.0 s (5.0 s to go)" on stderr while a real-time lab runs (terminals only).
final class Progress: @unchecked Sendable {
    private let total: Double
    private let enabled: Bool
    private let lock = NSLock()
    private var startedAt: Date?
    private var done = false
    private var thread: Thread?

    init(total: Double, enabled: Bool) {
        self.total = total
        self.enabled = enabled && isatty(STDERR_FILENO) != 0
    }

    func start() {
        guard enabled else { return }
        lock.lock()
        startedAt = Date()
        lock.unlock()
        let t = Thread { [self] in
            while true {
                lock.lock()
                let finished = done
                let begun = startedAt
                lock.unlock()
                if finished { break }
                if let begun {
                    let elapsed = Date().timeIntervalSince(begun)
                    let line = String(format: "\r  running: %.1f s of %.1f s (%.1f s to go)  ", elapsed, total, max(0, total - elapsed))
                    FileHandle.standardError.write(Data(line.utf8))
                }
                Thread.sleep(forTimeInterval: 0.25)
            }
        }
        thread = t
        t.start()
    }

    func stop() {
        lock.lock()
        let wasRunning = startedAt != nil && !done
        done = true
        lock.unlock()
        if wasRunning && enabled {
            Thread.sleep(forTimeInterval: 0.3)
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
    }
}

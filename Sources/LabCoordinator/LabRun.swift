import Foundation
import LabControl
import LabNetlink
import TCPPolicy

#if canImport(Glibc)
import Glibc
#endif

/// One run of a plan in real network namespaces: build the network (recorded in the ledger first),
/// spawn a worker per node, wait until every worker is ready, drive the steps on the real clock,
/// collect and merge the events, and tear everything down — on success, on failure, on Ctrl-C or
/// SIGTERM, and when a worker dies.
public final class LabRun {
    public let plan: LabPlan
    public let runID: String
    public let outputDirectory: String
    /// Path of the `tcplab-worker` executable.
    public var workerPath: String
    /// How long workers get to say they are ready.
    public var readyTimeout: TimeInterval = 10
    /// Whether workers write a pcap per interface (off for benchmarks).
    public var capturePackets = true
    /// Extra plugin directories for the workers (`--plugin-path`).
    public var pluginPath: [String] = []
    /// Called on the coordinator's thread for every event as it arrives during the run, with `t` in
    /// nanoseconds since the start (negative while the lab is still coming up).
    public var onEvent: ((LabEvent) -> Void)?
    /// CLOCK_MONOTONIC of the start, once the steps begin.
    private var startTime: Int64?

    private var workers: [String: WorkerProcess] = [:]
    private var network: LabNetwork?
    private var events: [LabEvent] = []
    /// Interrupts seen before this run started (later ones stop it).
    private var signalBaseline: Int32 = 0

    public init(plan: LabPlan, runID: String = LabNames.randomRunID(), outputDirectory: String, workerPath: String? = nil) {
        self.plan = plan
        self.runID = runID
        self.outputDirectory = outputDirectory
        self.workerPath = workerPath ?? LabRun.defaultWorkerPath()
    }

    /// `TCPLAB_WORKER`, else `tcplab-worker` beside this executable, else in the build directory above it.
    public static func defaultWorkerPath() -> String {
        if let p = ProcessInfo.processInfo.environment["TCPLAB_WORKER"] { return p }
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = me.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("tcplab-worker").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return me.deletingLastPathComponent().appendingPathComponent("tcplab-worker").path
    }

    /// Namespace of a node in this run.
    public func namespace(of node: String) -> String { LabNames.namespace(run: runID, node: node) }

    /// PIDs of the running workers (for tests that kill one).
    public var workerPIDs: [String: Int32] { workers.mapValues(\.pid) }

    /// Runs the plan. Whatever happens, nothing of the lab is left behind when this returns or throws.
    /// - Parameter during: called once after all workers are ready (tests use it to inject faults).
    public func run(during: ((LabRun) -> Void)? = nil) throws -> LabResult {
        let problems = plan.validate()
        guard problems.isEmpty else { throw LabError.invalidPlan(problems) }
        guard FileManager.default.isExecutableFile(atPath: workerPath) else { throw LabError.workerMissing(path: workerPath) }
        try Privileges.check(for: "build the lab network")
        signalBaseline = Interrupts.install()
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        defer { tearDown() }
        do {
            network = try LabNetwork.build(run: runID, plan: try plan.networkPlan())
        } catch let e as NetlinkError {
            throw LabError.build("\(e)")
        }
        try spawnWorkers()
        during?(self)
        return try drive()
    }

    private func spawnWorkers() throws {
        for (i, node) in plan.nodes.enumerated() {
            let config = WorkerConfig(
                run: runID, node: node.name, role: node.role, namespace: namespace(of: node.name),
                interfaces: node.interfaces, gateway: node.gateway, sysctl: node.sysctl,
                seed: plan.seed &* 1000 &+ UInt64(i), pcapDirectory: capturePackets ? outputDirectory : nil, impair: node.impair,
                policies: node.policies, pluginPath: pluginPath, placement: node.placement)
            let w = WorkerProcess(executable: workerPath, namespace: namespace(of: node.name), node: node.name,
                                  stderrPath: "\(outputDirectory)/\(node.name).stderr")
            workers[node.name] = w
            do { try w.start(config: config) } catch {
                throw LabError.workerNotReady(node: node.name, detail: "\(error)")
            }
        }
        for node in plan.nodes {
            let w = workers[node.name]!
            guard w.waitReady(timeout: readyTimeout) else {
                throw LabError.workerNotReady(node: node.name, detail: w.startupError ?? (w.lastStderr().isEmpty ? "no answer" : w.lastStderr()))
            }
        }
    }

    /// Nodes a `stop` step took down: their worker's end is expected, not a failure.
    private var stoppedNodes: Set<String> = []

    private func drive() throws -> LabResult {
        let start = monotonic()
        startTime = start
        var handles: [String: Int32] = [:]
        var replies: [(node: String, op: String, reply: ControlReply)] = []
        for step in plan.steps {
            try sleep(until: start + step.at.nanoseconds)
            guard let w = workers[step.node] else { continue }
            if step.command.op == "stop" {
                // The node vanishes at once, as a machine that loses power: SIGKILL, no goodbye. (A kernel
                // node's process exit still closes its sockets, as Linux does for any dying process.)
                stoppedNodes.insert(step.node)
                kill(w.pid, SIGKILL)
                w.process.waitUntilExit()
                replies.append((step.node, "stop", ControlReply(id: 0, ok: true)))
                continue
            }
            if stoppedNodes.contains(step.node) {
                var r = ControlReply(id: 0, ok: false)
                r.error = "node \(step.node) is stopped"
                replies.append((step.node, step.command.op, r))
                if step.mustSucceed { throw LabError.stepFailed(node: step.node, op: step.command.op, error: r.error!) }
                continue
            }
            var command = step.command
            if let name = step.socket {
                guard let s = handles["\(step.node):\(name)"] else {
                    throw LabError.stepFailed(node: step.node, op: command.op, error: "no socket named \(name) (save one with saveAs)")
                }
                command.socket = s
            }
            let reply: ControlReply
            do { reply = try w.call(command) } catch LabError.workerDied(let node, _) {
                throw LabError.workerDied(node: node, detail: deathDetail(node, w))
            }
            replies.append((step.node, command.op, reply))
            if !reply.ok && step.mustSucceed {
                throw LabError.stepFailed(node: step.node, op: command.op, error: reply.error ?? "failed")
            }
            if let name = step.saveAs, let s = reply.socket { handles["\(step.node):\(name)"] = s }
        }
        try sleep(until: start + plan.duration.nanoseconds)
        var counters: [String: [String: Int]] = [:]
        for node in plan.nodes where node.role != .kernelClient && node.role != .kernelServer && !stoppedNodes.contains(node.name) {
            counters[node.name] = (try? workers[node.name]!.call(ControlCommand(id: 0, op: "counters")))?.counters ?? [:]
        }
        for w in workers.values { w.stop() }
        collect()
        let merged = events.map { e -> LabEvent in
            var e = e
            e.t -= start
            return e
        }.enumerated().sorted { ($0.element.t, $0.offset) < ($1.element.t, $1.offset) }.map(\.element)
        let pcaps = ((try? FileManager.default.contentsOfDirectory(atPath: outputDirectory)) ?? [])
            .filter { $0.hasSuffix(".pcap") }.sorted().map { "\(outputDirectory)/\($0)" }
        return LabResult(runID: runID, events: merged, counters: counters, pcaps: pcaps, outputDirectory: outputDirectory,
                         stepReplies: replies)
    }

    private func collect() {
        var fresh: [LabEvent] = []
        for w in workers.values { fresh += w.takeEvents() }
        events += fresh
        guard let onEvent, !fresh.isEmpty else { return }
        // Workers report in batches: order what arrived together by time before showing it.
        let base = startTime ?? monotonic()
        for var e in fresh.sorted(by: { $0.t < $1.t }) {
            e.t -= base
            onEvent(e)
        }
    }

    /// Sleeps on the real clock until `deadline`, collecting events and watching for interrupts and
    /// dying workers.
    private func sleep(until deadline: Int64) throws {
        while true {
            collect()
            try Interrupts.check(since: signalBaseline)
            for (name, w) in workers where (w.exited || !w.process.isRunning) && !stoppedNodes.contains(name) {
                throw LabError.workerDied(node: name, detail: deathDetail(name, w))
            }
            let now = monotonic()
            if now >= deadline { return }
            usleep(UInt32(min(10_000, max(100, (deadline - now) / 1000))))
        }
    }

    /// What is known about a worker's death: how it ended, its last words, and the plugins it ran (a
    /// plugin that crashes takes only its own worker down; this names it).
    private func deathDetail(_ name: String, _ w: WorkerProcess) -> String {
        var parts: [String] = []
        let deadline = Date().addingTimeInterval(1)
        while w.process.isRunning && Date() < deadline { usleep(1000) }
        if !w.process.isRunning, w.process.terminationReason == .uncaughtSignal {
            parts.append("killed by signal \(w.process.terminationStatus)")
        }
        let plugins = plan.nodes.first { $0.name == name }?.policies.filter { $0.value.name != "linux" }
            .map { "\($0.value.name) (\($0.key))" }.sorted() ?? []
        if !plugins.isEmpty { parts.append("it was running plugin\(plugins.count > 1 ? "s" : "") \(plugins.joined(separator: ", "))") }
        let err = w.lastStderr()
        if !err.isEmpty { parts.append(err) }
        return parts.joined(separator: "; ")
    }

    /// Kills what is left and removes the network. Safe to call more than once.
    public func tearDown() {
        for w in workers.values { w.stop(grace: 1) }
        collect()
        workers = [:]
        if let n = network {
            try? n.teardown()
            network = nil
        }
    }

    private func monotonic() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

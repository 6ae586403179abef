import Foundation
import LabControl
import LabCoordinator
import LabNetlink
import LabReport
import TCPPolicy

/// How to run a topology.
public struct RunOptions: Sendable {
    public var backend: Backend
    /// Nil: the topology's seed, else 1.
    public var seed: UInt64?
    /// Nil: `runs/<time>-<name>/`.
    public var outputDirectory: String?
    public var runID: String?
    /// The `tcplab-worker` executable (netns); nil: LabRun's default search.
    public var workerPath: String?
    public var policies: PolicyCatalog
    /// Netns: every event as it happens (t since the start). Sim runs in virtual time, all at once.
    public var onEvent: (@Sendable (LabEvent) -> Void)?

    public init(backend: Backend, seed: UInt64? = nil, outputDirectory: String? = nil, runID: String? = nil, workerPath: String? = nil,
                policies: PolicyCatalog = .shared) {
        self.backend = backend
        self.seed = seed
        self.outputDirectory = outputDirectory
        self.runID = runID
        self.workerPath = workerPath
        self.policies = policies
    }
}

/// A run that could not be carried out (the lab, not an expectation, failed).
public struct RunFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs topologies on either backend and judges them.
public enum TopologyRunner {
    /// The default run directory: `runs/<yyyymmdd-hhmmss>-<name>`.
    public static func defaultOutputDirectory(for name: String, now: Date = Date()) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.locale = Locale(identifier: "en_US_POSIX")
        return "runs/\(f.string(from: now))-\(name)"
    }

    /// Runs `topology` (loaded for `options.backend`), evaluates its expectations and writes the run
    /// directory (result.json, events.jsonl, pcaps, ladder.svg, report.html).
    /// - Parameter started: called once the lab is up (netns: all workers ready), with the run id.
    /// - Throws: `RunFailure` or `LabError` when the lab itself fails.
    public static func run(_ topology: Topology, options: RunOptions, started: ((String) -> Void)? = nil) throws -> RunReport {
        guard topology.backend == options.backend else {
            throw RunFailure("the topology was loaded for \(topology.backend.rawValue), not \(options.backend.rawValue)")
        }
        guard topology.backends.contains(options.backend) else {
            throw RunFailure("\(topology.name) runs on \(topology.backends.map(\.rawValue).joined(separator: " and ")) only\(topology.backendsReason.map { " (\($0))" } ?? "")")
        }
        let seed = options.seed ?? topology.seed ?? 1
        let dir = options.outputDirectory ?? defaultOutputDirectory(for: topology.name)
        let record: RunRecord
        switch options.backend {
        case .sim:
            let runID = options.runID ?? "sim\(LabNames.randomRunID())"
            started?(runID)
            do {
                record = try SimBackend(topology: topology, seed: seed, policies: options.policies).run(runID: runID, outputDirectory: dir)
            } catch let e as SimBackend.Failure {
                throw RunFailure(e.description)
            }
        case .netns:
            let plan = topology.labPlan(seed: seed)
            let run = LabRun(plan: plan, runID: options.runID ?? LabNames.randomRunID(), outputDirectory: dir, workerPath: options.workerPath)
            run.pluginPath = options.policies.pluginPath
            run.onEvent = options.onEvent
            let result = try run.run { r in started?(r.runID) }
            // The plan's steps are the topology's expanded steps, in the same order; replies follow them.
            let steps = topology.expandedSteps
            var replies: [RunRecord.StepReply] = []
            for (k, r) in result.stepReplies.enumerated() {
                let step = k < steps.count && steps[k].node == r.node && steps[k].operation.op == r.op ? steps[k] : nil
                replies.append(.init(node: r.node, op: r.op, at: step?.at ?? plan.steps[min(k, plan.steps.count - 1)].at,
                                     saveAs: step?.saveAs, reply: r.reply, call: step?.operation.callText))
            }
            // The worker protocol's socket numbers are the engine's socket ids (or the kernel's fds).
            record = RunRecord(runID: result.runID, backend: .netns, seed: seed, events: result.events, counters: result.counters,
                               replies: replies, pcaps: result.pcaps, notes: [], outputDirectory: dir, duration: topology.duration)
        }
        let results = topology.expectations.map { $0.evaluate(record, topology: topology) }
        var report = RunReport(topology: topology, record: record, results: results)
        try report.writeArtifacts()
        return report
    }
}

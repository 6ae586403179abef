import Foundation
import LabControl

#if canImport(Glibc)
import Glibc
#endif

/// What the journal records about a run besides its events.
public struct RunInfo: Sendable {
    public var runID: String
    /// The topology's name (`TCPLAB_TOPOLOGY`).
    public var topology: String
    /// The run directory: `journal.jsonl` goes there when journald is not running.
    public var directory: String
    /// Role and plugins of each node, by name.
    public var nodes: [String: NodeInfo]
    /// `netns` or `sim`.
    public var backend: String?
    public var seed: UInt64?
    /// When the run started (wall clock). Records of the run's workers from before it are not its.
    public var startedAt: Date

    public init(runID: String, topology: String, directory: String, nodes: [String: NodeInfo] = [:], backend: String? = nil,
                seed: UInt64? = nil, startedAt: Date = Date())
    {
        self.runID = runID
        self.topology = topology
        self.directory = directory
        self.nodes = nodes
        self.backend = backend
        self.seed = seed
        self.startedAt = startedAt
    }

    /// `<directory>/journal.jsonl`.
    public var fallbackPath: String { JournalReader.fallbackPath(runDirectory: directory) }

    var startedUS: UInt64 { UInt64(max(0, startedAt.timeIntervalSince1970 * 1e6)) }
}

/// The coordinator's journal of one run: a run-started record, one record per event (in the run's
/// order, `TCPLAB_INDEX` 0, 1, …), a run-finished record with the verdict and the number of events.
/// `SYSLOG_IDENTIFIER=tcplab`; every record carries `TCPLAB_RUN` and `TCPLAB_TOPOLOGY`.
///
///     let journal = RunJournal(run: info)            // run-started; journal.notice when no journald
///     journal.log(result.events)                     // queued; a writer thread sends
///     let report = journal.finish(verdict: "pass")   // run-finished, flush, journald sync, check
///     for n in report.notices { print("note: \(n)") }
public final class RunJournal: @unchecked Sendable {
    /// What became of a run's records.
    public struct Report: Sendable {
        public var runID: String
        /// Event records written (one per event logged).
        public var eventRecords: Int
        /// Where they went.
        public var writer: JournalWriter.Summary
        /// Event records found in the journal and the fallback file afterwards (nil when not checked).
        public var found: Int?
        /// journald's "Suppressed N messages from …" lines since the run started (its rate limit).
        public var suppressed: [String]
        /// Everything a user should be told, in order: no journald, a switch to the file, records
        /// journald did not keep, suppressed messages, a sync that could not be confirmed.
        public var notices: [String]
        /// Whether every event record is where a reader will find it (as far as checked).
        public var complete: Bool { (found ?? eventRecords) == eventRecords && writer.toStandardError == 0 }
    }

    public let info: RunInfo
    public let writer: JournalWriter
    private let lock = NSLock()
    private var nextIndex = 0

    /// Opens the run's journal and logs run-started.
    /// - Parameters:
    ///   - run: the run's id, topology, directory, nodes.
    ///   - mode: `.fileOnly` skips journald.
    ///   - socketPath: the journal socket to probe (tests point it elsewhere to play "no journald").
    ///   - transport: what sends to journald (tests inject failures).
    public init(run: RunInfo, mode: JournalWriter.Mode = .automatic, socketPath: String = Journald.socketPath,
                transport: JournalTransport = SystemdJournalTransport())
    {
        info = run
        var common = JournalRecord()
        common.append(JournalField.run, run.runID)
        common.append(JournalField.topology, run.topology)
        writer = JournalWriter(options: .init(identifier: "tcplab", common: common, fallbackPath: run.fallbackPath,
                                              subject: "the journal records of run \(run.runID)", socketPath: socketPath, mode: mode),
                               transport: transport)
        writer.write(runStartedRecord())
    }

    /// Said once when the records do not go to journald (print it); nil when they do.
    public var notice: String? { writer.notice }

    /// Logs one event; its index is the number of events logged before it.
    public func log(_ event: LabEvent) {
        lock.lock()
        let i = nextIndex
        nextIndex += 1
        lock.unlock()
        writer.write(event.journalRecord(index: i, node: info.nodes[event.node]))
    }

    /// Logs events in order (the whole `LabResult.events` of a run, say).
    public func log(_ events: [LabEvent]) {
        lock.lock()
        let base = nextIndex
        nextIndex += events.count
        lock.unlock()
        let chunk = 4096
        var start = 0
        while start < events.count {
            let end = min(start + chunk, events.count)
            var records: [JournalRecord] = []
            records.reserveCapacity(end - start)
            for i in start..<end {
                let e = events[i]
                records.append(e.journalRecord(index: base + i, node: info.nodes[e.node]))
            }
            writer.write(contentsOf: records)
            start = end
        }
    }

    /// Logs run-finished, waits until journald has written everything (or the fallback file has it),
    /// and, with `verify`, reads the run back to count its event records and looks for journald's
    /// rate-limit messages.
    /// - Parameter verdict: `pass` or `fail` (`TCPLAB_VERDICT`).
    public func finish(verdict: String, verify: Bool = true) -> Report {
        lock.lock()
        let count = nextIndex
        lock.unlock()
        writer.write(runFinishedRecord(verdict: verdict, records: count))
        let summary = writer.close()
        var report = Report(runID: info.runID, eventRecords: count, writer: summary, found: nil, suppressed: [], notices: summary.notices)
        if let p = summary.syncProblem { report.notices.append("could not confirm that journald wrote every record of run \(info.runID): \(p)") }
        if summary.toStandardError > 0 {
            report.notices.append("\(summary.toStandardError) records of run \(info.runID) went to standard error only")
        }
        guard verify else { return report }
        report.suppressed = JournalCheck.suppressedMessages(since: info.startedUS)
        if !report.suppressed.isEmpty {
            // journald says so with the first message it takes after the limit's interval, so these may
            // be about an earlier run too; the unit names which.
            report.notices.append("journald has dropped messages since run \(info.runID) started (its rate limit): "
                + report.suppressed.joined(separator: "; ") + " (raise RateLimitBurst= or set RateLimitIntervalSec=0 in journald.conf)")
        }
        if let trail = try? JournalReader.trail(run: info.runID, runDirectory: info.directory, runsDirectory: nil,
                                                useJournal: summary.toJournal > 0)
        {
            let readable = trail.sources.contains("journal") || summary.toJournal == 0
            if !readable && geteuid() != 0 {
                report.notices.append("cannot check run \(info.runID)'s records: this user cannot read the system journal "
                    + "(members of the systemd-journal group can)")
                return report
            }
            report.found = min(trail.events.count, count)
            if trail.events.count < count {
                report.notices.append("only \(trail.events.count) of \(count) event records of run \(info.runID) can be read back"
                    + (report.suppressed.isEmpty ? " (journald's rate limit is one cause: RateLimitIntervalSec=, RateLimitBurst=)" : ""))
            }
        }
        return report
    }

    /// Logs a whole run at once: run-started, every event, run-finished.
    public static func record(_ events: [LabEvent], run: RunInfo, verdict: String, verify: Bool = true,
                              mode: JournalWriter.Mode = .automatic) -> Report
    {
        let j = RunJournal(run: run, mode: mode)
        j.log(events)
        return j.finish(verdict: verdict, verify: verify)
    }

    private func runStartedRecord() -> JournalRecord {
        var r = JournalRecord()
        let nodes = info.nodes.keys.sorted()
        let how = [info.backend.map { "\($0) backend" }, info.seed.map { "seed \($0)" }].compactMap { $0 }
        r.append(JournalField.message, "run \(info.runID) of \(info.topology) started"
            + (how.isEmpty ? "" : " (\(how.joined(separator: ", ")))") + (nodes.isEmpty ? "" : ": nodes \(nodes.joined(separator: ", "))"))
        r.append(JournalField.priority, 5)
        r.append(JournalField.messageID, JournalMessageID.runStarted)
        r.append(JournalField.event, "run-started")
        r.append(JournalField.startedUS, info.startedUS)
        r.append(JournalField.directory, info.directory)
        if let b = info.backend { r.append(JournalField.backend, b) }
        if let s = info.seed { r.append(JournalField.seed, s) }
        for n in nodes { r.append(JournalField.nodes, "\(n):\(info.nodes[n]!.role)") }
        for p in Set(info.nodes.values.flatMap(\.plugins)).sorted() { r.append(JournalField.plugin, p) }
        return r
    }

    private func runFinishedRecord(verdict: String, records: Int) -> JournalRecord {
        var r = JournalRecord()
        r.append(JournalField.message, "run \(info.runID) of \(info.topology) finished: \(verdict), \(records) event\(records == 1 ? "" : "s")")
        r.append(JournalField.priority, verdict == "pass" ? 5 : 4)
        r.append(JournalField.messageID, JournalMessageID.runFinished)
        r.append(JournalField.event, "run-finished")
        r.append(JournalField.verdict, verdict)
        r.append(JournalField.records, records)
        r.append(JournalField.startedUS, info.startedUS)
        r.append(JournalField.directory, info.directory)
        return r
    }
}

/// Checks on journald's side.
public enum JournalCheck {
    /// journald's "Suppressed N messages from UNIT" records (its rate limit, `MESSAGE_ID`
    /// a596d6fe7bfa4994828e72309e95d61e) received since `microseconds` (wall clock).
    public static func suppressedMessages(since microseconds: UInt64) -> [String] {
        guard let j = try? SystemJournal() else { return [] }
        do {
            try j.addMatch("\(JournalField.messageID)=\(JournalMessageID.journaldSuppressed)")
            try j.seekRealtime(microseconds: microseconds)
            var out: [String] = []
            while try j.next() {
                if let t = j.realtimeMicroseconds, t < microseconds { continue }
                out.append(j.value(JournalField.message) ?? "suppressed messages")
            }
            return out
        } catch {
            return []
        }
    }
}

import Foundation
import LabControl

/// Everything the journal and the fallback file hold about one run.
public struct RunTrail: Sendable {
    public var runID: String
    /// The run's records other than event records — run-started, run-finished, `Logger` messages,
    /// fallback notices — in the order written (the journal's, then the fallback file's); with
    /// `includeEventRecords`, the event records too.
    public var records: [JournalEntry]
    /// The run's events, in their order (`TCPLAB_INDEX`), each exactly as logged.
    public var events: [LabEvent]
    public var started: JournalEntry?
    public var finished: JournalEntry?
    /// `journal` and/or the fallback file's path.
    public var sources: [String]
    /// Event positions that no record holds although the run wrote them (from run-finished's
    /// `TCPLAB_RECORDS`, else up to the highest index seen).
    public var missing: [Int]
    /// What a reader should be told: missing records, an earlier run with the same id, bad JSON.
    public var problems: [String]

    public var topology: String? { started?[JournalField.topology] ?? finished?[JournalField.topology] }
    public var verdict: String? { finished?[JournalField.verdict] }
    public var directory: String? { started?[JournalField.directory] ?? finished?[JournalField.directory] }
    /// Whether the journal or a fallback file had anything for this run.
    public var isEmpty: Bool { records.isEmpty && events.isEmpty }
}

/// Reads runs back: with the sd_journal API (`sd_journal_open`, `sd_journal_add_match("TCPLAB_RUN=…")`,
/// `sd_journal_next`, `sd_journal_get_data`), and from the fallback file when the run had no journal.
public enum JournalReader {
    /// The fallback file of a run directory.
    public static func fallbackPath(runDirectory: String) -> String { (runDirectory as NSString).appendingPathComponent("journal.jsonl") }

    /// The records of `run` (its latest use, if the id was used before), its events in order, and
    /// what is missing.
    /// - Parameters:
    ///   - runDirectory: the run's directory, if known (its `journal.jsonl` is read too).
    ///   - runsDirectory: where to look for the run's fallback file when `runDirectory` is not given.
    ///   - useJournal: false reads only fallback files.
    ///   - includeEventRecords: also return every event record's fields in `records` (for a raw dump;
    ///     slower: an event record has some 40 fields with journald's own).
    public static func trail(run: String, runDirectory: String? = nil, runsDirectory: String? = "runs",
                             useJournal: Bool = true, includeEventRecords: Bool = false) throws -> RunTrail
    {
        var problems: [String] = []
        var sources: [String] = []
        // The journal: every record of the run, then only its latest instance.
        var journalPart: Instance?
        if useJournal {
            let j = try SystemJournal()
            try j.addMatch("\(JournalField.run)=\(run)")
            var all: [Item] = []
            while try j.next() {
                all.append(Item(journal: j, keepEntry: includeEventRecords))
            }
            if !all.isEmpty {
                journalPart = Instance(latestOf: all)
                sources.append("journal")
            }
        }
        // The fallback file: the given directory's, else the one the journal names, else a search.
        var filePath: String?
        for dir in [runDirectory, journalPart?.started?[JournalField.directory]].compactMap({ $0 }) {
            let p = fallbackPath(runDirectory: dir)
            if FileManager.default.fileExists(atPath: p) { filePath = p; break }
        }
        if filePath == nil, runDirectory == nil, let runsDirectory { filePath = findFallbackFile(run: run, runsDirectory: runsDirectory) }
        var filePart: Instance?
        if let filePath {
            let items = readFallbackFile(filePath).filter { $0.runID == run }.map { Item(entry: $0, keepEntry: includeEventRecords) }
            if !items.isEmpty {
                filePart = Instance(latestOf: items)
                sources.append(filePath)
            }
        }
        // Two starts that differ are two runs with one id: the later one wins. Otherwise the file
        // continues the journal (journald went away mid-run) or holds the whole run.
        var parts = [journalPart, filePart].compactMap { $0 }
        if let a = journalPart?.startedUS, let b = filePart?.startedUS, a != b {
            parts = [a > b ? journalPart! : filePart!]
            problems.append("run id \(run) was used by more than one run; showing the one started \(describe(us: max(a, b)))")
        }
        for p in parts where p.earlierInstances > 0 {
            problems.append("run id \(run) was used by \(p.earlierInstances) earlier run\(p.earlierInstances == 1 ? "" : "s"); showing the latest")
        }
        let items = parts.flatMap(\.items)
        // Events by index; a record in both places counts once.
        let decoder = JSONDecoder()
        var byIndex: [Int: LabEvent] = [:]
        byIndex.reserveCapacity(items.count)
        var unindexed: [LabEvent] = []
        var unreadable = 0
        for item in items {
            guard let json = item.json else { continue }
            if let i = item.index, byIndex[i] != nil { continue }
            guard let event = try? decoder.decode(LabEvent.self, from: json) else {
                unreadable += 1
                continue
            }
            if let i = item.index { byIndex[i] = event } else { unindexed.append(event) }
        }
        if unreadable > 0 { problems.append("\(unreadable) record\(unreadable == 1 ? "" : "s") of run \(run) carry event JSON that does not decode") }
        let records = items.compactMap(\.entry)
        let started = records.last { $0.isRunStarted }
        let finished = records.last { $0.isRunFinished }
        let expected = finished?[JournalField.records].flatMap { Int($0) } ?? ((byIndex.keys.max() ?? -1) + 1)
        let missing = (0..<max(expected, 0)).filter { byIndex[$0] == nil }
        if !missing.isEmpty {
            let shown = missing.prefix(10).map(String.init).joined(separator: ", ")
            problems.append("\(missing.count) of \(expected) event records of run \(run) are missing (index \(shown)\(missing.count > 10 ? ", …" : ""))")
        }
        if !items.isEmpty && finished == nil { problems.append("run \(run) has no run-finished record (still running, or it ended abnormally)") }
        let events = byIndex.keys.sorted().map { byIndex[$0]! } + unindexed
        return RunTrail(runID: run, records: records, events: events, started: started, finished: finished,
                        sources: sources, missing: missing, problems: problems)
    }

    /// The run's events in order (see `trail`).
    public static func events(run: String, runDirectory: String? = nil, runsDirectory: String? = "runs") throws -> [LabEvent] {
        try trail(run: run, runDirectory: runDirectory, runsDirectory: runsDirectory).events
    }

    /// One record as `trail` sorts it out: an event record is kept as its JSON and index only
    /// (reading all ~40 fields of each is most of the cost), any other record whole.
    struct Item {
        var json: Data?
        var index: Int?
        var isStarted = false
        var isFinished = false
        var startedUS: UInt64?
        var realtime: UInt64?
        var entry: JournalEntry?

        init(journal j: SystemJournal, keepEntry: Bool) {
            realtime = j.realtimeMicroseconds
            if let raw = j.rawValue(JournalField.eventJSON) {
                json = Data(raw)
                index = j.value(JournalField.index).flatMap { Int($0) }
                if keepEntry { entry = JournalEntry(fields: j.allFields(), realtimeMicroseconds: realtime, source: .journal) }
            } else {
                let e = JournalEntry(fields: j.allFields(), realtimeMicroseconds: realtime, source: .journal)
                classify(e)
                entry = e
            }
        }

        init(entry e: JournalEntry, keepEntry: Bool) {
            realtime = e.realtimeMicroseconds
            if let j = e[JournalField.eventJSON] {
                json = Data(j.utf8)
                index = e.index
                if keepEntry { entry = e }
            } else {
                classify(e)
                entry = e
            }
        }

        private mutating func classify(_ e: JournalEntry) {
            isStarted = e.isRunStarted
            isFinished = e.isRunFinished
            if isStarted { startedUS = e[JournalField.startedUS].flatMap { UInt64($0) } ?? e.realtimeMicroseconds }
        }
    }

    /// The records of one use of a run id: those from its latest run-started on.
    struct Instance {
        var items: [Item]
        var started: JournalEntry?
        var startedUS: UInt64?
        var earlierInstances: Int

        init(latestOf all: [Item]) {
            let starts = all.indices.filter { all[$0].isStarted }
            guard let last = starts.last else {
                items = all
                earlierInstances = 0
                return
            }
            started = all[last].entry
            startedUS = all[last].startedUS
            earlierInstances = starts.count - 1
            guard let startedUS else {
                items = Array(all[last...])
                return
            }
            // The run's own records follow its run-started: the coordinator writes that first. Records
            // before it are the run's only if they are not another run's events or bookends and arrived
            // after its start (less a margin): a worker's log lines when the run was journaled at its end.
            let cutoff = startedUS > 2_000_000 ? startedUS - 2_000_000 : 0
            items = all.enumerated().filter { i, e in
                if i >= last { return true }
                if e.json != nil || e.isStarted || e.isFinished { return false }
                // A fallback record has no receive time: a file with one run-started is one run's.
                guard let t = e.realtime else { return starts.count == 1 }
                return t >= cutoff
            }.map(\.element)
        }
    }

    // MARK: - Fallback files

    /// Every record of a fallback file, in order (lines that are not records are skipped).
    public static func readFallbackFile(_ path: String) -> [JournalEntry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { JournalEntry(jsonLine: Data($0), source: .file(path)) }
    }

    /// The fallback file under `runsDirectory/*/journal.jsonl` that holds `run` (the latest, if several).
    public static func findFallbackFile(run: String, runsDirectory: String) -> String? {
        let needle = Array("\"\(JournalField.run)\":\"\(run)\"".utf8)
        var best: (path: String, date: Date)?
        for dir in subdirectories(runsDirectory) {
            let p = fallbackPath(runDirectory: dir)
            guard let head = FileHandle(forReadingAtPath: p).map({ h -> Data in defer { try? h.close() }; return h.readData(ofLength: 1 << 16) }),
                  head.range(of: Data(needle)) != nil
            else { continue }
            let date = (try? FileManager.default.attributesOfItem(atPath: p)[.modificationDate] as? Date) ?? .distantPast
            if best == nil || date > best!.date { best = (p, date) }
        }
        return best?.path
    }

    static func subdirectories(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).map { (dir as NSString).appendingPathComponent($0) }
    }

    static func describe(us: UInt64) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: Double(us) / 1e6))
    }
}

// MARK: - Recent runs

extension JournalReader {
    /// The latest runs, newest first: from the journal's run-started and run-finished records, and
    /// from the fallback files under `runsDirectory` (runs that had no journald).
    public static func recentRuns(limit: Int = 20, runsDirectory: String? = "runs", useJournal: Bool = true) throws -> [RunSummary] {
        var byKey: [String: RunSummary] = [:]
        func key(_ e: JournalEntry) -> String? {
            guard let run = e.runID else { return nil }
            return "\(run)@\(e[JournalField.startedUS] ?? "")"
        }
        func merge(_ e: JournalEntry, source: String) {
            guard let k = key(e), let run = e.runID else { return }
            var s = byKey[k] ?? RunSummary(runID: run, topology: nil, verdict: nil, startedAt: .distantPast, records: nil,
                                           backend: nil, directory: nil, source: source)
            s.topology = s.topology ?? e[JournalField.topology]
            s.directory = s.directory ?? e[JournalField.directory]
            s.backend = s.backend ?? e[JournalField.backend]
            if let us = e[JournalField.startedUS].flatMap({ UInt64($0) }) {
                s.startedAt = Date(timeIntervalSince1970: Double(us) / 1e6)
            } else if s.startedAt == .distantPast, let t = e.realtimeMicroseconds {
                s.startedAt = Date(timeIntervalSince1970: Double(t) / 1e6)
            }
            if e.isRunFinished {
                s.verdict = e[JournalField.verdict]
                s.records = e[JournalField.records].flatMap { Int($0) }
            }
            byKey[k] = s
        }
        if useJournal {
            let j = try SystemJournal()
            try j.addMatch("\(JournalField.messageID)=\(JournalMessageID.runStarted)")
            try j.addMatch("\(JournalField.messageID)=\(JournalMessageID.runFinished)")
            try j.seekTail()
            var starts = 0
            while starts < limit, try j.previous() {
                let e = JournalEntry(fields: j.allFields(), realtimeMicroseconds: j.realtimeMicroseconds, source: .journal)
                merge(e, source: "journal")
                if e.isRunStarted { starts += 1 }
            }
        }
        if let runsDirectory {
            let started = Array(JournalMessageID.runStarted.utf8), finished = Array(JournalMessageID.runFinished.utf8)
            for dir in subdirectories(runsDirectory) {
                let p = fallbackPath(runDirectory: dir)
                guard let data = FileManager.default.contents(atPath: p) else { continue }
                for line in data.split(separator: UInt8(ascii: "\n")) {
                    guard line.firstRange(of: started) != nil || line.firstRange(of: finished) != nil,
                          let e = JournalEntry(jsonLine: Data(line), source: .file(p)), e.isRunStarted || e.isRunFinished
                    else { continue }
                    merge(e, source: p)
                }
            }
        }
        return Array(byKey.values.sorted { $0.startedAt > $1.startedAt }.prefix(limit))
    }

    /// The most recent run, if any.
    public static func latestRun(runsDirectory: String? = "runs", useJournal: Bool = true) throws -> RunSummary? {
        try recentRuns(limit: 1, runsDirectory: runsDirectory, useJournal: useJournal).first
    }
}

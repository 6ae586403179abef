import ArgumentParser
import Foundation
import LabControl
import LabJournal
import LabReport
import LabTopology

/// `tcplab logs [RUN]`: a run's story read back from the journal (or from its fallback file when the run
/// had no journald), drawn again: the timeline and the ladder.
struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a run back from the journal (or its journal.jsonl) and draw its timeline and ladder again.")

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @Option(help: "Where run directories are (for runs without journald).")
    var runs = "runs"

    @Flag(help: "Keep printing events as the run writes them, until it finishes.")
    var follow = false

    @Flag(help: "One JSON object per event, as in events.jsonl.")
    var json = false

    @Option(help: "Width in columns (default: the terminal's).")
    var width: Int?

    func run() throws {
        let id: String
        if let runID {
            id = runID
        } else if let latest = try JournalReader.latestRun(runsDirectory: runs) {
            id = latest.runID
        } else {
            Terminal.error("no runs recorded in the journal or under \(runs)/; run one with `tcplab run`")
            throw ExitCode(Status.badInput)
        }
        if follow {
            _ = try JournalReader.follow(run: id) { entry in
                guard let e = entry.event else { return }
                if json { print(e.jsonLine()) } else if let line = Run.liveLine(e) { print("\(Terminal.stamp(e.t))  \(line)") }
            }
            return
        }
        let trail = try JournalReader.trail(run: id, runsDirectory: runs)
        for p in trail.problems { Terminal.error("note: \(p)") }
        guard !trail.events.isEmpty else {
            Terminal.error("run \(id): no events in the journal or under \(runs)/")
            throw ExitCode(Status.badInput)
        }
        if json {
            for e in trail.events { print(e.jsonLine()) }
            return
        }
        print("run \(id): \(trail.topology ?? "?"), \(trail.events.count) events\(trail.verdict.map { ", verdict \($0)" } ?? "")")
        print("")
        for e in trail.events {
            if let line = Run.liveLine(e) { print("\(Terminal.stamp(e.t))  \(line)") }
        }
        print("")
        let ladder = RunReport.ladder(events: trail.events, lifelines: Self.lifelines(trail.events),
                                      title: "\(trail.topology ?? "run") \(id) — from the journal")
        print(ladder.renderTerminal(Ladder.TerminalStyle(width: width ?? Terminal.width, colour: Terminal.colour)))
    }

    /// The nodes in the order they first speak, with a node that only forwards or drops (a middlebox)
    /// placed between the first two.
    static func lifelines(_ events: [LabEvent]) -> [Ladder.Lifeline] {
        var ends: [String] = []
        var boxes: [String] = []
        for e in events {
            let isBox = e.dir == "through" || e.droppedBy != nil
            if isBox { if !boxes.contains(e.node) { boxes.append(e.node) } } else if e.kind == "segment", !ends.contains(e.node) {
                ends.append(e.node)
            }
        }
        boxes.removeAll { ends.contains($0) }
        var order = ends
        if order.count >= 2 { order.insert(contentsOf: boxes, at: 1) } else { order += boxes }
        return order.map { Ladder.Lifeline(name: $0, detail: boxes.contains($0) ? "middlebox" : "", isMiddlebox: boxes.contains($0)) }
    }
}

/// `tcplab runs`: recent runs, from the journal and from run directories.
struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List recent runs: id, topology, verdict, time.")

    @Option(help: "Where run directories are (for runs without journald).")
    var runs = "runs"

    @Option(help: "How many.")
    var limit = 20

    func run() throws {
        let list = try JournalReader.recentRuns(limit: limit, runsDirectory: runs)
        if list.isEmpty { print("no runs yet") }
        let formatter = ISO8601DateFormatter()
        for r in list {
            print("\(r.runID)  \(formatter.string(from: r.startedAt))  \((r.topology ?? "?").padding(toLength: 28, withPad: " ", startingAt: 0))  \(r.verdict ?? "unfinished")  \(r.source == "journal" ? "journal" : r.source)")
        }
    }
}

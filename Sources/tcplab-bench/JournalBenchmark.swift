#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LabControl
import LabJournal

/// Figures of issue 8 ("journald-logged experiments"): how fast one process gets a run's records
/// into journald, the way the coordinator logs a run (`RunJournal`: a record per event formatted on
/// the caller's thread, sent by the writer thread with `sd_journal_sendv`).
///
/// End to end means from the first `log` call until journald has written the last record
/// (`finish` ends with journald's varlink `Synchronize`, which answers only after every datagram
/// queued before it is in the journal files), so the figure is what journald took in, not what
/// left this process. The records are then read back (sd_journal API) and counted, and journald's
/// "Suppressed N messages" records are looked for: a rate limit is reported, not hidden.
///
/// Without a running journald (these machines run none) the benchmark starts
/// /lib/systemd/systemd-journald by hand with its rate limit off (`HandStartedJournald`) and stops it
/// by PID afterwards; with one running it uses that one as configured.
///
/// Run: `swift run -c release --scratch-path .build-journal-release tcplab-bench journal`
/// (`JOURNAL_BENCH_RECORDS=N` changes the count; root, or a running journald, needed).
enum JournalBenchmark {
    static func run() {
        let n = ProcessInfo.processInfo.environment["JOURNAL_BENCH_RECORDS"].flatMap { Int($0) } ?? 200_000
        let started: HandStartedJournald?
        switch HandStartedJournald.ensure() {
        case .alreadyRunning:
            started = nil
            print("journal: using the running journald (its own configuration and rate limit)")
        case .started(let j):
            started = j
            print("journal: started \(HandStartedJournald.binary) by hand (pid \(j.pid)), RateLimitIntervalSec=0")
        case .unavailable(let why):
            print("journal: skipped: \(why)")
            return
        }
        defer { started?.stop() }
        let events = syntheticEvents(count: n)
        let nodes: [String: NodeInfo] = ["client": NodeInfo(role: "client"), "mbox": NodeInfo(role: "middlebox"),
                                         "server": NodeInfo(role: "server")]

        // Formatting alone: what the caller's thread pays per record.
        var start = monotonicNanoseconds()
        var records: [JournalRecord] = []
        records.reserveCapacity(n)
        for (i, e) in events.enumerated() { records.append(e.journalRecord(index: i, node: nodes[e.node])) }
        let formatNS = Double(monotonicNanoseconds() - start) / Double(n)
        let meanBytes = records.reduce(0) { $0 + $1.bytes.count } / n
        let meanFields = records.reduce(0) { $0 + $1.count } / n
        print(String(format: "journal: formatting a record: %.2f µs (%d fields, %d bytes on average, %d events)",
                     formatNS / 1000, meanFields, meanBytes, n))

        // journald's own ceiling right now: the smallest records (4 fields) from the writer thread.
        var minimal = JournalRecord()
        minimal.append(JournalField.message, "tcplab journal benchmark: minimal record")
        minimal.append(JournalField.priority, 7)
        let ceiling = sendRate(Array(repeating: minimal, count: n), label: "minimal records (4 fields)")
        // The same records the run writes, formatted beforehand: the sending side alone.
        let sendOnly = sendRate(records, label: "pre-formatted TCPLab records")
        records = []

        // End to end, as the coordinator logs a run: RunJournal formats on this thread, the writer
        // thread sends, finish() waits for journald's sync. Three runs; each is read back and compared.
        var rates: [Double] = []
        for round in 1...3 {
            let dir = NSTemporaryDirectory() + "tcplab-bench-journal-\(getpid())-\(round)"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let info = RunInfo(runID: "bench\(String(UInt32.random(in: 0...UInt32.max), radix: 16))", topology: "journal-bench",
                               directory: dir, nodes: nodes, backend: "bench")
            let load = loadAverage()
            start = monotonicNanoseconds()
            let journal = RunJournal(run: info)
            journal.log(events)
            let report = journal.finish(verdict: "pass", verify: false)
            let seconds = Double(monotonicNanoseconds() - start) / 1e9
            let total = n + 2
            let rate = Double(total) / seconds
            let allToJournal = report.writer.toJournal == total
            if allToJournal { rates.append(rate) }
            print(String(format: "journal: run %d: %d records into journald in %.2f s: %.0f records/s end to end%@ (load average %.1f)",
                         round, total, seconds, rate,
                         allToJournal ? "" : " (NOT counted: \(report.writer.toFile) went to the fallback file)", load))
            for notice in report.notices { print("journal:   notice: \(notice)") }
            start = monotonicNanoseconds()
            let trail = try? JournalReader.trail(run: info.runID, runDirectory: dir, runsDirectory: nil)
            let readSeconds = Double(monotonicNanoseconds() - start) / 1e9
            let found = trail?.events.count ?? 0
            print(String(format: "journal:   read back %d of %d events in %.2f s (%.0f records/s): %@", found, n, readSeconds,
                         Double(found) / readSeconds, trail?.events == events ? "identical" : "NOT identical"))
            let suppressed = JournalCheck.suppressedMessages(since: UInt64(info.startedAt.timeIntervalSince1970 * 1e6))
            if !suppressed.isEmpty { print("journal:   journald rate-limited: \(suppressed.joined(separator: "; "))") }
        }
        if rates.isEmpty {
            print("journal: end to end: no run went wholly to journald")
        } else {
            let median = rates.sorted()[rates.count / 2]
            print(String(format: "journal: end to end: median %.0f, best %.0f records/s over %d runs (goal ≥ 50000: %@); "
                         + "journald took %.0f/s of minimal records and %.0f/s of pre-formatted ones just before",
                         median, rates.max()!, rates.count, median >= 50_000 ? "met" : "NOT met", ceiling, sendOnly))
        }

        // The fallback file, for comparison.
        let dir = NSTemporaryDirectory() + "tcplab-bench-journal-file-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let info = RunInfo(runID: "benchfile", topology: "journal-bench", directory: dir, nodes: nodes)
        start = monotonicNanoseconds()
        let report = RunJournal.record(events, run: info, verdict: "pass", verify: false, mode: .fileOnly(reason: "benchmark"))
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        print(String(format: "journal: fallback file: %d records in %.2f s: %.0f records/s", report.writer.toFile, seconds,
                     Double(report.writer.toFile) / seconds))
    }

    /// Sends records through a writer and waits for journald's sync: records per second.
    static func sendRate(_ records: [JournalRecord], label: String) -> Double {
        var common = JournalRecord()
        common.append(JournalField.run, "bench\(String(UInt32.random(in: 0...UInt32.max), radix: 16))")
        let w = JournalWriter(options: .init(identifier: "tcplab-bench", common: common,
                                             fallbackPath: NSTemporaryDirectory() + "tcplab-bench-journal-\(getpid())-send/journal.jsonl"))
        let start = monotonicNanoseconds()
        w.write(contentsOf: records)
        let s = w.close()
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        let rate = Double(records.count) / seconds
        print(String(format: "journal: %@: %d into journald in %.2f s: %.0f records/s%@", label, records.count, seconds, rate,
                     s.toJournal == records.count ? "" : " (\(s.toFile) went to the fallback file: \(s.notices.joined(separator: " ")))"))
        return rate
    }

    static func loadAverage() -> Double {
        var l = [Double](repeating: 0, count: 3)
        return getloadavg(&l, 3) > 0 ? l[0] : -1
    }

    /// A handshake-heavy mix: mostly segments, then states, timers, counters, drops.
    static func syntheticEvents(count: Int) -> [LabEvent] {
        (0..<count).map { i -> LabEvent in
            let t = Int64(i) * 997
            switch i % 10 {
            case 0...5:
                var e = LabEvent(t: t, node: i % 2 == 0 ? "client" : "server", kind: "segment")
                e.dir = i % 2 == 0 ? "out" : "in"
                e.src = "198.18.0.1:\(32768 + i % 28000)"
                e.dst = "198.18.0.2:80"
                e.flags = ["S", "S.", "."][i % 3]
                e.seq = UInt32(truncatingIfNeeded: i &* 2_654_435_761)
                e.ack = i % 3 == 0 ? nil : UInt32(truncatingIfNeeded: i &* 40503)
                e.win = 64240
                e.len = 0
                e.options = i % 3 == 2 ? nil : "mss 1460,sackOK,TS val \(i) ecr 0,nop,wscale 10"
                e.tcpdump = "Flags [\(e.flags!)], seq \(e.seq!), win 64240, length 0"
                e.socket = Int32(i % 1000)
                return e
            case 6:
                var e = LabEvent(t: t, node: "client", kind: "state")
                e.socket = Int32(i % 1000)
                e.conn = "198.18.0.1:\(32768 + i % 28000)-198.18.0.2:80"
                e.from = "SYN_SENT"
                e.to = "ESTABLISHED"
                e.cause = "SYN-ACK received"
                return e
            case 7:
                var e = LabEvent(t: t, node: "server", kind: "timer")
                e.name = "retransmit"
                e.value = 1_000_000_000
                e.message = "armed"
                return e
            case 8:
                var e = LabEvent(t: t, node: "server", kind: "counter")
                e.name = "TcpExtTCPTimeouts"
                e.value = i
                return e
            default:
                var e = LabEvent(t: t, node: "mbox", kind: "drop")
                e.dir = "through"
                e.src = "198.18.0.1:\(32768 + i % 28000)"
                e.dst = "198.18.0.2:80"
                e.flags = "."
                e.reason = "loss 1%"
                return e
            }
        }
    }
}

import Foundation
import LabControl
import LabJournal
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Against a real journald: the running one, or one `TestJournald` starts by hand and stops by PID.
/// Records are checked through `journalctl … -o json` and through `JournalReader`.
// The condition is an autoclosure, evaluated only when a test of this suite is about to run: a
// filtered run of other tests in the same binary must not start a journald.
@Suite(.serialized, .enabled("needs a running journald, or root to start one (TestJournald)") { TestJournald.available })
struct JournaldTests {
    @Test func theCoordinatorWritesExactlyOneRecordPerEvent() throws {
        let events = sampleEvents()
        let dir = temporaryRunDirectory("journald")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let info = RunInfo(runID: freshRunID(), topology: "third-ack-lost", directory: dir, nodes: sampleNodes, backend: "netns", seed: 7)
        let report = RunJournal.record(events, run: info, verdict: "fail")
        #expect(report.writer.toJournal == events.count + 2)
        #expect(report.writer.toFile == 0)
        #expect(report.notices.isEmpty, "\(report.notices)")
        #expect(report.found == events.count)
        #expect(report.complete)
        #expect(!FileManager.default.fileExists(atPath: info.fallbackPath))

        // journalctl: one record per event, the run's two bookends, the fields the issue lists.
        let records = journalctl(["TCPLAB_RUN=\(info.runID)"])
        let eventRecords = records.filter { $0["TCPLAB_EVENT_JSON"] != nil }
        #expect(eventRecords.count == events.count)
        #expect(records.count == events.count + 2)
        #expect(eventRecords.compactMap { ($0["TCPLAB_INDEX"] as? String).flatMap { Int($0) } } == Array(0..<events.count))
        for r in records {
            #expect(r["SYSLOG_IDENTIFIER"] as? String == "tcplab")
            #expect(r["TCPLAB_TOPOLOGY"] as? String == "third-ack-lost")
            #expect(r["MESSAGE_ID"] is String)
            #expect(r["PRIORITY"] is String)
        }
        let firstSyn = try #require(eventRecords.first)
        #expect(firstSyn["MESSAGE"] as? String == events[0].journalSentence)
        #expect(firstSyn["TCP_FLAGS"] as? String == "S")
        #expect(firstSyn["TCP_SEQ"] as? String == "\(UInt32.max)")
        #expect(firstSyn["TCP_WIN"] as? String == "64240")
        #expect(firstSyn["TCP_LOCAL"] as? String == "198.18.0.1:40000")
        #expect(firstSyn["TCP_REMOTE"] as? String == "198.18.0.2:80")
        #expect(firstSyn["TCPLAB_NODE"] as? String == "client")
        #expect(firstSyn["TCPLAB_ROLE"] as? String == "client")
        #expect(firstSyn["TCPLAB_TIME_NS"] as? String == "0")
        let state = try #require(eventRecords.first { $0["TCPLAB_EVENT"] as? String == "state" })
        #expect(state["TCP_STATE_OLD"] as? String == "SYN_SENT")
        #expect(state["TCP_STATE_NEW"] as? String == "ESTABLISHED")
        let drop = try #require(eventRecords.first { $0["TCPLAB_EVENT"] as? String == "drop" })
        #expect(drop["TCPLAB_DROP_REASON"] as? String == "rule 1: drop the 1st ACK from client")
        let server = try #require(eventRecords.first { $0["TCPLAB_NODE"] as? String == "server" })
        #expect(server["TCPLAB_PLUGIN"] as? [String] == ["CounterISN", "LIFOAcceptQueue"])
        let finished = try #require(records.first { $0["MESSAGE_ID"] as? String == JournalMessageID.runFinished })
        #expect(finished["TCPLAB_VERDICT"] as? String == "fail")
        #expect(finished["TCPLAB_RECORDS"] as? String == "\(events.count)")
        #expect(records.contains { $0["MESSAGE_ID"] as? String == JournalMessageID.runStarted && ($0["TCPLAB_NODES"] as? [String])?.contains("mbox:middlebox") == true })

        // The reader: the same events, in the same order, equal field for field.
        let trail = try JournalReader.trail(run: info.runID, runDirectory: dir)
        #expect(trail.events == events)
        #expect(trail.sources == ["journal"])
        #expect(trail.missing.isEmpty)
        #expect(trail.problems.isEmpty, "\(trail.problems)")
        #expect(trail.topology == "third-ack-lost")
        #expect(trail.verdict == "fail")

        // And it is among the recent runs.
        let recent = try JournalReader.recentRuns(limit: 50, runsDirectory: nil)
        let listed = try #require(recent.first { $0.runID == info.runID })
        #expect(listed.topology == "third-ack-lost")
        #expect(listed.verdict == "fail")
        #expect(listed.records == events.count)
        #expect(listed.source == "journal")
        #expect(abs(listed.startedAt.timeIntervalSince(info.startedAt)) < 0.001)
    }

    @Test func loggerCallsLandWithTheirMetadataAsFields() throws {
        let id = freshRunID()
        let dir = temporaryRunDirectory("logger")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = WorkerJournal.writer(run: id, node: "server", role: "server", runDirectory: dir)
        var logger = Logger(label: "tcplab.worker.test") { JournalLogHandler(label: $0, writer: w) }
        logger[metadataKey: "interface"] = "eth0"
        logger.warning("listen queue overflow", metadata: ["backlog": "128", "request-id": .stringConvertible(42)])
        logger.debug("below the level: not written")
        let s = w.close()
        #expect(s.toJournal == 1)
        let records = journalctl(["TCPLAB_RUN=\(id)"])
        #expect(records.count == 1)
        let r = try #require(records.first)
        #expect(r["MESSAGE"] as? String == "listen queue overflow")
        #expect(r["PRIORITY"] as? String == "4")
        #expect(r["SYSLOG_IDENTIFIER"] as? String == "tcplab-worker")
        #expect(r["TCPLAB_NODE"] as? String == "server")
        #expect(r["TCPLAB_ROLE"] as? String == "server")
        #expect(r["TCPLAB_LOGGER"] as? String == "tcplab.worker.test")
        #expect(r["INTERFACE"] as? String == "eth0")
        #expect(r["BACKLOG"] as? String == "128")
        #expect(r["REQUEST_ID"] as? String == "42")
        #expect((r["CODE_FILE"] as? String)?.hasSuffix("JournaldTests.swift") == true)
        #expect(r["MESSAGE_ID"] as? String == JournalMessageID.logger)
    }

    /// A worker writes from inside its network namespace: the journal socket is a file, so the
    /// namespace does not matter. Joined the worker's way (setns in the process) and `ip netns exec`'s.
    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip"), "needs root for ip netns"))
    func aWorkerInsideANetworkNamespaceReachesJournald() throws {
        let ns = "tl-jt\(getpid() % 100_000)-\(UInt16.random(in: 0...UInt16.max))"
        #expect(run("/usr/sbin/ip", ["netns", "add", ns]).status == 0)
        defer { run("/usr/sbin/ip", ["netns", "del", ns]) }
        let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        for how in ["setns", "ip netns exec"] {
            let id = freshRunID()
            let dir = temporaryRunDirectory("netns")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let args = ["emit", "--run", id, "--dir", dir, "--count", "200", "--node", "client"]
            let r = how == "setns"
                ? run(helperPath, args + ["--netns", ns])
                : run("/usr/sbin/ip", ["netns", "exec", ns, helperPath] + args)
            #expect(r.status == 0, "\(how): \(r.err)")
            let out = parseHelper(r.out)
            #expect(out["netns"] as? String != ours, "\(how): the helper did not run in another network namespace")
            #expect(out["notice"] is NSNull, "\(how): \(out)")
            #expect(out["toJournal"] as? Int == 201, "\(how)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/journal.jsonl"))
            let records = journalctl(["TCPLAB_RUN=\(id)"])
            #expect(records.count == 201, "\(how)")
            #expect(records.allSatisfy { $0["_PID"] as? String == "\(out["pid"] as? Int ?? -1)" })
            #expect(records.allSatisfy { $0["SYSLOG_IDENTIFIER"] as? String == "tcplab-worker" })
            #expect(records.first { $0["TCPLAB_LOGGER"] != nil }?["NETNS"] as? String == out["netns"] as? String)
            let trail = try JournalReader.trail(run: id, runsDirectory: nil)
            #expect(trail.events.count == 200)
        }
    }

    /// journald goes away after some records: the rest go to the file, the user is told, and the
    /// reader puts journal and file together again.
    @Test func aSendErrorMidRunLosesNothing() throws {
        let events = sampleEvents(count: 300)
        let dir = temporaryRunDirectory("midrun-journald")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let info = RunInfo(runID: freshRunID(), topology: "handshake", directory: dir)
        let transport = FailingTransport(failAfter: 101, forward: true)
        let journal = RunJournal(run: info, transport: transport)
        journal.log(events)
        let report = journal.finish(verdict: "pass")
        #expect(report.writer.toJournal == 101)
        #expect(report.writer.toFile == 201)
        #expect(report.notices.count == 1)
        #expect(report.notices.first?.contains("the rest of the journal records of run \(info.runID) go to \(info.fallbackPath)") == true)
        #expect(report.found == events.count)
        #expect(journalctl(["TCPLAB_RUN=\(info.runID)"]).count == 101)
        let trail = try JournalReader.trail(run: info.runID, runsDirectory: nil)  // the journal names the run directory
        #expect(trail.sources == ["journal", info.fallbackPath])
        #expect(trail.events == events)
        #expect(trail.missing.isEmpty)
        #expect(trail.verdict == "pass")
    }

    @Test func followHandsOverRecordsAsTheyArrive() throws {
        let events = sampleEvents(count: 50)
        let info = RunInfo(runID: freshRunID(), topology: "handshake", directory: temporaryRunDirectory("follow"))
        defer { try? FileManager.default.removeItem(atPath: info.directory) }
        let writer = Thread {
            Thread.sleep(forTimeInterval: 0.3)
            _ = RunJournal.record(events, run: info, verdict: "pass", verify: false)
        }
        writer.start()
        var seen: [JournalEntry] = []
        let deadline = Date().addingTimeInterval(20)
        let end = try JournalReader.follow(run: info.runID, runDirectory: info.directory, fromStart: false,
                                           shouldStop: { Date() > deadline }) { seen.append($0) }
        #expect(end == .runFinished)
        #expect(seen.first?.isRunStarted == true)
        #expect(seen.compactMap(\.event) == events)
    }

    /// Two runs with one id (ids are short): the reader shows the later and says so.
    @Test func aReusedRunIDShowsTheLatestRun() throws {
        let id = freshRunID()
        let dir = temporaryRunDirectory("reuse")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let older = RunInfo(runID: id, topology: "old", directory: dir, startedAt: Date().addingTimeInterval(-60))
        _ = RunJournal.record(sampleEvents(count: 20), run: older, verdict: "fail", verify: false)
        let newer = RunInfo(runID: id, topology: "new", directory: dir)
        _ = RunJournal.record(sampleEvents(count: 5), run: newer, verdict: "pass", verify: false)
        let trail = try JournalReader.trail(run: id, runsDirectory: nil)
        #expect(trail.topology == "new")
        #expect(trail.events == sampleEvents(count: 5))
        #expect(trail.problems.contains { $0.contains("was used by 1 earlier run") })
    }

    /// journald's rate limit, for real: the helper joins a cgroup named like a service, so journald
    /// limits it (burst 100 a second here). The run's report says records are missing, and journald's
    /// own "Suppressed N messages from …" record is found once the limit's second has passed.
    @Test(.enabled("needs the journald started here (known rate limit) and a writable systemd cgroup hierarchy") {
        TestJournald.available && TestJournald.startedHere != nil && systemdCgroupHierarchy != nil
    })
    func journaldsRateLimitIsReportedNotHidden() throws {
        let unit = "tcplab-ratelimit-test-\(getpid()).service"
        let cgroup = "\(systemdCgroupHierarchy!)/\(unit)"
        try FileManager.default.createDirectory(atPath: cgroup, withIntermediateDirectories: false)
        defer { rmdir(cgroup) }
        let dir = temporaryRunDirectory("ratelimit")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let since = UInt64(Date().timeIntervalSince1970 * 1e6)
        let id = freshRunID()
        let r = run(helperPath, ["run", "--run", id, "--dir", dir, "--count", "3000", "--cgroup", cgroup])
        #expect(r.status == 0, "\(r.err)")
        let report = parseHelper(r.out)
        #expect(report["toJournal"] as? Int == 3002)  // sendv accepted every one: the loss is journald's
        #expect(report["complete"] as? Bool == false)
        let found = report["found"] as? Int ?? 3000
        #expect(found < 3000)
        let notices = report["notices"] as? [String] ?? []
        #expect(notices.contains { $0.hasPrefix("only \(found) of 3000 event records of run \(id) can be read back") }, "\(notices)")
        // journald says what it dropped with the next message it takes from the unit after the window.
        Thread.sleep(forTimeInterval: 1.2)
        let later = run(helperPath, ["emit", "--run", freshRunID(), "--dir", dir, "--count", "1", "--cgroup", cgroup])
        #expect(later.status == 0, "\(later.err)")
        let suppressed = JournalCheck.suppressedMessages(since: since)
        #expect(suppressed.contains { $0.contains("Suppressed") && $0.contains(unit) }, "\(suppressed)")
        let trail = try JournalReader.trail(run: id, runsDirectory: nil)
        #expect(trail.events.count == found)
        #expect(!trail.problems.isEmpty)
    }
}

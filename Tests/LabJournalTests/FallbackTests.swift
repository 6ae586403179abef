import Foundation
import LabControl
import LabJournal
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A transport that keeps the first `limit` entries in memory (a stand-in journald) and then fails
/// the way a stale journal socket does.
final class FailingTransport: JournalTransport, @unchecked Sendable {
    let limit: Int
    let forward: Bool
    private(set) var kept: [[String]] = []

    /// - Parameter forward: also send the first `limit` entries to the real journald.
    init(failAfter limit: Int, forward: Bool = false) {
        self.limit = limit
        self.forward = forward
    }

    func send(_ fields: UnsafeBufferPointer<iovec>) -> Int32 {
        guard kept.count < limit else { return -ECONNREFUSED }
        kept.append(fields.map { String(decoding: UnsafeRawBufferPointer(start: $0.iov_base, count: $0.iov_len), as: UTF8.self) })
        return forward ? SystemdJournalTransport().send(fields) : 0
    }
}

/// Without journald: the fallback file holds every record, and the user is told, once.
@Suite struct FallbackTests {
    @Test func withoutJournaldEveryRecordGoesToTheFileAndANoticeSaysSo() throws {
        let events = sampleEvents()
        let dir = temporaryRunDirectory("nojournald")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let info = RunInfo(runID: freshRunID(), topology: "handshake", directory: dir, nodes: sampleNodes, backend: "sim", seed: 1)
        let journal = RunJournal(run: info, socketPath: dir + "/no-such-socket")
        let notice = try #require(journal.notice)
        #expect(notice.hasPrefix("journald is not running (\(dir)/no-such-socket: no socket file): the journal records of run \(info.runID) go to \(dir)/journal.jsonl instead"))
        journal.log(events)
        let report = journal.finish(verdict: "pass")
        #expect(report.writer.toJournal == 0)
        #expect(report.writer.toFile == events.count + 2)  // run-started, the events, run-finished
        #expect(report.notices == [notice])  // said once
        #expect(report.found == events.count)
        #expect(report.complete)
        // One line per record; one event record per event.
        let entries = JournalReader.readFallbackFile(info.fallbackPath)
        let eventRecords = entries.filter { $0[JournalField.eventJSON] != nil }
        #expect(eventRecords.count == events.count)
        #expect(eventRecords.compactMap(\.index) == Array(0..<events.count))
        #expect(entries.allSatisfy { $0.runID == info.runID && $0[JournalField.topology] == "handshake" })
        // The reader gives back the same events, in order.
        let trail = try JournalReader.trail(run: info.runID, runDirectory: dir, useJournal: false)
        #expect(trail.events == events)
        #expect(trail.missing.isEmpty)
        #expect(trail.problems.isEmpty)
        #expect(trail.verdict == "pass")
        #expect(trail.sources == [info.fallbackPath])
    }

    @Test func theRunIsFoundInARunsDirectoryAndListed() throws {
        let runs = temporaryRunDirectory("runs")
        defer { try? FileManager.default.removeItem(atPath: runs) }
        var ids: [String] = []
        for (i, verdict) in ["pass", "fail"].enumerated() {
            let id = freshRunID()
            ids.append(id)
            let info = RunInfo(runID: id, topology: "topo\(i)", directory: "\(runs)/2026-01-0\(i + 1)-topo\(i)",
                               startedAt: Date(timeIntervalSince1970: 1_800_000_000 + Double(i)))
            _ = RunJournal.record(Array(sampleEvents(count: 10)), run: info, verdict: verdict, mode: .fileOnly(reason: "test"))
        }
        let runsList = try JournalReader.recentRuns(limit: 10, runsDirectory: runs, useJournal: false)
        #expect(runsList.map(\.runID) == ids.reversed())
        #expect(runsList.map(\.verdict) == ["fail", "pass"])
        #expect(runsList.map(\.topology) == ["topo1", "topo0"])
        #expect(runsList.first?.startedAt == Date(timeIntervalSince1970: 1_800_000_001))
        #expect(runsList.first?.records == 10)
        // Found by id alone, from the runs directory.
        let trail = try JournalReader.trail(run: ids[0], runsDirectory: runs, useJournal: false)
        #expect(trail.events == sampleEvents(count: 10))
    }

    @Test func aSendErrorMidRunSwitchesToTheFileAndIsReported() throws {
        let events = sampleEvents(count: 100)
        let dir = temporaryRunDirectory("midrun")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let transport = FailingTransport(failAfter: 41)
        let info = RunInfo(runID: freshRunID(), topology: "handshake", directory: dir)
        // The probe must find a listener for the writer to start on journald: a socket of our own.
        let socket = try BoundDatagramSocket(path: dir + "/fake-journal")
        let journal = RunJournal(run: info, socketPath: socket.path, transport: transport)
        #expect(journal.notice == nil)
        nonisolated(unsafe) var told: [String] = []
        journal.writer.onNotice = { told.append($0) }
        journal.log(events)
        let report = journal.finish(verdict: "pass", verify: false)
        #expect(report.writer.toJournal == 41)  // run-started and 40 events
        #expect(report.writer.toFile == events.count + 2 - 41)
        #expect(report.notices.count == 1)
        #expect(told == report.notices)
        #expect(report.notices.first?.hasPrefix("journald stopped taking records (sd_journal_sendv: Connection refused) after 41 sent by this writer") == true)
        // What "journald" got and what the file got are all the records, each once.
        let inJournal = transport.kept.compactMap { fields in fields.first { $0.hasPrefix("TCPLAB_INDEX=") }.flatMap { Int($0.dropFirst(13)) } }
        let inFile = JournalReader.readFallbackFile(info.fallbackPath).compactMap(\.index)
        #expect(inJournal == Array(0..<40))
        #expect(inFile == Array(40..<100))
    }

    @Test func aStaleSocketIsNotMistakenForJournald() throws {
        let dir = temporaryRunDirectory("stale")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path: String
        do {
            let s = try BoundDatagramSocket(path: dir + "/sock")
            path = s.path
            #expect(Journald.socketState(at: path) == .listening)
        }
        // Closed: the file stays, nothing reads it.
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(Journald.socketState(at: path) == .refused)
        #expect(Journald.socketState(at: dir + "/none") == .missing)
    }

    /// A real process with no journald at all: the helper in a mount namespace where
    /// /run/systemd/journal is an empty tmpfs. A bare sd_journal_sendv there "succeeds" and loses
    /// the entry; the writer notices and keeps every record in the file.
    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs root for unshare --mount"))
    func aProcessWithoutJournaldKeepsEveryRecordInTheFile() throws {
        let dir = temporaryRunDirectory("helper-nojournald")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hide = "mkdir -p /run/systemd/journal && mount -t tmpfs tcplab-test /run/systemd/journal && exec \"$0\" \"$@\""
        let probe = run("/usr/bin/unshare", ["--mount", "--propagation", "private", "sh", "-c", hide, helperPath, "probe"])
        #expect(probe.status == 0, "\(probe.err)")
        let p = parseHelper(probe.out)
        #expect(p["listening"] as? Bool == false)
        #expect(p["sendv"] as? Int == 0)  // the silent loss the writer guards against
        let id = freshRunID()
        let emit = run("/usr/bin/unshare", ["--mount", "--propagation", "private", "sh", "-c", hide, helperPath,
                                            "emit", "--run", id, "--dir", dir, "--count", "500"])
        #expect(emit.status == 0, "\(emit.err)")
        let e = parseHelper(emit.out)
        #expect((e["notice"] as? String)?.hasPrefix("journald is not running (/run/systemd/journal/socket: no socket file)") == true)
        #expect(e["toJournal"] as? Int == 0)
        #expect(e["toFile"] as? Int == 501)  // the Logger message and 500 events
        let entries = JournalReader.readFallbackFile(dir + "/journal.jsonl")
        #expect(entries.compactMap(\.index) == Array(0..<500))
        #expect(entries.filter { $0.messageID == JournalMessageID.logger }.count == 1)
        #expect(entries.allSatisfy { $0[JournalField.syslogIdentifier] == "tcplab-worker" && $0.runID == id })
    }

    @Test func tcplabJournalFileForcesTheFile() throws {
        let dir = temporaryRunDirectory("forced")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = run(helperPath, ["emit", "--run", freshRunID(), "--dir", dir, "--count", "3"], environment: ["TCPLAB_JOURNAL": "file"])
        #expect(r.status == 0, "\(r.err)")
        let e = parseHelper(r.out)
        #expect((e["notice"] as? String)?.hasPrefix("TCPLAB_JOURNAL=file is set: ") == true)
        #expect(e["toFile"] as? Int == 4)
    }
}

/// An AF_UNIX datagram socket bound at a path while the value lives (a listener for the probe).
final class BoundDatagramSocket {
    let path: String
    let fd: Int32

    init(path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sa.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
        }
        let r = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard r == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    deinit { close(fd) }
}

import Foundation
import LabControl
import LabJournal
import Logging
import Testing

/// What a record holds, without journald.
@Suite struct RecordTests {
    @Test func aSegmentRecordCarriesTheIssueFieldsAndTheWholeEvent() throws {
        var e = LabEvent(t: 1_000_000, node: "client", kind: "segment")
        e.dir = "out"
        e.src = "198.18.0.1:40000"
        e.dst = "198.18.0.2:80"
        e.flags = "S"
        e.seq = 4_294_967_295
        e.win = 64240
        e.len = 0
        e.tcpdump = "Flags [S], seq 4294967295, win 64240, length 0"
        let r = e.journalRecord(index: 7, node: NodeInfo(role: "client", plugins: ["CounterISN"]))
        #expect(r[JournalField.message] == "client sent 198.18.0.1:40000 > 198.18.0.2:80: Flags [S], seq 4294967295, win 64240, length 0")
        #expect(r[JournalField.priority] == "7")
        #expect(r[JournalField.messageID] == JournalMessageID.segment)
        #expect(r[JournalField.node] == "client")
        #expect(r[JournalField.role] == "client")
        #expect(r.values(JournalField.plugin) == ["CounterISN"])
        #expect(r[JournalField.event] == "segment")
        #expect(r[JournalField.timeNS] == "1000000")
        #expect(r[JournalField.index] == "7")
        #expect(r[JournalField.flags] == "S")
        #expect(r[JournalField.seq] == "4294967295")
        #expect(r[JournalField.ack] == nil)
        #expect(r[JournalField.win] == "64240")
        #expect(r[JournalField.local] == "198.18.0.1:40000")
        #expect(r[JournalField.remote] == "198.18.0.2:80")
        let json = try #require(r[JournalField.eventJSON])
        #expect(try JSONDecoder().decode(LabEvent.self, from: Data(json.utf8)) == e)
    }

    @Test func anIncomingSegmentHasItsEndsTurnedAround() {
        var e = LabEvent(t: 5, node: "server", kind: "segment")
        e.dir = "in"
        e.src = "198.18.0.1:40000"
        e.dst = "198.18.0.2:80"
        let r = e.journalRecord(index: 0)
        #expect(r[JournalField.local] == "198.18.0.2:80")
        #expect(r[JournalField.remote] == "198.18.0.1:40000")
        #expect(r[JournalField.message]?.hasPrefix("server received ") == true)
    }

    @Test func aStateRecordNamesOldAndNewStateAndTheConnection() {
        let e = sampleEvents(count: 4)[3]
        let r = e.journalRecord(index: 3)
        #expect(r[JournalField.stateOld] == "SYN_SENT")
        #expect(r[JournalField.stateNew] == "ESTABLISHED")
        #expect(r[JournalField.local] == "198.18.0.1:40000")
        #expect(r[JournalField.remote] == "198.18.0.2:80")
        #expect(r[JournalField.cause] == "SYN-ACK received")
        #expect(r[JournalField.priority] == "6")
        #expect(r[JournalField.message] == "client 198.18.0.1:40000-198.18.0.2:80 moved from SYN_SENT to ESTABLISHED (SYN-ACK received)")
    }

    @Test func aMiddleboxDropNamesItsRuleAndNoLocalEnd() {
        let e = sampleEvents(count: 5)[4]
        let r = e.journalRecord(index: 4)
        #expect(r[JournalField.dropReason] == "rule 1: drop the 1st ACK from client")
        #expect(r[JournalField.source] == "198.18.0.1:40000")
        #expect(r[JournalField.local] == nil)
        #expect(r[JournalField.stateOld] == nil)  // from/to of a drop are interfaces, not states
        #expect(r[JournalField.priority] == "5")
        #expect(r[JournalField.messageID] == JournalMessageID.drop)
    }

    @Test func timerAndCounterRecords() {
        let events = sampleEvents(count: 7)
        let timer = events[5].journalRecord(index: 5)
        #expect(timer[JournalField.timer] == "retransmit")
        #expect(timer[JournalField.message] == "server armed the retransmit timer for 1 s")
        let counter = events[6].journalRecord(index: 6)
        #expect(counter[JournalField.counter] == "TcpExtTCPTimeouts")
        #expect(counter[JournalField.value] == "6")
    }

    @Test func everyRecordKindHasOneIDAndEveryIDACatalogEntry() throws {
        let ids = JournalMessageID.all
        #expect(Set(ids).count == ids.count)
        for id in ids { #expect(id.count == 32 && id.allSatisfy(\.isHexDigit)) }
        let catalog = try String(contentsOfFile: catalogPath, encoding: .utf8)
        let entries = catalog.split(separator: "\n").filter { $0.hasPrefix("-- ") }.map { String($0.dropFirst(3)) }
        #expect(Set(entries) == Set(ids))
    }

    /// journalctl itself accepts the catalog: built into a database in a scratch root and listed.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/journalctl")))
    func journalctlBuildsTheCatalog() throws {
        let root = temporaryRunDirectory("catalog")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/usr/lib/systemd/catalog", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/var/lib/systemd/catalog", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: catalogPath, toPath: root + "/usr/lib/systemd/catalog/tcplab.catalog")
        #expect(run("/usr/bin/journalctl", ["--root=\(root)", "--update-catalog"]).status == 0)
        let listed = run("/usr/bin/journalctl", ["--root=\(root)", "--list-catalog"]).out
        for id in JournalMessageID.all { #expect(listed.contains("\(id) tcplab: TCPLab: ")) }
    }

    @Test func metadataKeysBecomeJournalFieldNames() {
        #expect(JournalLogHandler.fieldName("peer") == "PEER")
        #expect(JournalLogHandler.fieldName("request-id") == "REQUEST_ID")
        #expect(JournalLogHandler.fieldName("tcplab_node") == "TCPLAB_NODE")
        #expect(JournalLogHandler.fieldName("_private") == "PRIVATE")
        #expect(JournalLogHandler.fieldName("3rd") == "META_3RD")
        #expect(JournalLogHandler.fieldName("message") == "META_MESSAGE")
        #expect(JournalLogHandler.fieldName("") == "META_")
        #expect(JournalLogHandler.fieldName(String(repeating: "x", count: 80)).count == 64)
    }

    @Test func aFallbackLineReadsBackAsTheSameFields() throws {
        var r = JournalRecord()
        r.append("MESSAGE", "two\nlines with \"quotes\", a \\ and 第三次握手 \u{7}")
        r.append("TCPLAB_PLUGIN", "A")
        r.append("TCPLAB_PLUGIN", "B")
        r.append("TCP_SEQ", UInt32.max)
        let dir = temporaryRunDirectory("line")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = JournalWriter(options: .init(identifier: "tcplab-test", fallbackPath: dir + "/journal.jsonl", mode: .fileOnly(reason: "test")))
        w.write(r)
        w.close()
        let entries = JournalReader.readFallbackFile(dir + "/journal.jsonl")
        #expect(entries.count == 2)  // the file's opening notice, then the record
        #expect(entries[0].messageID == JournalMessageID.journalFallback)
        let back = try #require(entries.last)
        #expect(back[JournalField.message] == r[JournalField.message])
        #expect(back.fields["TCPLAB_PLUGIN"] == ["A", "B"])
        #expect(back["TCP_SEQ"] == "4294967295")
        #expect(back[JournalField.syslogIdentifier] == "tcplab-test")
    }

    @Test func aSmallQueueKeepsEveryRecordInOrder() throws {
        let dir = temporaryRunDirectory("queue")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = JournalWriter(options: .init(identifier: "tcplab-test", fallbackPath: dir + "/journal.jsonl",
                                             mode: .fileOnly(reason: "test"), queueLimit: 8))
        let n = 5000
        for i in 0..<n {
            var r = JournalRecord()
            r.append("N", i)
            if i % 2 == 0 { w.write(r) } else { w.write(contentsOf: [r]) }
        }
        let s = w.close()
        #expect(s.toFile == n)
        let numbers = JournalReader.readFallbackFile(dir + "/journal.jsonl").compactMap { $0["N"].flatMap { Int($0) } }
        #expect(numbers == Array(0..<n))
    }
}

extension RecordTests {
    @Test func aRecordWrittenAfterCloseIsNotDropped() throws {
        let dir = temporaryRunDirectory("late")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = JournalWriter(options: .init(identifier: "tcplab-test", fallbackPath: dir + "/journal.jsonl", mode: .fileOnly(reason: "test")))
        var r = JournalRecord()
        r.append("N", 1)
        w.write(r)
        w.close()
        r = JournalRecord()
        r.append("N", 2)
        w.write(r)
        #expect(w.currentSummary.toFile == 2)
        #expect(JournalReader.readFallbackFile(dir + "/journal.jsonl").compactMap { $0["N"] } == ["1", "2"])
    }
}

let catalogPath: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url = url.deletingLastPathComponent() }
    return url.appendingPathComponent("journal/tcplab.catalog").path
}()

/// The hand-written event JSON against JSONEncoder's.
@Suite struct EventJSONTests {
    @Test func labEventHasTheFieldsTheEncoderKnows() {
        // Fails when LabEvent gains or loses a property: add it to LabEvent+JSON.swift (until then every
        // record goes through JSONEncoder, exact but slower).
        #expect(LabEvent.fieldsAsKnown)
    }

    @Test func everyEventReadsBackEqualAndMatchesJSONEncodersObject() throws {
        var all = sampleEvents(count: 64)
        var full = LabEvent(t: .min, node: "n\"ode", kind: "segment")
        full.dir = "out"; full.src = "a/b"; full.dst = "c"; full.flags = "S."; full.seq = .max; full.ack = 0; full.win = .max
        full.len = .min; full.options = "x"; full.tcpdump = "y\t"; full.retransmission = 3; full.droppedBy = "rule"
        full.socket = .min; full.conn = "c"; full.from = "f"; full.to = "t"; full.cause = "c"; full.reason = "r"; full.name = "n"
        full.value = .max; full.error = "E"; full.message = "\u{0}\u{1F}é"
        all.append(full)
        for e in all {
            let ours = Data(e.journalJSON)
            #expect(try JSONDecoder().decode(LabEvent.self, from: ours) == e)
            let a = try JSONSerialization.jsonObject(with: ours) as? NSDictionary
            let b = try JSONSerialization.jsonObject(with: Data(e.jsonLine().utf8)) as? NSDictionary
            #expect(a == b)
        }
    }
}

// tcplab-journal-helper: writes TCPLab journal records from a process of its own, the way a worker
// does, so tests can run it where a worker runs — inside a lab network namespace (joined with
// setns first thing, as tcplab-worker does), or in a mount namespace that hides journald.
//
//   tcplab-journal-helper emit --run ID --dir DIR [--count N] [--node NAME] [--netns NS] [--socket PATH] [--cgroup DIR]
//   tcplab-journal-helper run --run ID --dir DIR [--count N] [--cgroup DIR]
//   tcplab-journal-helper probe
//   tcplab-journal-helper read --run ID [--dir DIR] [--runs DIR]
//
// `emit` writes N event records (TCPLAB_INDEX 0..N-1) and one swift-log message, then prints one JSON
// object: where the records went, the notice, the network namespace it wrote from.
// `run` journals a whole run of N counter events the coordinator's way (RunJournal) and prints its report.
// `probe` prints the journal socket's state and what a bare sd_journal_sendv returns.
// `read` reads a run back (JournalReader.trail) and prints counts and the time it took.
import CLabSys
import CSystemd
import Foundation
import LabControl
import LabJournal
import Logging

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tcplab-journal-helper: \(message)\n".utf8))
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
guard let command = args.first else { fail("usage: tcplab-journal-helper emit|probe …") }
args.removeFirst()
var options: [String: String] = [:]
while !args.isEmpty {
    let k = args.removeFirst()
    guard k.hasPrefix("--"), !args.isEmpty else { fail("bad argument \(k)") }
    options[String(k.dropFirst(2))] = args.removeFirst()
}

// Join the namespace before any thread starts, as tcplab-worker does.
if let ns = options["netns"] {
    let fd = open("/run/netns/\(ns)", O_RDONLY | O_CLOEXEC)
    guard fd >= 0, clab_setns_net(fd) == 0 else { fail("cannot join network namespace \(ns): \(String(cString: strerror(errno)))") }
    close(fd)
}

// Join a cgroup (journald names the unit, and applies its rate limit, from the cgroup path).
if let cgroup = options["cgroup"] {
    do {
        try "\(getpid())\n".write(toFile: cgroup + "/cgroup.procs", atomically: false, encoding: .utf8)
    } catch {
        fail("cannot join cgroup \(cgroup): \(error)")
    }
}

func netnsInode() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")) ?? "?"
}

func printJSON(_ object: [String: Any]) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

switch command {
case "emit":
    guard let run = options["run"], let dir = options["dir"] else { fail("emit needs --run and --dir") }
    let count = Int(options["count"] ?? "10") ?? 10
    let node = options["node"] ?? "client"
    let writer = WorkerJournal.writer(run: run, node: node, role: "client", runDirectory: dir, topology: "helper",
                                      socketPath: options["socket"] ?? Journald.socketPath)
    var logger = Logger(label: "tcplab.helper") { label in JournalLogHandler(label: label, writer: writer) }
    logger[metadataKey: "netns"] = "\(netnsInode())"
    logger.info("helper writing \(count) records", metadata: ["count": "\(count)"])
    for i in 0..<count {
        var e = LabEvent(t: Int64(i) * 1000, node: node, kind: "segment")
        e.dir = "out"
        e.src = "198.18.0.1:40000"
        e.dst = "198.18.0.2:80"
        e.flags = "S"
        e.seq = UInt32(i)
        e.win = 64240
        e.len = 0
        writer.write(e.journalRecord(index: i, node: NodeInfo(role: "client")))
    }
    let s = writer.close()
    printJSON([
        "notice": writer.notice ?? NSNull(), "notices": s.notices, "toJournal": s.toJournal, "toFile": s.toFile,
        "toStandardError": s.toStandardError, "netns": netnsInode(), "pid": Int(getpid()),
        "syncProblem": s.syncProblem ?? NSNull(),
    ])
case "run":
    guard let run = options["run"], let dir = options["dir"] else { fail("run needs --run and --dir") }
    let count = Int(options["count"] ?? "10") ?? 10
    let events = (0..<count).map { i -> LabEvent in
        var e = LabEvent(t: Int64(i) * 1000, node: "server", kind: "counter")
        e.name = "TcpExtListenOverflows"
        e.value = i
        return e
    }
    let r = RunJournal.record(events, run: RunInfo(runID: run, topology: "helper", directory: dir), verdict: "pass")
    printJSON(["eventRecords": r.eventRecords, "found": r.found ?? NSNull(), "toJournal": r.writer.toJournal,
               "toFile": r.writer.toFile, "notices": r.notices, "suppressed": r.suppressed, "complete": r.complete])
case "probe":
    let state = Journald.socketState()
    let fields: [String] = ["MESSAGE=tcplab-journal-helper probe", "SYSLOG_IDENTIFIER=tcplab-journal-helper"]
    let iov = fields.map { strdup($0)! }
    defer { iov.forEach { free($0) } }
    var vec = iov.map { iovec(iov_base: UnsafeMutableRawPointer($0), iov_len: strlen($0)) }
    let r = tcplab_journal_sendv(&vec, Int32(vec.count))
    printJSON(["socket": state.description, "listening": state == .listening, "sendv": Int(r), "netns": netnsInode()])
case "read":
    guard let run = options["run"] else { fail("read needs --run") }
    let start = Date()
    do {
        let trail = try JournalReader.trail(run: run, runDirectory: options["dir"], runsDirectory: options["runs"])
        printJSON(["events": trail.events.count, "records": trail.records.count, "missing": trail.missing.count,
                   "problems": trail.problems, "sources": trail.sources, "seconds": Date().timeIntervalSince(start)])
    } catch {
        fail("\(error)")
    }
default:
    fail("unknown command \(command)")
}

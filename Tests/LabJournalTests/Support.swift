import Foundation
import LabControl
import LabJournal

#if canImport(Glibc)
import Glibc
#endif

/// The journald the tests write to: the one already running (used as it is, never stopped), else one
/// started by hand (`HandStartedJournald`: /lib/systemd/systemd-journald) and stopped by its PID when
/// the test process exits.
///
/// The one started here limits each unit to `rateLimitBurst` messages a second (scaled by journald
/// with free space). journald limits per systemd unit, and no test process is in one — except the
/// rate-limit test's helper, which joins a cgroup named like a service to be limited on purpose.
enum TestJournald {
    static let rateLimitBurst = 100

    static let shared: Result<Void, TestSkip> = {
        switch HandStartedJournald.ensure(rateLimit: .limit(intervalSeconds: 1, burst: rateLimitBurst)) {
        case .alreadyRunning:
            return .success(())
        case .started(let j):
            startedHere = j
            atexit { TestJournald.startedHere?.stop() }
            return .success(())
        case .unavailable(let why):
            return .failure(TestSkip(reason: why))
        }
    }()

    nonisolated(unsafe) static var startedHere: HandStartedJournald?

    static var available: Bool {
        if case .failure(let e) = shared {
            FileHandle.standardError.write(Data("LabJournalTests: skipping the journald tests: \(e.reason)\n".utf8))
            return false
        }
        return true
    }
    static var unavailableReason: String {
        if case .failure(let e) = shared { return e.reason }
        return ""
    }

    struct TestSkip: Error { var reason: String }
}

/// A run id no other test uses.
func freshRunID(_ prefix: String = "jt") -> String {
    prefix + String(UInt64.random(in: 0..<UInt64.max), radix: 16)
}

/// A temporary run directory.
func temporaryRunDirectory(_ name: String) -> String {
    NSTemporaryDirectory() + "tcplab-journal-test-\(name)-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
}

/// Runs a program; returns its exit status, stdout and stderr.
@discardableResult
func run(_ path: String, _ args: [String], environment: [String: String]? = nil) -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    do { try p.run() } catch { return (-1, "", "\(error)") }
    // Read both pipes while it runs (a full pipe would stall it).
    nonisolated(unsafe) var errData = Data()
    let errReader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
    errReader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while !errReader.isFinished { usleep(1000) }
    return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// `journalctl MATCH… -o json`: one dictionary per record.
func journalctl(_ matches: [String]) -> [[String: Any]] {
    let r = run("/usr/bin/journalctl", ["--no-pager", "-o", "json"] + matches)
    return r.out.split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
}

/// The `tcplab-journal-helper` built beside this test bundle.
var helperPath: String {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<4 {
        let p = dir.appendingPathComponent("tcplab-journal-helper").path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
        dir = dir.deletingLastPathComponent()
    }
    return "tcplab-journal-helper"
}

/// The helper's one JSON line.
func parseHelper(_ out: String) -> [String: Any] {
    let line = out.split(separator: "\n").last.map(String.init) ?? ""
    return (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? [:]
}

/// Events of every kind a run produces, with text that needs escaping in JSON and in journal fields.
func sampleEvents(count: Int = 240) -> [LabEvent] {
    var out: [LabEvent] = []
    for i in 0..<count {
        let t = Int64(i) * 1_000_003
        switch i % 8 {
        case 0, 1, 2:
            var e = LabEvent(t: t, node: i % 2 == 0 ? "client" : "server", kind: "segment")
            e.dir = i % 2 == 0 ? "out" : "in"
            e.src = "198.18.0.1:40000"
            e.dst = "198.18.0.2:80"
            e.flags = ["S", "S.", "."][i % 3]
            e.seq = UInt32.max - UInt32(i)
            e.ack = i % 3 == 0 ? nil : UInt32(i)
            e.win = 64240
            e.len = 0
            e.options = "mss 1460,sackOK,nop,wscale 10"
            e.tcpdump = "Flags [\(e.flags!)], seq \(e.seq!), win 64240, length 0"
            e.socket = 3
            e.retransmission = i % 16 == 0 ? 1 : nil
            out.append(e)
        case 3:
            var e = LabEvent(t: t, node: "client", kind: "state")
            e.socket = 3
            e.conn = "198.18.0.1:40000-198.18.0.2:80"
            e.from = "SYN_SENT"
            e.to = "ESTABLISHED"
            e.cause = "SYN-ACK received"
            out.append(e)
        case 4:
            var e = LabEvent(t: t, node: "mbox", kind: "drop")
            e.dir = "through"
            e.src = "198.18.0.1:40000"
            e.dst = "198.18.0.2:80"
            e.flags = "."
            e.reason = "rule 1: drop the 1st ACK from client"
            e.from = "eth0"
            e.to = "eth1"
            out.append(e)
        case 5:
            var e = LabEvent(t: t, node: "server", kind: "timer")
            e.name = "retransmit"
            e.value = 1_000_000_000
            e.message = "armed"
            out.append(e)
        case 6:
            var e = LabEvent(t: t, node: "server", kind: "counter")
            e.name = "TcpExtTCPTimeouts"
            e.value = i
            out.append(e)
        default:
            var e = LabEvent(t: -t, node: "client", kind: i % 16 == 7 ? "error" : "log")
            e.error = i % 16 == 7 ? "ECONNREFUSED" : nil
            e.message = "line one\nline \"two\" \\ 第三次握手 \u{1}"
            out.append(e)
        }
    }
    return out
}

let sampleNodes: [String: NodeInfo] = [
    "client": NodeInfo(role: "client"),
    "mbox": NodeInfo(role: "middlebox"),
    "server": NodeInfo(role: "server", plugins: ["CounterISN", "LIFOAcceptQueue"]),
]

/// The cgroup hierarchy journald reads a process's unit from: cgroup2 at /sys/fs/cgroup (unified),
/// /sys/fs/cgroup/unified (hybrid: systemd's own hierarchy is the cgroup2 one), else the v1
/// name=systemd hierarchy (legacy). Nil when none is there to write to.
let systemdCgroupHierarchy: String? = {
    let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
    func isCgroup2(_ path: String) -> Bool {
        mounts.split(separator: "\n").contains { line in
            let f = line.split(separator: " ")
            return f.count > 2 && f[1] == path && f[2] == "cgroup2"
        }
    }
    for path in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] where isCgroup2(path) { return path }
    let legacy = "/sys/fs/cgroup/systemd"
    return FileManager.default.fileExists(atPath: legacy + "/cgroup.procs") ? legacy : nil
}()

import Foundation
import LabControl
import LabNetlink
import LabTopology

/// The package root, from this file's path (Tests/LabTopologyTests/Support.swift).
let packageRoot: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// Every shipped topology file.
let shippedTopologies: [String] = {
    let dir = "\(packageRoot)/Topologies"
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
}()

/// The scenarios the issue asks for, by file name.
let requiredScenarios = ["handshake", "third-ack-lost", "syn-lost", "bad-ack-in-syn-sent", "connection-refused", "accept-queue-overflow",
                         "accept-queue-overflow-abort", "syn-flood-cookies", "delayed-third-ack", "keepalive", "time-wait",
                         "fin-wait2-timeout", "simultaneous-open", "isn-predictable", "kernel-server", "kernel-client"]

/// Whether this process may build namespaces (CI runs as root).
var privileged: Bool { (try? Privileges.check()) != nil }

/// A fresh scratch directory for one run's output.
func scratchDirectory(_ name: String) -> String {
    NSTemporaryDirectory() + "tcplab-topo-\(name)-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
}

/// The build directory of this test bundle (where `tcplab` and `tcplab-worker` are built).
let buildDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path

/// Runs a built executable of this package, from the package root.
func runTool(_ name: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "\(buildDirectory)/\(name)")
    p.arguments = arguments
    p.currentDirectoryURL = URL(fileURLWithPath: packageRoot)
    if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    // Output to files, not pipes: a long JSON would fill a pipe and block the child.
    let base = NSTemporaryDirectory() + "tcplab-tool-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
    _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
    _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
    defer { for f in [base + ".out", base + ".err"] { try? FileManager.default.removeItem(atPath: f) } }
    p.standardOutput = FileHandle(forWritingAtPath: base + ".out")
    p.standardError = FileHandle(forWritingAtPath: base + ".err")
    try p.run()
    p.waitUntilExit()
    let o = FileManager.default.contents(atPath: base + ".out") ?? Data()
    let e = FileManager.default.contents(atPath: base + ".err") ?? Data()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// Namespaces of a run still present (should be none).
func leftovers(run: String) -> [String] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    p.arguments = ["netns", "list"]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = Pipe()
    try? p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map { String($0.split(separator: " ").first ?? "") }
        .filter { $0.hasPrefix("tl-\(run)-") }
}

/// The problems of a topology given as text (file name `bad.yaml`).
func problems(_ yaml: String, backend: Backend = .sim) -> [Diagnostic] {
    do {
        _ = try Topology.parse(yaml: yaml, file: "bad.yaml", backend: backend)
        return []
    } catch {
        return error.diagnostics
    }
}

/// 1-based line and column of the first occurrence of `needle` in `text` (on or after line `from`).
func position(of needle: String, in text: String, from line: Int = 1) -> (line: Int, column: Int) {
    for (i, l) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where i + 1 >= line {
        if let r = l.range(of: needle) { return (i + 1, l.distance(from: l.startIndex, to: r.lowerBound) + 1) }
    }
    return (0, 0)
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LabNetlink
import Testing

/// Real labs need root (or CAP_NET_ADMIN and CAP_SYS_ADMIN); without them the suites are skipped.
let canBuildLabs = (try? Privileges.check()) != nil

/// A run id no other test (or test process) uses: `t` and 4 random hex digits.
func uniqueRunID() -> String { "t" + LabNames.randomRunID() }

/// The output of a finished command.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a command to completion (bounded by `timeout` seconds, then SIGKILL) and returns its output.
@discardableResult
func sh(_ arguments: String..., timeout: Double = 10) throws -> CommandResult {
    try sh(arguments, timeout: timeout)
}

@discardableResult
func sh(_ arguments: [String], timeout: Double = 10) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    // Read concurrently so a chatty command cannot fill the pipe and stall.
    nonisolated(unsafe) var output = Data(), errors = Data()
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) { output = out.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) { errors = err.fileHandleForReading.readDataToEndOfFile() }
    while process.isRunning && Date() < deadline { usleep(5_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    group.wait()
    return CommandResult(status: process.terminationStatus,
                         stdout: String(decoding: output, as: UTF8.self), stderr: String(decoding: errors, as: UTF8.self))
}

/// The names `ip netns list` shows.
func listedNamespaces() throws -> [String] {
    try sh("ip", "netns", "list").stdout.split(separator: "\n").compactMap { line in
        line.split(separator: " ").first.map(String.init)
    }
}

/// Namespaces of run `run` that `ip netns list` still shows.
func namespaces(ofRun run: String) throws -> [String] {
    try listedNamespaces().filter { $0.hasPrefix("tl-\(run)-") }
}

/// Ledger files of run `run`.
func ledgerFiles(ofRun run: String) -> [String] {
    Ledger.files().map(\.path).filter { ($0 as NSString).lastPathComponent.hasPrefix("\(run).") }
}

/// Removes exactly the namespaces `tl-<run>-<node>` for `nodes`, if they exist: the safety net behind
/// every test, by name, never by pattern.
func removeNamespaces(run: String, nodes: [String]) {
    for node in nodes {
        let name = LabNames.namespace(run: run, node: node)
        if NetworkNamespace.exists(named: name) { _ = try? sh("ip", "netns", "del", name) }
    }
}

/// `ip -j` output decoded.
func ipJSON(_ arguments: String...) throws -> [[String: Any]] {
    let result = try sh(["ip", "-j"] + arguments)
    guard result.status == 0 else {
        Issue.record("ip \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        return []
    }
    return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]) ?? []
}

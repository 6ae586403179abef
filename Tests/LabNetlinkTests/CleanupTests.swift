#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LabNetlink
import TCPWire
import Testing

/// The roles a re-executed copy of this test binary plays (`TCPLAB_NETLINK_CHILD`):
/// - `hold <run> <ready-file>`: build a 3-node lab, create `<ready-file>`, then wait (at most 30 s) to be
///   killed; if nobody kills it, it tears the lab down itself.
/// - `build <run>`: try to build a lab and print the error, for runs without privileges.
let childRole = ProcessInfo.processInfo.environment["TCPLAB_NETLINK_CHILD"]
let childErrorMarker = "TCPLAB-CHILD-ERROR: "

@Suite struct ChildProcess {
    @Test(.enabled(if: childRole != nil, "runs only as a child of CleanupTests"))
    func playChildRole() throws {
        let words = (childRole ?? "").split(separator: " ").map(String.init)
        switch words.first {
        case "hold":
            let lab = try LabNetwork.build(run: words[1], plan: ChainTests.chainPlan())
            _ = FileManager.default.createFile(atPath: words[2], contents: Data("\(getpid())\n".utf8))
            for _ in 0..<300 { usleep(100_000) }
            try lab.teardown()
        case "build":
            do {
                _ = try LabNetwork.build(run: words[1], plan: .init(nodes: ["a", "b"], links: [.init("a", "eth0", "b", "eth0")]))
                print(childErrorMarker + "none")
            } catch {
                print(childErrorMarker + "\(error)")
            }
        default:
            Issue.record("unknown child role \(childRole ?? "")")
        }
    }

    /// Starts this test binary again in `role`, optionally under `wrapper` (for example setpriv).
    static func spawn(_ role: String, wrapper: [String] = [], output: FileHandle? = nil) throws -> Process {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrapper.isEmpty ? executable : "/usr/bin/env")
        process.arguments = wrapper + (wrapper.isEmpty ? [] : [executable])
            + ["--testing-library", "swift-testing", "--filter", "ChildProcess/playChildRole"]
        var environment = ProcessInfo.processInfo.environment
        environment["TCPLAB_NETLINK_CHILD"] = role
        process.environment = environment
        process.standardOutput = output ?? FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}

@Suite(.enabled(if: canBuildLabs && childRole == nil, "needs root, or CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct CleanupTests {
    @Test func cleanRemovesTheLabOfACreatorKilledWithSIGKILL() throws {
        let run = uniqueRunID()
        defer { removeNamespaces(run: run, nodes: ChainTests.nodes) }
        let ready = NSTemporaryDirectory() + "tcplab-netlink-\(run).ready"
        defer { unlink(ready) }

        let child = try ChildProcess.spawn("hold \(run) \(ready)")
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL) }; child.waitUntilExit() }
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: ready) && child.isRunning && Date() < deadline { usleep(20_000) }
        try #require(FileManager.default.fileExists(atPath: ready), "the child never reported its lab built")

        #expect(Set(try namespaces(ofRun: run)) == Set(ChainTests.nodes.map { "tl-\(run)-\($0)" }))
        let ledger = try #require(Ledger.files().first { $0.entries.first?.run == run })
        #expect(ledger.entries.allSatisfy { $0.creatorPID == child.processIdentifier })

        // While the creator lives, clean leaves its lab alone.
        let early = try LabCleanup.clean(runs: [run])
        #expect(early.removedNamespaces.isEmpty && early.skippedLiveRuns == ["\(run) (pid \(child.processIdentifier))"])
        #expect(try namespaces(ofRun: run).count == 3)

        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal)

        let report = try LabCleanup.clean(runs: [run])
        #expect(Set(report.removedNamespaces) == Set(ChainTests.nodes.map { "tl-\(run)-\($0)" }))
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(try namespaces(ofRun: run).isEmpty)
        #expect(ledgerFiles(ofRun: run).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: ledger.path))
    }

    @Test func cleanLeavesLiveLabsAndUnlistedNamespacesAlone() throws {
        let run = uniqueRunID()
        let nodes = ["a", "b", "stray"]
        defer { removeNamespaces(run: run, nodes: nodes) }
        // A namespace that looks like the lab's but is in no ledger.
        let stray = LabNames.namespace(run: run, node: "stray")
        #expect(try sh("ip", "netns", "add", stray).status == 0)

        let lab = try LabNetwork.build(run: run, plan: .init(nodes: ["a", "b"], links: [.init("a", "eth0", "b", "eth0")]))
        defer { try? lab.teardown() }
        let report = try LabCleanup.clean(runs: [run])
        #expect(report.removedNamespaces.isEmpty)
        #expect(report.skippedLiveRuns.count == 1)

        // Even with live creators included, only what the ledger lists goes.
        let forced = try LabCleanup.clean(runs: [run], includeLiveCreators: true)
        #expect(Set(forced.removedNamespaces) == [lab.namespaceName(of: "a"), lab.namespaceName(of: "b")])
        #expect(try namespaces(ofRun: run) == [stray])
        #expect(ledgerFiles(ofRun: run).isEmpty)
        // Teardown after a clean finds nothing left to do and does not fail.
        try lab.teardown()
    }

    @Test func withoutCapNetAdminTheErrorSaysWhatIsNeeded() throws {
        let run = uniqueRunID()
        defer { removeNamespaces(run: run, nodes: ["a", "b"]) }
        let pipe = Pipe()
        let child = try ChildProcess.spawn("build \(run)", wrapper: ["setpriv", "--bounding-set=-net_admin"],
                                           output: pipe.fileHandleForWriting)
        try pipe.fileHandleForWriting.close()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        let line = output.split(separator: "\n").first { $0.hasPrefix(childErrorMarker) }.map { $0.dropFirst(childErrorMarker.count) }
        let message = try #require(line, "child output: \(output.suffix(500))")
        #expect(message.contains("missing CAP_NET_ADMIN"), "\(message)")
        #expect(message.contains("run as root or with CAP_NET_ADMIN"), "\(message)")
        #expect(message.contains("--backend sim"), "\(message)")
        #expect(try namespaces(ofRun: run).isEmpty)
    }
}

import Foundation
import LabControl
import LabCoordinator
import TCPPolicy
import Testing

/// Plugins loaded by the workers with dlopen, in real network namespaces.
@Suite(.serialized, .enabled(if: privileged, "needs CAP_NET_ADMIN (CI runs as root)"))
struct PluginLabTests {
    /// 4.4BSD's predictable counter on the client: consecutive connections' ISNs differ by the increment
    /// (per-second 0, so time adds nothing) — exactly what RFC 6528 warns about.
    @Test func theCounterPluginMakesISNsPredictable() throws {
        var client = Plans.client()
        client.policies = ["isn": PolicySpec(name: "counter", parameters: ["increment": "64000", "per-second": "0", "start": "1000"])]
        let steps = [
            LabPlan.Step(at: .zero, node: "server", "listen", saveAs: "l") { $0.port = 80; $0.backlog = 128 },
            LabPlan.Step(at: .milliseconds(100), node: "client", "connect") { $0.to = "198.18.0.2:80" },
            LabPlan.Step(at: .milliseconds(200), node: "client", "connect") { $0.to = "198.18.0.2:80" },
            LabPlan.Step(at: .milliseconds(300), node: "client", "connect") { $0.to = "198.18.0.2:80" },
        ]
        let run = LabRun(plan: Plans.direct(client: client, server: Plans.server(), steps: steps), outputDirectory: Plans.outputDirectory("counter"))
        let result = try run.run()
        defer { removeUnlessKept(result.outputDirectory) }
        let isns = result.segments("client", "out", flags: "S").compactMap(\.seq)
        #expect(isns.count == 3)
        #expect(zip(isns, isns.dropFirst()).allSatisfy { $1 &- $0 == 64000 }, "ISNs \(isns)")
        #expect(leftovers(run: run.runID).isEmpty)
    }

    /// LIFO on the server: accept() returns the newest child, not the oldest (Linux's FIFO).
    @Test func lifoHandsAcceptTheNewestChild() throws {
        var server = Plans.server()
        server.policies = ["accept-queue": PolicySpec(name: "lifo")]
        let steps = [
            LabPlan.Step(at: .zero, node: "server", "listen", saveAs: "l") { $0.port = 80; $0.backlog = 128 },
            LabPlan.Step(at: .milliseconds(100), node: "client", "connect") { $0.to = "198.18.0.2:80"; $0.localPort = 40001 },
            LabPlan.Step(at: .milliseconds(200), node: "client", "connect") { $0.to = "198.18.0.2:80"; $0.localPort = 40002 },
            LabPlan.Step(at: .milliseconds(400), node: "server", "accept", socket: "l", saveAs: "first"),
        ]
        let run = LabRun(plan: Plans.direct(client: Plans.client(), server: server, steps: steps), outputDirectory: Plans.outputDirectory("lifo"))
        let result = try run.run()
        defer { removeUnlessKept(result.outputDirectory) }
        let accepted = try #require(result.stepReplies.first { $0.op == "accept" }?.reply.socket)
        // The child that accept() returned is the connection from port 40002, the newer one.
        let state = result.events.first { $0.node == "server" && $0.kind == "state" && $0.socket == accepted && $0.to == "ESTABLISHED" }
        #expect(state?.conn?.hasSuffix("198.18.0.1:40002") == true, "accepted \(state?.conn ?? "nothing")")
        #expect(leftovers(run: run.runID).isEmpty)
    }

    /// A plugin name nobody provides: the worker says so and the lab is torn down before the run.
    @Test func anUnknownPluginStopsTheRunBeforeItStarts() throws {
        var server = Plans.server()
        server.policies = ["accept-queue": PolicySpec(name: "no-such-plugin")]
        let run = LabRun(plan: Plans.direct(client: Plans.client(), server: server, steps: Plans.handshakeSteps()),
                         outputDirectory: Plans.outputDirectory("unknown-plugin"))
        #expect {
            _ = try run.run()
        } throws: { error in
            guard case let LabError.workerNotReady(node, detail) = error else { return false }
            return node == "server" && detail.contains("no-such-plugin")
        }
        try? FileManager.default.removeItem(atPath: run.outputDirectory)
        #expect(leftovers(run: run.runID).isEmpty)
    }

    /// A worker running a plugin dies: the run names the plugin and the lab goes.
    @Test func aDeadWorkerIsReportedWithItsPlugin() throws {
        var server = Plans.server()
        server.policies = ["accept-queue": PolicySpec(name: "lifo")]
        let plan = Plans.direct(client: Plans.client(), server: server,
                                steps: Plans.handshakeSteps() + [LabPlan.Step(at: .seconds(3), node: "client", "counters")])
        let run = LabRun(plan: plan, outputDirectory: Plans.outputDirectory("plugin-crash"))
        #expect {
            _ = try run.run { r in kill(r.workerPIDs["server"]!, SIGSEGV) }
        } throws: { error in
            guard case let LabError.workerDied(node, detail) = error else { return false }
            return node == "server" && detail.contains("lifo (accept-queue)")
        }
        try? FileManager.default.removeItem(atPath: run.outputDirectory)
        #expect(leftovers(run: run.runID).isEmpty)
    }
}

import Foundation
import LabControl
import LabCoordinator
import TCPPolicy
import Testing

/// The middlebox's packet rings at their edges: frames larger than a ring slot (2048 bytes) cross
/// whole in both directions, taking the slow road (the socket's queue in, a plain socket out) in
/// order with the rest; and the middlebox reports losing none of them itself.
@Suite(.serialized, .enabled(if: privileged, "needs CAP_NET_ADMIN (CI runs as root)"))
struct MiddleboxRingTests {
    /// 8000 bytes each way between two kernel stacks over MTU 9000 links: one 8066-byte frame per
    /// direction, four times a slot.
    @Test func jumboFramesCrossWholeBothWays() throws {
        let client = Plans.client(.kernelClient), server = Plans.server(.kernelServer)
        let request = String(repeating: "q", count: 8000), response = String(repeating: "r", count: 8000)
        let plan = LabPlan(
            name: "jumbo", nodes: [client, Plans.middlebox(), server],
            links: [LabPlan.Link(("client", "eth0"), ("mbox", "eth0"), mtu: 9000),
                    LabPlan.Link(("mbox", "eth1"), ("server", "eth0"), mtu: 9000)],
            steps: [
                LabPlan.Step(at: .zero, node: "server", "listen", saveAs: "l") { $0.port = 80; $0.backlog = 16 },
                LabPlan.Step(at: .milliseconds(100), node: "client", "connect", saveAs: "c") { $0.to = "198.18.0.2:80" },
                LabPlan.Step(at: .milliseconds(300), node: "server", "accept", socket: "l", saveAs: "a"),
                LabPlan.Step(at: .milliseconds(400), node: "client", "send", socket: "c") { $0.data = request },
                LabPlan.Step(at: .milliseconds(400), node: "server", "send", socket: "a") { $0.data = response },
                LabPlan.Step(at: .milliseconds(700), node: "server", "recv", socket: "a"),
                LabPlan.Step(at: .milliseconds(700), node: "client", "recv", socket: "c"),
            ])
        let run = LabRun(plan: plan, outputDirectory: Plans.outputDirectory("jumbo"))
        let result = try run.run()
        defer { removeUnlessKept(result.outputDirectory) }
        let received = result.stepReplies.filter { $0.op == "recv" }.map { ($0.node, $0.reply.data ?? "") }
        #expect(received.first { $0.0 == "server" }?.1 == request, "the server got \(received.first { $0.0 == "server" }?.1.count ?? 0) bytes")
        #expect(received.first { $0.0 == "client" }?.1 == response, "the client got \(received.first { $0.0 == "client" }?.1.count ?? 0) bytes")
        // One segment each way carried all 8000 bytes: the frame was never cut at a slot.
        #expect(result.segments("server", "in").contains { $0.len == 8000 })
        #expect(result.segments("client", "in").contains { $0.len == 8000 })
        let counters = try #require(result.counters["mbox"])
        #expect(counters["Forwarded0to1"] ?? 0 >= 4 && counters["Forwarded1to0"] ?? 0 >= 3, "\(counters)")
        // The middlebox lost nothing itself (these counters appear only when it does).
        for key in ["RingDrops0", "RingDrops1", "SendFailures0", "SendFailures1"] {
            #expect(counters[key] == nil, "\(key) in \(counters)")
        }
        // The captures hold the whole frames too: each side's pcap has both 8066-byte frames.
        for name in ["mbox-eth0.pcap", "mbox-eth1.pcap"] {
            let path = try #require(result.pcaps.first { $0.hasSuffix(name) })
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            #expect(size > 2 * 8066, "\(name) is \(size) bytes")
        }
        #expect(leftovers(run: run.runID).isEmpty)
    }
}

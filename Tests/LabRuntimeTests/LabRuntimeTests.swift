import Foundation
import LabControl
import LabCoordinator
import TCPPolicy
import Testing

/// The lab end to end, in real network namespaces joined by real veths (root, as CI runs).
@Suite(.serialized, .enabled(if: privileged, "needs CAP_NET_ADMIN (CI runs as root)"))
struct LabRuntimeTests {
    @Test func ourClientAndOurServerThroughTheMiddlebox() throws {
        let run = LabRun(plan: Plans.throughMiddlebox(steps: Plans.handshakeSteps()), outputDirectory: Plans.outputDirectory("mbox"))
        let result = try run.run()
        defer { removeUnlessKept(result.outputDirectory) }
        // The handshake as a trace shows it.
        let syn = try #require(result.segments("client", "out", flags: "S").first)
        let synAck = try #require(result.segments("server", "out", flags: "S.").first)
        let ack = try #require(result.segments("client", "out", flags: ".").first)
        #expect(syn.options == "mss 1460,sackOK,TS val \(tsval(syn)) ecr 0,nop,wscale 10")
        #expect(syn.win == 64240)
        #expect(synAck.ack == syn.seq! &+ 1)
        #expect(synAck.win == 65160)
        #expect(ack.ack == synAck.seq! &+ 1)
        #expect(ack.win == 63)
        #expect(result.states("client").map { $0.to ?? "" } == ["SYN_SENT", "ESTABLISHED"])
        #expect(result.states("server").contains { $0.to == "ESTABLISHED" })
        let accept = try #require(result.stepReplies.first { $0.op == "accept" })
        #expect(accept.reply.socket != nil)
        // Every frame crossed the middlebox: its captures hold the three segments on both sides.
        #expect(result.pcaps.contains { $0.hasSuffix("mbox-eth0.pcap") })
        #expect(result.counters["mbox"]?["Forwarded0to1"] ?? 0 >= 2)
        #expect(leftovers(run: run.runID).isEmpty)
    }

    @Test func ourClientAgainstTheKernelServer() throws {
        let plan = Plans.direct(client: Plans.client(), server: Plans.server(.kernelServer), steps: Plans.handshakeSteps())
        let run = LabRun(plan: plan, outputDirectory: Plans.outputDirectory("kserver"))
        let result = try run.run()
        defer { removeUnlessKept(result.outputDirectory) }
        // (The kernel server's FIN when its worker exits at the end may follow; the run is over by then.)
        #expect(Array(result.states("client").map { $0.to ?? "" }.prefix(2)) == ["SYN_SENT", "ESTABLISHED"])
        // The kernel's SYN-ACK, as Linux 6.18 builds it.
        let synAck = try #require(result.segments("client", "in", flags: "S.").first)
        #expect(synAck.win == 65160)
        #expect(synAck.options?.hasPrefix("mss 1460,sackOK,TS val ") == true)
        #expect(synAck.options?.hasSuffix(",nop,wscale 10") == true)
        // Our third ACK, scaled as Linux scales it.
        let ack = try #require(result.segments("client", "out", flags: ".").first)
        #expect(ack.win == 63)
        #expect(result.stepReplies.first { $0.op == "accept" }?.reply.ok == true)
        #expect(leftovers(run: run.runID).isEmpty)
    }

    @Test func theKernelClientAgainstOurServer() throws {
        let plan = Plans.direct(client: Plans.client(.kernelClient), server: Plans.server(), steps: Plans.handshakeSteps())
        let run = LabRun(plan: plan, outputDirectory: Plans.outputDirectory("kclient"))
        let result = try run.run()
        defer { removeUnlessKept(result.outputDirectory) }
        let syn = try #require(result.segments("server", "in", flags: "S").first)
        #expect(syn.win == 64240)
        #expect(syn.options?.hasSuffix(",nop,wscale 10") == true)
        let synAck = try #require(result.segments("server", "out", flags: "S.").first)
        #expect(synAck.win == 65160)
        #expect(synAck.options?.contains("sackOK") == true)
        #expect(result.events.contains { $0.node == "client" && $0.kind == "connected" })
        #expect(result.states("server").contains { $0.to == "ESTABLISHED" })
        #expect(result.stepReplies.first { $0.op == "accept" }?.reply.socket != nil)
        #expect(leftovers(run: run.runID).isEmpty)
    }

    /// The client's pure ACKs never reach the server: its SYN-ACK goes out at 0, 1 and 3 s
    /// (tcp_synack_retries = 2) and the request is dropped silently at 7 s.
    @Test func theThirdAckLostThroughTheMiddlebox() throws {
        let dropAcks = ImpairmentSpec(rules: [RuleSpec(flags: ".", len: 0, action: "drop", name: "drop every pure ACK from the client")])
        let plan = Plans.throughMiddlebox(middlebox: Plans.middlebox(clientToServer: dropAcks),
                                          server: Plans.server(sysctl: ["tcp_synack_retries": 2]),
                                          steps: Plans.handshakeSteps(acceptAt: .milliseconds(7600)), duration: .milliseconds(7800))
        let run = LabRun(plan: plan, outputDirectory: Plans.outputDirectory("ack-lost"))
        let result = try run.run()
        defer { removeUnlessKept(result.outputDirectory) }
        let synAcks = result.segments("server", "out", flags: "S.")
        #expect(synAcks.count == 3)
        if synAcks.count == 3 {
            let t0 = synAcks[0].t
            let gaps = synAcks.map { Double($0.t - t0) / 1e9 }
            #expect(abs(gaps[1] - 1) < 0.1 && abs(gaps[2] - 3) < 0.1, "SYN-ACKs at \(gaps)")
        }
        #expect(result.events.contains { $0.node == "mbox" && $0.kind == "drop" && $0.reason == "drop every pure ACK from the client" })
        #expect(result.states("client").last?.to == "ESTABLISHED")
        #expect(result.events.contains { $0.node == "server" && $0.kind == "request" && $0.cause == "SYN-ACK retries exhausted" })
        #expect(result.stepReplies.first { $0.op == "accept" }?.reply.error == "EAGAIN")
        #expect(leftovers(run: run.runID).isEmpty)
    }

    /// SIGTERM (as Ctrl-C would send SIGINT) to a running `tcplab run`: it stops at once, says it was
    /// interrupted, and leaves no namespace, link, worker or ledger entry behind. Run in a child process,
    /// because a signal to this process would stop every lab the other suites are running.
    @Test func sigtermTearsTheLabDown() throws {
        let tcplab = URL(fileURLWithPath: LabRun.defaultWorkerPath()).deletingLastPathComponent().appendingPathComponent("tcplab").path
        try #require(FileManager.default.isExecutableFile(atPath: tcplab), "tcplab is built with the tests")
        let out = Plans.outputDirectory("sigterm")
        let child = Process()
        child.executableURL = URL(fileURLWithPath: tcplab)
        child.arguments = ["run", "--backend", "netns", "--out", out, topologyPath("third-ack-lost.yaml")]
        let output = Pipe()
        child.standardOutput = output
        child.standardError = output
        try child.run()
        // The child's ledger file names its run: /run/tcplab/ledger/<run>.<pid>.jsonl.
        var run: String?
        for _ in 0..<500 where run == nil {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: "/run/tcplab/ledger")) ?? []
            run = files.first { $0.hasSuffix(".\(child.processIdentifier).jsonl") }.map { String($0.split(separator: ".")[0]) }
            usleep(10_000)
        }
        let runID = try #require(run, "the child never recorded a lab in the ledger")
        usleep(1_500_000)
        let started = Date()
        kill(child.processIdentifier, SIGTERM)
        child.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(Date().timeIntervalSince(started) < 5, "tcplab should stop at the signal")
        #expect(child.terminationStatus == 3, "exit status \(child.terminationStatus): \(text)")
        #expect(text.contains("interrupted by signal 15"), "\(text)")
        #expect(leftovers(run: runID).isEmpty)
        let ledgers = (try? FileManager.default.contentsOfDirectory(atPath: "/run/tcplab/ledger")) ?? []
        #expect(!ledgers.contains { $0.hasPrefix(runID + ".") })
        try? FileManager.default.removeItem(atPath: out)
    }

    @Test func aKilledWorkerLeavesNothingBehind() throws {
        let plan = Plans.throughMiddlebox(steps: Plans.handshakeSteps() + [LabPlan.Step(at: .seconds(3), node: "client", "counters")])
        let run = LabRun(plan: plan, outputDirectory: Plans.outputDirectory("killed"))
        var pids: [Int32] = []
        #expect(throws: LabError.self) {
            _ = try run.run { r in
                pids = Array(r.workerPIDs.values)
                kill(r.workerPIDs["server"]!, SIGKILL)
            }
        }
        try? FileManager.default.removeItem(atPath: run.outputDirectory)
        #expect(leftovers(run: run.runID).isEmpty)
        for pid in pids { #expect(kill(pid, 0) != 0, "worker \(pid) still running") }
    }
}

private func tsval(_ e: LabEvent) -> String {
    guard let o = e.options, let r = o.range(of: "TS val ") else { return "?" }
    return String(o[r.upperBound...].prefix { $0.isNumber })
}

import Foundation
import LabCoordinator
import LabNetlink
import LabTopology
import Testing

/// Every shipped topology, run in LabSim in this process.
@Suite("Shipped topologies in LabSim")
struct ShippedTopologiesInSim {
    @Test("Topologies/ ships every scenario of the issue, each opening with what it shows and the kernel functions")
    func scenarios() throws {
        for name in requiredScenarios {
            #expect(shippedTopologies.contains("\(name).yaml"), "missing Topologies/\(name).yaml")
        }
        for file in shippedTopologies {
            let text = try String(contentsOfFile: "\(packageRoot)/Topologies/\(file)", encoding: .utf8)
            let comments = text.split(separator: "\n").prefix { $0.hasPrefix("#") }.joined(separator: "\n")
            #expect(comments.contains("Shows:"), "\(file) does not say what it shows")
            #expect(comments.contains("Kernel functions:"), "\(file) does not name the kernel functions it exercises")
        }
    }

    @Test("passes with --backend sim", arguments: shippedTopologies)
    func passes(_ file: String) throws {
        let topology = try Topology.load(path: "\(packageRoot)/Topologies/\(file)", backend: .sim)
        let dir = scratchDirectory("sim-\(topology.name)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try TopologyRunner.run(topology, options: RunOptions(backend: .sim, outputDirectory: dir))
        for r in report.results where !r.passed { Issue.record("\(file): FAIL \(r.text): \(r.detail)") }
        let passed = report.passed
        #expect(passed)
        for name in ["result.json", "events.jsonl", "ladder.svg", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: "\(dir)/\(name)"), "\(name) missing")
        }
        #expect(report.record.pcaps.count == 1 && FileManager.default.fileExists(atPath: report.record.pcaps[0]))
    }

    @Test("the same seed gives the same run, to the nanosecond")
    func deterministic() throws {
        let topology = try Topology.load(path: "\(packageRoot)/Topologies/third-ack-lost.yaml", backend: .sim)
        let a = scratchDirectory("det-a"), b = scratchDirectory("det-b")
        defer { for d in [a, b] { try? FileManager.default.removeItem(atPath: d) } }
        let r1 = try TopologyRunner.run(topology, options: RunOptions(backend: .sim, seed: 7, outputDirectory: a, runID: "x"))
        let r2 = try TopologyRunner.run(topology, options: RunOptions(backend: .sim, seed: 7, outputDirectory: b, runID: "x"))
        #expect(r1.record.events == r2.record.events)
        let r3 = try TopologyRunner.run(topology, options: RunOptions(backend: .sim, seed: 8, outputDirectory: b, runID: "x"))
        #expect(r1.record.events != r3.record.events)
    }

    @Test("kernel-* roles run TCPLab's engine in the sim, and the run says so")
    func kernelStandIn() throws {
        let topology = try Topology.load(path: "\(packageRoot)/Topologies/kernel-server.yaml", backend: .sim)
        let dir = scratchDirectory("kstand")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try TopologyRunner.run(topology, options: RunOptions(backend: .sim, outputDirectory: dir))
        #expect(report.record.notes.contains { $0.contains("LabSim stands in for the Linux kernel") })
    }
}

/// Every shipped topology that runs on netns, in real network namespaces (root; CI runs as root), one
/// after the other. Each run is kept under ~10 s by its `netns:` overlay.
@Suite("Shipped topologies in network namespaces", .serialized, .enabled(if: privileged, "needs CAP_NET_ADMIN (CI runs as root)"))
struct ShippedTopologiesInNetns {
    static let files = shippedTopologies.filter { file in
        (try? Topology.load(path: "\(packageRoot)/Topologies/\(file)", backend: .sim))?.backends.contains(.netns) ?? true
    }

    @Test("passes with --backend netns", arguments: files)
    func passes(_ file: String) throws {
        let topology = try Topology.load(path: "\(packageRoot)/Topologies/\(file)", backend: .netns)
        #expect(topology.duration <= .seconds(10), "\(file): keep netns runs under 10 s")
        let dir = scratchDirectory("netns-\(topology.name)")
        defer { if ProcessInfo.processInfo.environment["TCPLAB_KEEP_RUNS"] == nil { try? FileManager.default.removeItem(atPath: dir) } }
        let start = Date()
        var runID = ""
        let report = try TopologyRunner.run(topology, options: RunOptions(backend: .netns, outputDirectory: dir)) { runID = $0 }
        print("netns \(topology.name): \(String(format: "%.1f", Date().timeIntervalSince(start))) s, \(report.verdict)")
        for r in report.results where !r.passed { Issue.record("\(file): FAIL \(r.text): \(r.detail)") }
        let passed = report.passed
        #expect(passed)
        #expect(leftovers(run: runID).isEmpty)
        #expect(report.record.pcaps.count >= 2)
    }

    @Test("a scenario marked for the sim only says why it does not run here")
    func simOnly() throws {
        let yaml = goodTopology.replacingOccurrences(of: "name: t\n", with: "name: t\nbackends: [sim]  # only the sim can play this\n")
        let t = try Topology.parse(yaml: yaml, file: "t.yaml", backend: .netns)
        #expect(t.backends == [.sim])
        #expect(t.backendsReason == "only the sim can play this")
        #expect(throws: RunFailure.self) { try TopologyRunner.run(t, options: RunOptions(backend: .netns, outputDirectory: scratchDirectory("x"))) }
    }
}

import Foundation
import LabControl
import LabCoordinator
import TCPPolicy
import Testing

/// A node's placement (`cpus`, `low-latency`) as the kernel sees it while the lab runs: the worker's
/// allowed CPUs in /proc, the CPU latency request in /dev/cpu_dma_latency; and gone with the worker.
@Suite(.serialized, .enabled(if: privileged, "needs CAP_NET_ADMIN (CI runs as root)"))
struct PlacementTests {
    /// The kernel's current CPU latency target in µs (the strictest request held).
    static func latencyTarget() throws -> Int32 {
        let handle = try #require(FileHandle(forReadingAtPath: "/dev/cpu_dma_latency"))
        defer { try? handle.close() }
        let bytes = try #require(try handle.read(upToCount: 4))
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
    }

    @Test func theMiddleboxRunsOnItsCPUsHoldingTheLatencyRequestAndLetsGoAfter() throws {
        let cpu = ProcessInfo.processInfo.activeProcessorCount - 1
        let before = try Self.latencyTarget()
        var middlebox = Plans.middlebox()
        middlebox.placement = Placement(cpus: [cpu], lowLatency: true)
        let run = LabRun(plan: Plans.throughMiddlebox(middlebox: middlebox, steps: Plans.handshakeSteps()),
                         outputDirectory: Plans.outputDirectory("placement"))
        var allowed = "", clientAllowed = "", target: Int32 = -1
        let result = try run.run { lab in
            func cpusAllowed(_ node: String) -> String {
                guard let pid = lab.workerPIDs[node],
                      let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return "" }
                return status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
                    .map { $0.split(separator: "\t").last.map(String.init) ?? "" } ?? ""
            }
            allowed = cpusAllowed("mbox")
            clientAllowed = cpusAllowed("client")
            target = (try? Self.latencyTarget()) ?? -1
        }
        defer { removeUnlessKept(result.outputDirectory) }
        #expect(allowed == "\(cpu)")
        #expect(clientAllowed != "\(cpu)" || cpu == 0, "the client was not placed: it keeps the machine's CPUs")
        #expect(target == 0, "while the middlebox runs, idle CPUs are asked to wake in 0 µs")
        #expect(try Self.latencyTarget() == before, "the request ends with the worker")
        // And the middlebox still forwards: the handshake completes through it.
        #expect(result.states("client").last?.to == "ESTABLISHED")
        #expect(leftovers(run: run.runID).isEmpty)
    }

    @Test func aCPUTheMachineDoesNotHaveStopsTheRunNamingTheNode() throws {
        var middlebox = Plans.middlebox()
        middlebox.placement = Placement(cpus: [1000])
        let run = LabRun(plan: Plans.throughMiddlebox(middlebox: middlebox, steps: Plans.handshakeSteps()),
                         outputDirectory: Plans.outputDirectory("placement-bad"))
        defer { removeUnlessKept(run.outputDirectory) }
        #expect {
            _ = try run.run()
        } throws: { error in
            let text = "\(error)"
            return text.contains("mbox") && text.contains("cpu") && text.contains("choose cpus")
        }
        #expect(leftovers(run: run.runID).isEmpty)
    }
}

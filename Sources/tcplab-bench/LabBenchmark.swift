import CLabSys
import Foundation
import LabControl
import LabCoordinator
import LabNetlink
import TCPPolicy
import TCPWire

/// Figures of issue "Lab runtime": handshakes per second, our client ↔ our server over one veth, against
/// the Linux kernel ↔ kernel on the same topology in the same run; and the middlebox's forwarding rate
/// and added latency. Needs root.
enum LabBenchmark {
    static let seconds = 3

    static func tool(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent(name).path
    }

    /// Runs `tcplab-kload` with arguments; returns its stdout.
    @discardableResult
    static func kload(_ args: [String], background: Bool = false) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool("tcplab-kload"))
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        if !background { p.waitUntilExit() }
        return (p, out)
    }

    static func output(_ pipe: Pipe) -> String { String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }

    /// "key value key value" → value of `key`.
    static func field(_ text: String, _ key: String) -> Double? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard let i = words.firstIndex(where: { $0 == key }), i + 1 < words.count else { return nil }
        return Double(words[i + 1])
    }

    static func handshakeRate() {
        guard (try? Privileges.check()) != nil else { print("lab: needs root"); return }
        do {
            let kernel = try kernelRate()
            let ours = try ourRate()
            print("lab: handshakes/s over one veth, \(seconds) s, 64 in flight (connect, accept, server close, client close): kernel↔kernel \(fmt(kernel)), ours↔ours \(fmt(ours)), ratio \(fmt(ours / kernel * 100) )%")
        } catch {
            print("lab: handshake-rate benchmark failed: \(error)")
        }
    }

    static func kernelRate() throws -> Double {
        let run = LabNames.randomRunID()
        let plan = LabNetwork.Plan(nodes: ["a", "b"], links: [LabNetwork.Link("a", "eth0", "b", "eth0")],
                                   addresses: [LabNetwork.Address("a", "eth0", IPv4Interface("198.18.0.1/24")!),
                                               LabNetwork.Address("b", "eth0", IPv4Interface("198.18.0.2/24")!)])
        let net = try LabNetwork.build(run: run, plan: plan)
        defer { try? net.teardown() }
        let (server, serverOut) = try kload(["server", LabNames.namespace(run: run, node: "b"), "198.18.0.2", "80", "\(seconds + 4)"], background: true)
        defer { server.terminate(); server.waitUntilExit() }
        _ = serverOut.fileHandleForReading.availableData  // "ready"
        let (_, out) = try kload(["client", LabNames.namespace(run: run, node: "a"), "198.18.0.2", "80", "64", "\(seconds)"])
        let text = output(out)
        guard let rate = field(text, "rate") else { throw LabError.build("kload client said: \(text)") }
        return rate
    }

    static func ourRate() throws -> Double {
        let plan = LabPlan(
            name: "rate",
            nodes: [
                .init(name: "client", role: .client, interfaces: [InterfaceSpec(name: "eth0", mac: "02:00:00:00:00:01", address: "198.18.0.1/24")]),
                .init(name: "server", role: .server, interfaces: [InterfaceSpec(name: "eth0", mac: "02:00:00:00:00:02", address: "198.18.0.2/24")]),
            ],
            links: [LabPlan.Link(("client", "eth0"), ("server", "eth0"))],
            steps: [
                .init(at: .zero, node: "server", "listen", saveAs: "l") { $0.port = 80; $0.backlog = 4096 },
                .init(at: .milliseconds(1), node: "server", "autoaccept", socket: "l"),
                .init(at: .milliseconds(100), node: "client", "loadgen") { $0.to = "198.18.0.2:80"; $0.value = 64; $0.seconds = seconds },
                .init(at: .milliseconds(Int64(seconds) * 1000 + 600), node: "client", "loadstats"),
            ])
        let dir = NSTemporaryDirectory() + "tcplab-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = LabRun(plan: plan, outputDirectory: dir, workerPath: tool("tcplab-worker"))
        run.capturePackets = false
        let result = try run.run()
        guard let stats = result.stepReplies.last?.reply.counters, let done = stats["completed"], let us = stats["elapsed_us"], us > 0 else {
            throw LabError.build("no load statistics from the client")
        }
        if (stats["failed"] ?? 0) > 0 { print("lab: \(stats["failed"]!) of our connects failed") }
        return Double(done) / (Double(us) / 1e6)
    }
}

extension LabBenchmark {
    /// The middlebox: frames/s forwarded with impairments configured (a 0.01 % loss, so every frame meets
    /// the impairer), and the latency it adds with none configured, against a direct veth. Also what a
    /// frame costs the middlebox process in CPU time, and the rate one CPU would carry at that cost.
    ///
    /// Latency is measured twice. `arrive`: from the send to the kernel placing the frame in the sink's
    /// receive ring (its own timestamp), the path alone; the sink reads blocks of frames, so it wakes
    /// rarely and leaves the CPUs to the path. `read`: from the send to the sink reading the frame, woken
    /// per frame, as the first version of this benchmark measured it, including the sink's own wake-up.
    ///
    /// Both are measured in two arrangements: as the scheduler places the three processes (blaster,
    /// middlebox, sink) on the machine's CPUs, and with the middlebox on a CPU of its own holding a
    /// `low-latency` request (topology keys `cpus` and `low-latency`), the blaster and the sink on the others.
    static func middlebox() {
        guard (try? Privileges.check()) != nil else { print("lab: needs root"); return }
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        do {
            try middlebox(arrangement: nil)
            if cpus >= 2 {
                try middlebox(arrangement: Arrangement(middlebox: cpus - 1, load: Array(0..<(cpus - 1))))
            } else {
                print("lab: one CPU: the middlebox cannot have a CPU of its own")
            }
        } catch {
            print("lab: middlebox benchmark failed: \(error)")
        }
    }

    /// The middlebox on one CPU with a low-latency request; the load generators on the others.
    struct Arrangement {
        var middlebox: Int
        var load: [Int]

        var placement: Placement { Placement(cpus: [middlebox], lowLatency: true) }
        var said: String { "middlebox on cpu \(middlebox) with low-latency, blaster and sink on cpu \(load.map(String.init).joined(separator: ","))" }
    }

    static func middlebox(arrangement: Arrangement?) throws {
        let label = arrangement.map { "lab (\($0.said))" } ?? "lab (processes where the scheduler puts them)"
        let restore = pinLoad(to: arrangement?.load)
        defer { restore() }
        let placement = arrangement?.placement ?? Placement()
        let frames = 1_000_000
        let direct = try blast(viaMiddlebox: nil, frames: frames, rate: 0, sink: .blocks)
        let impaired = try blast(viaMiddlebox: ImpairmentSpec(loss: 0.0001), placement: placement, frames: frames, rate: 0, sink: .blocks)
        print("\(label): frames/s delivered, \(frames) 64-byte frames: direct veth \(fmt(direct.rate)), through the middlebox with impairments \(fmt(impaired.rate))")
        if let cost = impaired.nanosecondsPerFrame {
            print("\(label): middlebox CPU time per forwarded frame \(fmt(cost)) ns (process time / frames forwarded, kernel work done on its behalf included): capacity \(fmt(1e9 / cost)) frames/s per CPU")
        }
        for sink in [SinkMode.blocks, .perFrame] {
            let d = try blast(viaMiddlebox: nil, frames: 100_000, rate: 50_000, sink: sink)
            let m = try blast(viaMiddlebox: ImpairmentSpec(), placement: placement, frames: 100_000, rate: 50_000, sink: sink)
            print("\(label): latency at 50,000 frames/s, \(sink.said): direct p50 \(fmt(d.arriveP50)) µs p99 \(fmt(d.arriveP99)) µs; through the middlebox p50 \(fmt(m.arriveP50)) µs p99 \(fmt(m.arriveP99)) µs; added at p99 \(fmt(m.arriveP99 - d.arriveP99)) µs")
            if sink == .perFrame {
                print("\(label): latency at 50,000 frames/s, until the sink reads it (woken per frame): direct p50 \(fmt(d.p50)) µs p99 \(fmt(d.p99)) µs; through the middlebox p50 \(fmt(m.p50)) µs p99 \(fmt(m.p99)) µs; added at p99 \(fmt(m.p99 - d.p99)) µs")
            }
        }
    }

    /// Keeps this process, and so the blaster and sink it starts, on `cpus`; returns the undo.
    static func pinLoad(to cpus: [Int]?) -> () -> Void {
        guard let cpus else { return {} }
        var before = [Int32](repeating: 0, count: 1024)
        let n = clab_allowed_cpus(&before, Int32(before.count))
        _ = cpus.map(Int32.init).withUnsafeBufferPointer { clab_set_cpus($0.baseAddress, Int32($0.count)) }
        return { if n > 0 { _ = clab_set_cpus(before, n) } }
    }

    /// How the sink takes frames from its ring (tcplab-kload's `sink`).
    enum SinkMode {
        /// Woken per frame (TPACKET_V2): arrival and read latencies.
        case perFrame
        /// Woken per block of frames (TPACKET_V3): the cheapest per frame; arrival latency only.
        case blocks

        var said: String {
            switch self {
            case .perFrame: "until the sink's socket has it, sink woken per frame"
            case .blocks: "until the sink's socket has it, sink woken per block"
            }
        }
    }

    struct BlastResult {
        var rate = 0.0, p50 = 0.0, p99 = 0.0, arriveP50 = 0.0, arriveP99 = 0.0
        /// The middlebox process's CPU time per frame it forwarded, when there was one.
        var nanosecondsPerFrame: Double?
    }

    static func blast(viaMiddlebox impair: ImpairmentSpec?, placement: Placement = Placement(), frames: Int, rate: Int, sink mode: SinkMode) throws -> BlastResult {
        let run = LabNames.randomRunID()
        let links = impair == nil
            ? [LabNetwork.Link("a", "eth0", "b", "eth0")]
            : [LabNetwork.Link("a", "eth0", "m", "eth0"), LabNetwork.Link("m", "eth1", "b", "eth0")]
        let plan = LabNetwork.Plan(nodes: impair == nil ? ["a", "b"] : ["a", "m", "b"], links: links)
        let net = try LabNetwork.build(run: run, plan: plan)
        defer { try? net.teardown() }
        var worker: MiddleboxProcess?
        if let impair { worker = try MiddleboxProcess(run: run, impair: impair, placement: placement) }
        defer { worker?.stop() }
        let seconds = max(3, frames / 100_000 + 2)
        let sinkArgs = ["sink", LabNames.namespace(run: run, node: "b"), "eth0", "\(seconds)"] + (mode == .blocks ? ["blocks"] : [])
        let (sink, sinkOut) = try kload(sinkArgs, background: true)
        _ = sinkOut.fileHandleForReading.availableData  // "ready"
        let cpuBefore = worker?.cpuNanoseconds
        try kload(["blast", LabNames.namespace(run: run, node: "a"), "eth0", "\(frames)", "\(rate)"])
        sink.waitUntilExit()
        let text = output(sinkOut)
        var result = BlastResult(rate: field(text, "rate") ?? 0, p50: field(text, "p50_us") ?? 0, p99: field(text, "p99_us") ?? 0,
                                 arriveP50: field(text, "arrive_p50_us") ?? 0, arriveP99: field(text, "arrive_p99_us") ?? 0)
        if let worker, let before = cpuBefore, let after = worker.cpuNanoseconds, let forwarded = try worker.forwarded(), forwarded > 0 {
            result.nanosecondsPerFrame = Double(after - before) / Double(forwarded)
        }
        return result
    }
}

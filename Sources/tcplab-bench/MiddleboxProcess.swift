import Foundation
import LabControl
import LabCoordinator
import LabNetlink

/// A `tcplab-worker` running the middlebox in node m of a benchmark network (a–m–b), driven as the
/// coordinator drives one: the configuration as the first line on stdin, commands after it, events
/// and replies as JSON lines on stdout.
final class MiddleboxProcess {
    private let process = Process()
    private let input = Pipe(), output = Pipe()
    private var pending = Data()

    init(run: String, impair: ImpairmentSpec, placement: Placement = Placement()) throws {
        process.executableURL = URL(fileURLWithPath: LabBenchmark.tool("tcplab-worker"))
        process.arguments = ["--netns", LabNames.namespace(run: run, node: "m")]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let config = WorkerConfig(run: run, node: "m", role: .middlebox, namespace: LabNames.namespace(run: run, node: "m"),
                                  interfaces: [InterfaceSpec(name: "eth0", mac: "02:00:00:00:01:00", address: nil),
                                               InterfaceSpec(name: "eth1", mac: "02:00:00:00:01:01", address: nil)],
                                  impair: [impair, ImpairmentSpec()], placement: placement)
        try send(config)
        guard let ready = nextLine(), ready.event?.kind == "ready" else {
            stop()
            throw LabError.build("the middlebox did not start")
        }
    }

    /// The process's CPU time so far, user and system (the scheduler's own count, /proc/PID/schedstat).
    var cpuNanoseconds: Int64? {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/schedstat", encoding: .utf8),
              let first = text.split(separator: " ").first else { return nil }
        return Int64(first)
    }

    /// Frames forwarded from a to b, from the `counters` command.
    func forwarded() throws -> Int? {
        try send(ControlCommand(id: 1, op: "counters"))
        // Bounded: events may precede the reply; the worker answers within a few lines.
        for _ in 0..<10_000 {
            guard let line = nextLine() else { return nil }
            if let reply = line.reply, reply.id == 1 { return reply.counters?["Forwarded0to1"] }
        }
        return nil
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    private func send(_ value: some Encodable) throws {
        var line = try JSONEncoder().encode(value)
        line.append(UInt8(ascii: "\n"))
        try input.fileHandleForWriting.write(contentsOf: line)
    }

    /// The next line the worker writes (blocking), or nil at its end.
    private func nextLine() -> WorkerLine? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[pending.startIndex..<newline]
                pending = Data(pending[(newline + 1)...])
                return try? JSONDecoder().decode(WorkerLine.self, from: line)
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            pending += chunk
        }
    }
}

import Foundation
import LabControl

/// A worker child process and its control channel (stdin/stdout pipes, one JSON object per line).
/// A reader thread turns its stdout into events and replies.
final class WorkerProcess: @unchecked Sendable {
    let node: String
    let process = Process()
    private let stdinPipe = Pipe()
    private let stdoutPipe = Pipe()
    private let lock = NSCondition()
    private var replies: [Int: ControlReply] = [:]
    private var eventBuffer: [LabEvent] = []
    private(set) var exited = false
    private(set) var ready = false
    private(set) var startupError: String?
    private var nextID = 1
    private var stderrPath: String

    init(executable: String, namespace: String, node: String, stderrPath: String) {
        self.node = node
        self.stderrPath = stderrPath
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--netns", namespace]
        // A crashing worker (a plugin that faults, say) must die at once so the run notices and tears
        // down; Swift's backtracer would keep it alive for seconds while it symbolicates.
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
    }

    var pid: Int32 { process.processIdentifier }

    func start(config: WorkerConfig) throws {
        try process.run()
        let reader = Thread { [self] in readLoop() }
        reader.start()
        var data = try JSONEncoder().encode(config)
        data.append(UInt8(ascii: "\n"))
        try stdinPipe.fileHandleForWriting.write(contentsOf: data)
    }

    private func readLoop() {
        let handle = stdoutPipe.fileHandleForReading
        var buffer = Data()
        let decoder = JSONDecoder()
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[buffer.startIndex..<newline]
                buffer.removeSubrange(buffer.startIndex...newline)
                guard let parsed = try? decoder.decode(WorkerLine.self, from: line) else { continue }
                lock.lock()
                if let e = parsed.event {
                    if e.kind == "ready" { ready = true }
                    if e.kind == "error", !ready { startupError = e.message }
                    eventBuffer.append(e)
                }
                if let r = parsed.reply { replies[r.id] = r }
                lock.broadcast()
                lock.unlock()
            }
        }
        lock.lock()
        exited = true
        lock.broadcast()
        lock.unlock()
    }

    /// Waits until the worker says it is ready, fails, or `timeout` passes.
    func waitReady(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock()
        defer { lock.unlock() }
        while !ready && !exited && startupError == nil {
            if !lock.wait(until: deadline) { break }
        }
        return ready
    }

    /// Sends a command and waits for its reply.
    func call(_ command: ControlCommand, timeout: TimeInterval = 10) throws -> ControlReply {
        var c = command
        lock.lock()
        c.id = nextID
        nextID += 1
        lock.unlock()
        var data = try JSONEncoder().encode(c)
        data.append(UInt8(ascii: "\n"))
        do { try stdinPipe.fileHandleForWriting.write(contentsOf: data) } catch {
            throw LabError.workerDied(node: node, detail: "its control channel is closed")
        }
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock()
        defer { lock.unlock() }
        while replies[c.id] == nil {
            if exited { throw LabError.workerDied(node: node, detail: lastStderr()) }
            if !lock.wait(until: deadline) { throw LabError.workerTimeout(node: node, op: c.op) }
        }
        return replies.removeValue(forKey: c.id)!
    }

    /// Events received since the last call.
    func takeEvents() -> [LabEvent] {
        lock.lock()
        defer { lock.unlock() }
        let out = eventBuffer
        eventBuffer.removeAll()
        return out
    }

    /// Asks the worker to stop; kills it if it does not go within `grace`.
    func stop(grace: TimeInterval = 2) {
        if process.isRunning {
            _ = try? call(ControlCommand(id: 0, op: "stop"), timeout: grace)
            try? stdinPipe.fileHandleForWriting.close()
        }
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(2000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        // Let the reader drain the last lines.
        lock.lock()
        let until = Date().addingTimeInterval(1)
        while !exited { if !lock.wait(until: until) { break } }
        lock.unlock()
    }

    func lastStderr() -> String {
        let text = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(3).joined(separator: " / ")
    }
}

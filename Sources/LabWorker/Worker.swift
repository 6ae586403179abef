import CLabIO
import Foundation
import LabControl

#if canImport(Glibc)
import Glibc
#endif

/// The worker process: reads its configuration (first stdin line), runs its role on an epoll loop,
/// takes commands on stdin and writes events and replies on stdout, one JSON object per line.
/// It stops on the `stop` command, on end of stdin (the coordinator died), or on SIGTERM.
public enum Worker {
    static let controlTag: UInt64 = 1 << 40

    /// Runs the worker until told to stop. Call it after joining the namespace.
    public static func run(config: WorkerConfig) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // The default 50 µs of slack would let a delayed frame or a TCP timer fire that much late.
        _ = clab_set_timer_slack_ns(1)
        let node: NodeRuntime
        let loop: EventLoop
        var latencyHold: Int32?
        defer { if let fd = latencyHold { close(fd) } }
        do {
            latencyHold = try config.placement.apply(node: config.node)
            loop = try EventLoop()
            switch config.role {
            case .client, .server: node = try StackNode(config: config, now: EventLoop.now)
            case .middlebox: node = try MiddleboxNode(config: config)
            case .kernelClient, .kernelServer:
                let k = try KernelNode(config: config)
                k.watchConnect = { fd in _ = clab_epoll_add_write_once(loopFD(loop), fd, KernelNode.connectTagBase + UInt64(fd)) }
                node = k
            }
            for w in node.watched { try loop.watch(w.fd, tag: w.tag) }
            try loop.watch(STDIN_FILENO, tag: controlTag)
        } catch {
            var e = LabEvent(t: EventLoop.now, node: config.node, kind: "error")
            e.message = "\(error)"
            emit(WorkerLine(event: e))
            return 3
        }
        _ = fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK)
        emit(WorkerLine(event: LabEvent(t: EventLoop.now, node: config.node, kind: "ready")))
        var input = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        let decoder = JSONDecoder()
        var running = true
        while running {
            loop.setDeadline(node.nextDeadline)
            let ready = loop.wait(timeoutMilliseconds: 1000)
            let now = EventLoop.now
            for tag in ready where tag != EventLoop.timerTag && tag != controlTag {
                node.ready(tag: tag, at: now)
            }
            if ready.contains(controlTag) {
                let n = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if n == 0 { running = false }  // the coordinator is gone
                if n > 0 { input += chunk[0..<n] }
                while let newline = input.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array(input[..<newline])
                    input.removeFirst(newline + 1)
                    guard !line.isEmpty else { continue }
                    guard let command = try? decoder.decode(ControlCommand.self, from: Data(line)) else {
                        emit(WorkerLine(reply: .failure(-1, "unreadable command: \(String(decoding: line, as: UTF8.self))")))
                        continue
                    }
                    if command.op == "stop" {
                        emit(WorkerLine(reply: ControlReply(id: command.id, ok: true)))
                        running = false
                        break
                    }
                    let reply = node.handle(command, at: EventLoop.now)
                    for e in node.takeEvents() { emit(WorkerLine(event: e)) }
                    emit(WorkerLine(reply: reply))
                }
            }
            node.poll(at: EventLoop.now)
            for e in node.takeEvents() { emit(WorkerLine(event: e)) }
        }
        node.flush()
        return 0
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// Writes one line to stdout (whole lines, so the coordinator never sees half an event).
    static func emit(_ line: WorkerLine) {
        guard var data = try? encoder.encode(line) else { return }
        data.append(UInt8(ascii: "\n"))
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(STDOUT_FILENO, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

private func loopFD(_ loop: EventLoop) -> Int32 { loop.epollFD }

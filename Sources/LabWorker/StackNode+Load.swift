import Foundation
import LabControl
import TCPEngine
import TCPPolicy
import TCPWire

/// Load mode for the handshake-rate benchmark: the client keeps N connects in flight and closes each
/// connection when the server's FIN arrives; the server accepts and closes every child at once
/// (connect–accept–close, the server closing first, as `tcplab-kload` does against the kernel).
/// Events are consumed here instead of being written out.
struct LoadState {
    var remote: SocketAddress?
    var inFlight = 0
    var target = 0
    var deadline: Int64 = 0
    var started: Int64 = 0
    var finished: Int64 = 0
    var completed = 0
    var failed = 0
    var open: Set<SocketID> = []
    var autoAccept: SocketID?
    var quiet = false
}

extension StackNode {
    func startLoad(_ command: ControlCommand, now: Int64) throws -> ControlReply {
        var reply = ControlReply(id: command.id, ok: true)
        switch command.op {
        case "autoaccept":
            guard let s = command.socket else { throw WorkerError("autoaccept needs the listener socket") }
            load.autoAccept = SocketID(s)
            load.quiet = true
        case "loadgen":
            guard let to = command.to, let remote = Self.socketAddress(to) else { throw WorkerError("loadgen needs to: \"198.18.0.2:80\"") }
            load.remote = remote
            load.target = max(1, command.value ?? 64)
            load.started = now
            load.deadline = now + Int64(command.seconds ?? 3) * 1_000_000_000
            load.quiet = true
            refill(now)
        case "loadstats":
            let elapsed = Double((load.finished > 0 ? load.finished : now) - load.started) / 1e9
            reply.counters = ["completed": load.completed, "failed": load.failed, "open": load.open.count,
                              "elapsed_us": Int(elapsed * 1e6)]
        default:
            throw WorkerError("unknown command \(command.op)")
        }
        return reply
    }

    /// Keeps `target` connects going until the deadline.
    func refill(_ now: Int64) {
        guard let remote = load.remote else { return }
        if now >= load.deadline {
            if load.finished == 0 { load.finished = now }
            return
        }
        while load.open.count < load.target {
            guard let s = try? host.connect(to: remote, at: Instant(nanoseconds: now)) else {
                load.failed += 1
                break
            }
            load.open.insert(s)
        }
    }

    /// Reacts to the engine's events in load mode: the client closes on the server's FIN; the server
    /// accepts and closes every child.
    func consumeLoadEvents(_ events: [EngineEvent], now: Int64) {
        let t = Instant(nanoseconds: now)
        for e in events {
            switch e.kind {
            case let .readable(id, _) where load.open.contains(id):
                if host.state(of: id) == .closeWait {
                    host.close(id, at: t)
                    load.open.remove(id)
                    load.completed += 1
                }
            case let .error(id, _) where load.open.contains(id):
                host.close(id, at: t)
                load.open.remove(id)
                load.failed += 1
            case let .childQueued(listener, _) where listener == load.autoAccept:
                while let child = try? host.accept(listener, blocking: false, at: t) {
                    host.close(child, at: t)
                }
            default:
                break
            }
        }
        refill(now)
    }
}

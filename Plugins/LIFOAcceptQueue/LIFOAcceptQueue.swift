import TCPLabPluginKit

/// accept() hands out the newest child instead of the oldest (Linux's `reqsk_queue_remove` takes the
/// head). Under a steady overload the newest clients are served at once while the oldest wait until
/// they give up: good latency for some, starvation for others. `oldest-every: N` serves the oldest on
/// every Nth accept(), a starvation guard. The SYN and overflow rules stay Linux's.
final class LIFOAcceptQueue: AcceptQueuePlugin {
    static let name = "lifo"
    static let summary = "accept() returns the newest child, not the oldest: fresh clients first, old ones starve"
    static let parameters: [Parameter] = [
        .int("oldest-every", default: 0, range: 0...1_000_000, help: "serve the oldest on every Nth accept() instead (0: never)"),
    ]

    let linux: Linux
    private let oldestEvery: Int
    private var accepts = 0

    init(parameters: Parameters) throws {
        linux = parameters.linux
        oldestEvery = Int(try parameters.int("oldest-every"))
    }

    func selectChild(_ queue: ChildQueue) -> Int {
        accepts += 1
        if oldestEvery > 0 && accepts % oldestEvery == 0 { return 0 }
        return queue.count - 1
    }
}

@_cdecl("tcplab_plugin_v1") public func tcplabPluginV1() -> UnsafeRawPointer { exportPlugin(LIFOAcceptQueue.self) }

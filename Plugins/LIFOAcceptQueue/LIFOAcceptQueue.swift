import TCPLabPluginKit

/// accept() hands out the newest child instead of the oldest (Linux's `reqsk_queue_remove` takes the
/// head). Under a steady overload the newest clients are served at once while the oldest wait until
/// they give up: good tail latency for some, starvation for others. The SYN and overflow rules stay
/// Linux's.
final class LIFOAcceptQueue: AcceptQueuePlugin {
    static let name = "lifo"
    static let summary = "accept() returns the newest child, not the oldest: fresh clients first, old ones starve"
    let linux: Linux

    init(parameters: Parameters) throws { linux = parameters.linux }

    func selectChild(_ queue: ChildQueue) -> Int { queue.count - 1 }
}

@_cdecl("tcplab_plugin_v1") public func tcplabPluginV1() -> UnsafeRawPointer { exportPlugin(LIFOAcceptQueue.self) }

import TCPLabPluginKit

/// Per-source fair queueing. Linux's SYN queue is one pool: a single host sending SYNs it never
/// completes fills it, and every other client's SYN is then dropped (or answered with a cookie). Here
/// no source address may hold more than `per-source` requests in the SYN queue, so a flood from one
/// source fills its own share only; and accept() serves the source with the fewest children waiting
/// first, so a busy source cannot crowd out a quiet one.
final class FairAcceptQueue: AcceptQueuePlugin {
    static let name = "fair"
    static let summary = "per-source fair queueing: each source address gets at most per-source SYN-queue slots"
    static let wantsPerSourceCounts = true
    static let parameters: [Parameter] = [
        .int("per-source", default: 4, range: 1...65_535, help: "SYN-queue requests one source address may hold"),
    ]

    let linux: Linux
    private let perSource: Int

    init(parameters: Parameters) throws {
        linux = parameters.linux
        perSource = Int(try parameters.int("per-source"))
    }

    func onSyn(_ syn: SynFacts, listener: ListenerSnapshot) -> SynVerdict {
        if syn.requestsFromSource >= perSource { return .drop(.policyRefused) }
        return linux.onSyn(syn, listener: listener)
    }

    func selectChild(_ queue: ChildQueue) -> Int {
        var waiting: [IPv4Address: Int] = [:]
        for child in queue { waiting[child.tuple.remote.address, default: 0] += 1 }
        // The oldest child of the least-represented source.
        var best = 0
        for i in queue.indices where waiting[queue[i].tuple.remote.address]! < waiting[queue[best].tuple.remote.address]! {
            best = i
        }
        return best
    }
}

@_cdecl("tcplab_plugin_v1") public func tcplabPluginV1() -> UnsafeRawPointer { exportPlugin(FairAcceptQueue.self) }

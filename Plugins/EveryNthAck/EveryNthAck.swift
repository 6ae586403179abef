import TCPLabPluginKit

/// ACKs every Nth full-sized segment. RFC 1122 and RFC 5681 §4.2 say an ACK SHOULD be sent for at least
/// every second full-sized segment, which is Linux's rule (more than one rcv_mss unacknowledged); larger
/// N gives "stretch ACKs": fewer ACKs, but a sender in slow start grows its window per ACK and its
/// ACK clock gets burstier. A partial batch waits at most `timeout`. There is no quick-ACK start.
final class EveryNthAck: DelayedAckPlugin {
    static let name = "every-nth"
    static let summary = "ACK every Nth full-sized segment (Linux and RFC 5681: every 2nd); stretch ACKs for N > 2"
    static let parameters: [Parameter] = [
        .int("n", default: 2, range: 1...64, help: "full-sized segments per ACK"),
        .duration("timeout", default: .milliseconds(40), range: .milliseconds(1)...(.milliseconds(499)),
                  help: "how long a partial batch waits for its ACK"),
    ]

    let linux: Linux
    private let n: Int
    private let timeout: Interval

    init(parameters: Parameters) throws {
        linux = parameters.linux
        n = Int(try parameters.int("n"))
        timeout = try parameters.duration("timeout")
    }

    func ackCheck(_ ack: inout AckState, facts: AckFacts) -> AckDecision {
        guard ack.pending.contains(.scheduled) else { return .none }
        if ack.pending.contains(.now) || facts.hasOutOfOrderData { return .now }
        if facts.unacknowledged >= n * ack.rcvMSS { return .now }
        if ack.pending.contains(.timer) { return ack.deadline > facts.now ? .at(ack.deadline) : .now }
        return ack.armDelayedAck(at: facts.now + timeout)
    }
}

@_cdecl("tcplab_plugin_v1") public func tcplabPluginV1() -> UnsafeRawPointer { exportPlugin(EveryNthAck.self) }

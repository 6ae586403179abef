import TCPLabPluginKit

/// Delays every ACK by the same amount, counted from the first unacknowledged segment, whatever the
/// traffic looks like: no quick-ACK start, no ato estimate, no "ACK every second full segment". Out-of-order
/// data and filled holes are still ACKed at once (RFC 5681 §4.2: fast retransmit needs them). Try a delay
/// longer than the RTT against a sender with Nagle on, and watch the transfer crawl.
final class FixedDelayAck: DelayedAckPlugin {
    static let name = "fixed-delay"
    static let summary = "delay every ACK by a fixed time (RFC 1122 allows up to 500 ms), ignoring Linux's heuristics"
    static let parameters: [Parameter] = [
        .duration("delay", default: .milliseconds(40), range: .zero...(.milliseconds(499)),
                  help: "how long an ACK waits (RFC 1122 §4.2.3.2: less than 500 ms)"),
    ]

    let linux: Linux
    private let delay: Interval

    init(parameters: Parameters) throws {
        linux = parameters.linux
        delay = try parameters.duration("delay")
    }

    func ackCheck(_ ack: inout AckState, facts: AckFacts) -> AckDecision {
        guard ack.pending.contains(.scheduled) else { return .none }
        if ack.pending.contains(.now) || facts.hasOutOfOrderData || delay == .zero { return .now }
        if ack.pending.contains(.timer) {
            // Keep the deadline of the first unacknowledged segment.
            return ack.deadline > facts.now ? .at(ack.deadline) : .now
        }
        return ack.armDelayedAck(at: facts.now + delay)
    }
}

@_cdecl("tcplab_plugin_v1") public func tcplabPluginV1() -> UnsafeRawPointer { exportPlugin(FixedDelayAck.self) }

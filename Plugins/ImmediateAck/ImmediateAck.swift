import TCPLabPluginKit

/// Never delays an ACK: every segment that owes one is answered at once, as if TCP_QUICKACK were set
/// before every read. Linux delays a lone segment by up to 40 ms (TCP_DELACK_MIN) once it leaves
/// quick-ACK mode, hoping to piggyback the ACK on a reply; this shows what that saving is worth: twice
/// the ACKs on a bulk transfer, and no 40 ms stall when the sender's Nagle waits for an ACK.
final class ImmediateAck: DelayedAckPlugin {
    static let name = "immediate"
    static let summary = "never delay an ACK (TCP_QUICKACK forever): no 40 ms waits, one ACK per segment"
    static let parameters: [Parameter] = [
        .bool("third-ack", default: true,
              help: "also send the handshake's last ACK at once (false: Linux may hold it for a pending write)"),
    ]

    let linux: Linux
    private let thirdAckNow: Bool

    init(parameters: Parameters) throws {
        linux = parameters.linux
        thirdAckNow = try parameters.bool("third-ack")
    }

    func ackCheck(_ ack: inout AckState, facts: AckFacts) -> AckDecision {
        ack.pending.contains(.scheduled) ? .now : .none
    }

    func delayThirdAck(_ ack: inout AckState, _ third: ThirdAckFacts, facts: AckFacts) -> AckDecision {
        thirdAckNow ? .now : linux.delayThirdAck(&ack, third, facts: facts)
    }
}

@_cdecl("tcplab_plugin_v1") public func tcplabPluginV1() -> UnsafeRawPointer { exportPlugin(ImmediateAck.self) }

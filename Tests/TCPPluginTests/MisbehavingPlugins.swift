import TCPLabPluginKit

// Plugins that answer nonsense, written with the kit and handed over in-process (no dlopen needed to
// exercise the checks). This file imports only the kit: its FourTuple, Instant… are the kit's.

/// accept() must name a child of the queue; this one names child 99.
final class BadChildPlugin: AcceptQueuePlugin {
    static let name = "bad-child"
    static let summary = "names a child that does not exist"
    let linux: Linux
    init(parameters: Parameters) throws { linux = parameters.linux }
    func selectChild(_ queue: ChildQueue) -> Int { 99 }
}

/// Delays ACKs by −5 ms.
final class NegativeDelayPlugin: DelayedAckPlugin {
    static let name = "negative-delay"
    static let summary = "answers a deadline 5 ms in the past"
    let linux: Linux
    init(parameters: Parameters) throws { linux = parameters.linux }
    func ackCheck(_ ack: inout AckState, facts: AckFacts) -> AckDecision {
        guard ack.pending.contains(.scheduled) else { return .none }
        return .at(facts.now - .milliseconds(5))
    }
}

/// Corrupts the ACK state it is lent (rcv_mss 0) on every data segment.
final class CorruptStatePlugin: DelayedAckPlugin {
    static let name = "corrupt-state"
    static let summary = "zeroes rcv_mss"
    let linux: Linux
    init(parameters: Parameters) throws { linux = parameters.linux }
    func dataReceived(_ ack: inout AckState, _ data: ReceivedData, facts: AckFacts) {
        linux.dataReceived(&ack, data, facts: facts)
        ack.rcvMSS = 0
    }
}

/// Refuses its configuration in `init`.
final class PickyPlugin: ISNPlugin {
    static let name = "picky"
    static let summary = "wants an even step"
    static let parameters: [Parameter] = [.int("step", default: 2, help: "must be even")]
    init(parameters: Parameters) throws {
        let step = try parameters.int("step")
        guard step % 2 == 0 else { throw PluginSetupError("step \(step) is odd: use an even step, e.g. \(step + 1)") }
    }
    func initialSequenceNumber(for tuple: FourTuple, at now: Instant) -> UInt32 { 0 }
}

/// Logs through the host on every ISN, and reads Linux's ISN for the same tuple.
final class LoggingPlugin: ISNPlugin {
    static let name = "logging"
    static let summary = "logs and delegates"
    let linux: Linux
    init(parameters: Parameters) throws { linux = parameters.linux }
    func initialSequenceNumber(for tuple: FourTuple, at now: Instant) -> UInt32 {
        linux.log("isn for \(tuple)")
        return linux.initialSequenceNumber(for: tuple, at: now)
    }
    func timestampOffset(for tuple: FourTuple, at now: Instant) -> UInt32 { linux.timestampOffset(for: tuple, at: now) }
}

enum MisbehavingPlugins {
    static var badChild: UnsafeRawPointer { exportPlugin(BadChildPlugin.self) }
    static var negativeDelay: UnsafeRawPointer { exportPlugin(NegativeDelayPlugin.self) }
    static var corruptState: UnsafeRawPointer { exportPlugin(CorruptStatePlugin.self) }
    static var picky: UnsafeRawPointer { exportPlugin(PickyPlugin.self) }
    static var logging: UnsafeRawPointer { exportPlugin(LoggingPlugin.self) }
}

import CTCPLabPlugin

/// What every plugin declares. Write a final class conforming to `ISNPlugin`, `AcceptQueuePlugin` or
/// `DelayedAckPlugin`, and export it with one line:
///
///     @_cdecl("tcplab_plugin_v1") public func tcplabPluginV1() -> UnsafeRawPointer { exportPlugin(MyISN.self) }
///
/// TCPLab makes one instance per host that names the plugin (`init(parameters:)`), and calls it on that
/// host's thread, one call at a time.
public protocol TCPLabPlugin: AnyObject {
    /// What a topology writes: `isn: { plugin: <name> }`. Lowercase letters, digits and `-`; not `linux`.
    static var name: String { get }
    /// One line for `tcplab plugins`.
    static var summary: String { get }
    /// The parameters the plugin accepts (default: none).
    static var parameters: [Parameter] { get }
    /// Makes an instance from validated parameters; throw `PluginSetupError` to refuse a configuration.
    init(parameters: Parameters) throws
}

extension TCPLabPlugin {
    public static var parameters: [Parameter] { [] }
}

/// Chooses initial sequence numbers (Linux: `tcp_v4_init_seq`, `secure_tcp_seq`).
public protocol ISNPlugin: TCPLabPlugin {
    /// Once per active open and once per SYN that gets a request sock. Every value is valid.
    func initialSequenceNumber(for tuple: FourTuple, at now: Instant) -> UInt32
    /// The TCP timestamp offset of the connection (default: 0, no offset, as with `tcp_timestamps = 2`).
    func timestampOffset(for tuple: FourTuple, at now: Instant) -> UInt32
}

extension ISNPlugin {
    public func timestampOffset(for tuple: FourTuple, at now: Instant) -> UInt32 { 0 }
}

/// Decides what happens to SYNs and completed handshakes at a listener, and which child accept()
/// returns. Every method defaults to Linux's behaviour (through `linux`): implement only what you change.
public protocol AcceptQueuePlugin: TCPLabPlugin {
    /// Ask the engine to count SYN-queue requests per source address (`SynFacts.requestsFromSource`).
    static var wantsPerSourceCounts: Bool { get }
    /// Keep `parameters.linux` from `init(parameters:)` here.
    var linux: Linux { get }
    /// Once per SYN reaching a listener in LISTEN.
    func onSyn(_ syn: SynFacts, listener: ListenerSnapshot) -> SynVerdict
    /// Once per handshake-completing segment that finds the accept queue full.
    func onAcceptQueueFull(_ tuple: FourTuple, listener: ListenerSnapshot) -> OverflowVerdict
    /// Once per successful accept(): the index in `queue` (oldest first, never empty) to hand out.
    func selectChild(_ queue: ChildQueue) -> Int
}

extension AcceptQueuePlugin {
    public static var wantsPerSourceCounts: Bool { false }
    public func onSyn(_ syn: SynFacts, listener: ListenerSnapshot) -> SynVerdict {
        linux.ranDefault(.onSyn)
        return linux.onSyn(syn, listener: listener)
    }
    public func onAcceptQueueFull(_ tuple: FourTuple, listener: ListenerSnapshot) -> OverflowVerdict {
        linux.ranDefault(.onAcceptQueueFull)
        return linux.onAcceptQueueFull(tuple, listener: listener)
    }
    public func selectChild(_ queue: ChildQueue) -> Int { 0 }
}

/// Decides when ACKs go out. Every method defaults to Linux's (through `linux`): implement only what you
/// change. The engine calls, on each event:
/// - in-order data arrived → `dataReceived`, then `ackCheck`;
/// - out-of-order, old or out-of-window data → `enterQuickAck` (and `ackCheck`);
/// - the SYN-ACK of an active open → `delayThirdAck`;
/// - the delayed-ACK timer fired → `timerFired` (true: send the ACK now);
/// - we sent data → `dataSent`; we sent any segment with an ACK → `ackSent`;
/// - TCP_QUICKACK was set → `setQuickAck`.
public protocol DelayedAckPlugin: TCPLabPlugin {
    /// Keep `parameters.linux` from `init(parameters:)` here.
    var linux: Linux { get }
    func dataReceived(_ ack: inout AckState, _ data: ReceivedData, facts: AckFacts)
    func ackCheck(_ ack: inout AckState, facts: AckFacts) -> AckDecision
    func enterQuickAck(_ ack: inout AckState, credits: Int, facts: AckFacts)
    func delayThirdAck(_ ack: inout AckState, _ third: ThirdAckFacts, facts: AckFacts) -> AckDecision
    func timerFired(_ ack: inout AckState, facts: AckFacts) -> Bool
    func dataSent(_ ack: inout AckState, facts: AckFacts)
    func ackSent(_ ack: inout AckState, facts: AckFacts)
    func setQuickAck(_ ack: inout AckState, value: Int, facts: AckFacts)
}

extension DelayedAckPlugin {
    public func dataReceived(_ ack: inout AckState, _ data: ReceivedData, facts: AckFacts) {
        linux.ranDefault(.dataReceived)
        linux.dataReceived(&ack, data, facts: facts)
    }
    public func ackCheck(_ ack: inout AckState, facts: AckFacts) -> AckDecision {
        linux.ranDefault(.ackCheck)
        return linux.ackCheck(&ack, facts: facts)
    }
    public func enterQuickAck(_ ack: inout AckState, credits: Int, facts: AckFacts) {
        linux.ranDefault(.enterQuickAck)
        linux.enterQuickAck(&ack, credits: credits, facts: facts)
    }
    public func delayThirdAck(_ ack: inout AckState, _ third: ThirdAckFacts, facts: AckFacts) -> AckDecision {
        linux.ranDefault(.delayThirdAck)
        return linux.delayThirdAck(&ack, third, facts: facts)
    }
    public func timerFired(_ ack: inout AckState, facts: AckFacts) -> Bool {
        linux.ranDefault(.timerFired)
        return linux.timerFired(&ack, facts: facts)
    }
    public func dataSent(_ ack: inout AckState, facts: AckFacts) {
        linux.ranDefault(.dataSent)
        linux.dataSent(&ack, facts: facts)
    }
    public func ackSent(_ ack: inout AckState, facts: AckFacts) {
        linux.ranDefault(.ackSent)
        linux.ackSent(&ack, facts: facts)
    }
    public func setQuickAck(_ ack: inout AckState, value: Int, facts: AckFacts) {
        linux.ranDefault(.setQuickAck)
        linux.setQuickAck(&ack, value: value, facts: facts)
    }
}

/// The methods with a kit default that delegates to Linux. A default is a pure call to Linux, so once
/// one has run for an instance, the export thunk skips the Swift layer for that method.
struct KitDefault: OptionSet {
    let rawValue: UInt32
    static let onSyn = KitDefault(rawValue: 1 << 0)
    static let onAcceptQueueFull = KitDefault(rawValue: 1 << 1)
    static let dataReceived = KitDefault(rawValue: 1 << 2)
    static let ackCheck = KitDefault(rawValue: 1 << 3)
    static let enterQuickAck = KitDefault(rawValue: 1 << 4)
    static let delayThirdAck = KitDefault(rawValue: 1 << 5)
    static let timerFired = KitDefault(rawValue: 1 << 6)
    static let dataSent = KitDefault(rawValue: 1 << 7)
    static let ackSent = KitDefault(rawValue: 1 << 8)
    static let setQuickAck = KitDefault(rawValue: 1 << 9)
}

/// Linux's own answer to every policy call, provided by the engine that loaded the plugin (the
/// `linux_*` tables of `tcplab_host`), and the run's log.
public struct Linux: @unchecked Sendable {
    let host: UnsafePointer<tcplab_host>
    /// Bits of `KitDefault`: the methods whose kit default (Linux) ran. The export thunks then call
    /// Linux's C function directly, without converting to Swift and back.
    let defaults: UnsafeMutablePointer<UInt32>

    init(host: UnsafePointer<tcplab_host>, defaults: UnsafeMutablePointer<UInt32>) {
        self.host = host
        self.defaults = defaults
    }

    @inline(__always) func ranDefault(_ method: KitDefault) { defaults.pointee |= method.rawValue }

    private var instance: UnsafeMutableRawPointer? { host.pointee.linux_instance }

    /// Writes a line to the run's log, prefixed with the plugin's name.
    public func log(_ message: String) {
        message.withCString { host.pointee.log!(host.pointee.context, $0) }
    }

    // ISN
    public func initialSequenceNumber(for tuple: FourTuple, at now: Instant) -> UInt32 {
        var t = tuple.c
        return host.pointee.linux_isn!.pointee.initial_sequence_number!(instance, &t, now.nanoseconds)
    }
    public func timestampOffset(for tuple: FourTuple, at now: Instant) -> UInt32 {
        var t = tuple.c
        return host.pointee.linux_isn!.pointee.timestamp_offset!(instance, &t, now.nanoseconds)
    }

    // Accept queue
    public func onSyn(_ syn: SynFacts, listener: ListenerSnapshot) -> SynVerdict {
        var s = syn.c, l = listener.c
        return SynVerdict(code: host.pointee.linux_accept_queue!.pointee.on_syn!(instance, &s, &l)) ?? .queue
    }
    public func onAcceptQueueFull(_ tuple: FourTuple, listener: ListenerSnapshot) -> OverflowVerdict {
        var t = tuple.c, l = listener.c
        return OverflowVerdict(code: host.pointee.linux_accept_queue!.pointee.on_accept_queue_full!(instance, &t, &l))
            ?? .dropAndKeepRequest
    }

    // Delayed ACK
    public func dataReceived(_ ack: inout AckState, _ data: ReceivedData, facts: AckFacts) {
        var s = ack.c, d = data.c, f = facts.c
        host.pointee.linux_delayed_ack!.pointee.data_received!(instance, &s, &d, &f)
        ack = AckState(s)
    }
    public func ackCheck(_ ack: inout AckState, facts: AckFacts) -> AckDecision {
        var s = ack.c, f = facts.c, deadline: Int64 = 0
        let code = host.pointee.linux_delayed_ack!.pointee.ack_check!(instance, &s, &f, &deadline)
        ack = AckState(s)
        return AckDecision(code: code, deadline: deadline) ?? .now
    }
    public func enterQuickAck(_ ack: inout AckState, credits: Int, facts: AckFacts) {
        var s = ack.c, f = facts.c
        host.pointee.linux_delayed_ack!.pointee.enter_quick_ack!(instance, &s, Int32(clamping: credits), &f)
        ack = AckState(s)
    }
    public func delayThirdAck(_ ack: inout AckState, _ third: ThirdAckFacts, facts: AckFacts) -> AckDecision {
        var s = ack.c, t = third.c, f = facts.c, deadline: Int64 = 0
        let code = host.pointee.linux_delayed_ack!.pointee.delay_third_ack!(instance, &s, &t, &f, &deadline)
        ack = AckState(s)
        return AckDecision(code: code, deadline: deadline) ?? .now
    }
    public func timerFired(_ ack: inout AckState, facts: AckFacts) -> Bool {
        var s = ack.c, f = facts.c
        let fire = host.pointee.linux_delayed_ack!.pointee.timer_fired!(instance, &s, &f)
        ack = AckState(s)
        return fire != 0
    }
    public func dataSent(_ ack: inout AckState, facts: AckFacts) {
        var s = ack.c, f = facts.c
        host.pointee.linux_delayed_ack!.pointee.data_sent!(instance, &s, &f)
        ack = AckState(s)
    }
    public func ackSent(_ ack: inout AckState, facts: AckFacts) {
        var s = ack.c, f = facts.c
        host.pointee.linux_delayed_ack!.pointee.ack_sent!(instance, &s, &f)
        ack = AckState(s)
    }
    public func setQuickAck(_ ack: inout AckState, value: Int, facts: AckFacts) {
        var s = ack.c, f = facts.c
        host.pointee.linux_delayed_ack!.pointee.set_quick_ack!(instance, &s, Int32(clamping: value), &f)
        ack = AckState(s)
    }
}

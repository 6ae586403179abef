import CTCPLabPlugin
import TCPPolicy
import TCPWire

/// An answer a plugin should not have given, and what the engine did instead (Linux's answer).
public struct PluginViolation: Hashable, Sendable, CustomStringConvertible {
    public var plugin: String
    /// The ABI function: `select_child`, `ack_check`…
    public var call: String
    /// When (the engine's clock), if the call carried the time.
    public var time: Instant?
    /// What the plugin answered.
    public var answer: String
    /// Why that answer is invalid.
    public var problem: String
    /// Linux's answer, used instead.
    public var fallback: String

    public var description: String {
        "plugin '\(plugin)' answered \(call) = \(answer)\(time.map { " at \($0)" } ?? ""): \(problem); used Linux's answer (\(fallback)) instead"
    }
}

/// What the three plugin-backed policies share: the plugin instance, its Linux fallback, and the record
/// of invalid answers. The engine sees a `PluginISN`, `PluginAcceptQueue` or `PluginDelayedAck`; a
/// worker reads `violations` through this class: `(host.delayedAckPolicy as? PluginPolicy)?.violations`.
///
/// Not thread-safe: like the engine, an instance belongs to one host and is called on its thread.
public class PluginPolicy {
    /// The plugin's instance and what was allocated for it.
    struct Instance {
        var pointer: UnsafeMutableRawPointer?
        var host: UnsafeMutablePointer<tcplab_host>
        var log: LogSink
    }

    public let library: PluginLibrary
    public var pluginName: String { library.info.name }
    let instance: UnsafeMutableRawPointer?
    let linux: LinuxPolicies
    private let resources: Instance

    /// The first `maxKeptViolations` invalid answers, oldest first.
    public private(set) var violations: [PluginViolation] = []
    /// Every invalid answer, including those no longer kept.
    public private(set) var violationCount = 0
    public var maxKeptViolations = 100
    /// Called for every invalid answer, on the engine's thread.
    public var onViolation: ((PluginViolation) -> Void)?
    /// Where the plugin's `host->log` lines go (default: standard error, prefixed with the plugin's name).
    public var onLog: ((String) -> Void)? {
        get { resources.log.handler }
        set { resources.log.handler = newValue }
    }

    init(library: PluginLibrary, instance: Instance, linux: LinuxPolicies) {
        self.library = library
        self.instance = instance.pointer
        self.linux = linux
        resources = instance
    }

    deinit {
        library.descriptor.pointee.destroy?(instance)
        resources.host.deinitialize(count: 1)
        resources.host.deallocate()
    }

    /// Records an invalid answer. Kept off the fast path: only called when a check fails.
    @inline(never)
    func report(_ call: String, answer: String, problem: String, fallback: String, at time: Instant?) {
        let v = PluginViolation(plugin: pluginName, call: call, time: time, answer: answer, problem: problem, fallback: fallback)
        violationCount += 1
        if violations.count < maxKeptViolations { violations.append(v) }
        onViolation?(v)
    }
}

/// An ISN generator backed by a plugin. Every 32-bit answer is valid, so nothing falls back.
public final class PluginISN: PluginPolicy, ISNGenerator {
    public var name: String { pluginName }
    private let isnFunction: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<tcplab_tuple>?, Int64) -> UInt32
    private let tsFunction: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<tcplab_tuple>?, Int64) -> UInt32

    override init(library: PluginLibrary, instance: Instance, linux: LinuxPolicies) {
        let ops = library.descriptor.pointee.isn!.pointee
        isnFunction = ops.initial_sequence_number!
        tsFunction = ops.timestamp_offset!
        super.init(library: library, instance: instance, linux: linux)
    }

    public func initialSequenceNumber(for tuple: FourTuple, at now: Instant) -> SequenceNumber {
        var t = tcplab_tuple(tuple)
        return SequenceNumber(isnFunction(instance, &t, now.nanoseconds))
    }

    public func timestampOffset(for tuple: FourTuple, at now: Instant) -> UInt32 {
        var t = tcplab_tuple(tuple)
        return tsFunction(instance, &t, now.nanoseconds)
    }
}

/// An accept-queue policy backed by a plugin. Invalid answers (an unknown verdict, a cookie while
/// `tcp_syncookies` is 0, a child index outside the queue) fall back to `LinuxAcceptQueue`.
public final class PluginAcceptQueue: PluginPolicy, AcceptQueuePolicy {
    public var name: String { pluginName }
    public let wantsPerSourceCounts: Bool
    private let ops: tcplab_accept_queue_ops
    /// Reused between accept() calls: the queue as C structs.
    private var children: [tcplab_child] = []

    override init(library: PluginLibrary, instance: Instance, linux: LinuxPolicies) {
        ops = library.descriptor.pointee.accept_queue!.pointee
        wantsPerSourceCounts = library.info.wantsPerSourceCounts
        super.init(library: library, instance: instance, linux: linux)
    }

    public func onSyn(_ syn: SynFacts, listener: ListenerSnapshot) -> SynVerdict {
        var s = tcplab_syn(syn), l = tcplab_listener(listener)
        let code = ops.on_syn!(instance, &s, &l)
        if let verdict = SynVerdict(abiValue: code), verdict != .cookie || listener.syncookies != 0 {
            return verdict
        }
        let fallback = linux.acceptQueue.onSyn(syn, listener: listener)
        report("on_syn", answer: code == TCPLAB_SYN_COOKIE ? "TCPLAB_SYN_COOKIE" : "\(code)",
               problem: code == TCPLAB_SYN_COOKIE ? "a SYN cookie while tcp_syncookies = 0 (cookies are off on this host)"
                   : "not a TCPLAB_SYN_* value (1…7)",
               fallback: Self.describe(fallback), at: syn.now)
        return fallback
    }

    static func describe(_ v: SynVerdict) -> String {
        switch v {
        case .queue: "queue"
        case .cookie: "cookie"
        case .reset: "reset"
        case let .drop(reason): "drop: \(reason.rawValue)"
        }
    }

    public func onAcceptQueueFull(_ tuple: FourTuple, listener: ListenerSnapshot) -> OverflowVerdict {
        var t = tcplab_tuple(tuple), l = tcplab_listener(listener)
        let code = ops.on_accept_queue_full!(instance, &t, &l)
        if let verdict = OverflowVerdict(abiValue: code) { return verdict }
        let fallback = linux.acceptQueue.onAcceptQueueFull(tuple, listener: listener)
        report("on_accept_queue_full", answer: "\(code)", problem: "not a TCPLAB_OVERFLOW_* value (1 or 2)",
               fallback: "\(fallback)", at: nil)
        return fallback
    }

    public func selectChild(_ queue: some Collection<QueuedChild>) -> Int {
        children.removeAll(keepingCapacity: true)
        // Contiguous storage is copied in a specialized loop; anything else goes through unspecialized
        // generic access (the engine's collection type is not known here), which costs ~60 ns a child.
        let contiguous: Void? = queue.withContiguousStorageIfAvailable { buffer in
            for c in buffer { children.append(tcplab_child(tuple: tcplab_tuple(c.tuple), established_ns: c.establishedAt.nanoseconds)) }
        }
        if contiguous == nil {
            // Indices rather than an iterator: half the cost when unspecialized.
            var i = queue.startIndex
            let end = queue.endIndex
            while i != end {
                let c = queue[i]
                children.append(tcplab_child(tuple: tcplab_tuple(c.tuple), established_ns: c.establishedAt.nanoseconds))
                queue.formIndex(after: &i)
            }
        }
        let count = children.count
        let index = children.withUnsafeBufferPointer { ops.select_child!(instance, $0.baseAddress, Int64(count)) }
        if index >= 0 && index < Int64(count) { return Int(index) }
        let fallback = linux.acceptQueue.selectChild(queue)
        report("select_child", answer: "\(index)",
               problem: "no child has that index (the queue holds \(count), indices 0…\(count - 1))",
               fallback: "\(fallback), the oldest", at: nil)
        return fallback
    }
}

/// A delayed-ACK policy backed by a plugin. The plugin works on a C copy of the ACK state; the copy is
/// taken back only when the answer and the state pass the checks, otherwise Linux's function runs on
/// the untouched state and its answer is used.
public final class PluginDelayedAck: PluginPolicy, DelayedAckPolicy {
    public var name: String { pluginName }
    private let ops: tcplab_delayed_ack_ops
    /// RFC 1122 §4.2.3.2: an ACK must not be delayed by 0.5 s or more.
    static let maxDelay = Interval.milliseconds(500)

    override init(library: PluginLibrary, instance: Instance, linux: LinuxPolicies) {
        ops = library.descriptor.pointee.delayed_ack!.pointee
        super.init(library: library, instance: instance, linux: linux)
    }

    /// The decision encoded as `code` and `deadline`, or why it is invalid.
    @inline(__always)
    private func decode(_ code: UInt32, _ deadline: Int64, now: Instant) -> (AckDecision?, String?) {
        switch code {
        case TCPLAB_ACK_DECISION_NONE: return (AckDecision.none, nil)
        case TCPLAB_ACK_DECISION_NOW: return (.now, nil)
        case TCPLAB_ACK_DECISION_AT:
            if deadline < now.nanoseconds {
                return (nil, "a deadline in the past (a delay of −\(Interval(nanoseconds: now.nanoseconds &- deadline)))")
            }
            if deadline &- now.nanoseconds >= Self.maxDelay.nanoseconds {
                return (nil, "a delay of \(Interval(nanoseconds: deadline &- now.nanoseconds)), not less than 500 ms (RFC 1122 §4.2.3.2)")
            }
            return (.at(Instant(nanoseconds: deadline)), nil)
        default: return (nil, "not a TCPLAB_ACK_DECISION_* value (1…3)")
        }
    }

    private static func describe(_ code: UInt32, _ deadline: Int64, now: Instant) -> String {
        switch code {
        case TCPLAB_ACK_DECISION_NONE: "none"
        case TCPLAB_ACK_DECISION_NOW: "now"
        case TCPLAB_ACK_DECISION_AT:
            deadline &- now.nanoseconds < 0 ? "at now − \(Interval(nanoseconds: 0 &- (deadline &- now.nanoseconds)))"
                : "at now + \(Interval(nanoseconds: deadline &- now.nanoseconds))"
        default: "\(code)"
        }
    }

    static func describe(_ d: AckDecision, now: Instant) -> String {
        switch d {
        case .none: "none"
        case .now: "now"
        case let .at(t): "at now + \(t - now)"
        }
    }

    public func dataReceived(_ ack: inout AckState, _ data: ReceivedData, facts: AckFacts) {
        var s = tcplab_ack_state(ack), d = tcplab_received_data(data), f = tcplab_ack_facts(facts)
        ops.data_received!(instance, &s, &d, &f)
        if let problem = s.problem() {
            report("data_received", answer: "a corrupted ACK state", problem: problem, fallback: "Linux's data_received", at: facts.now)
            linux.delayedAck.dataReceived(&ack, data, facts: facts)
            return
        }
        ack = AckState(s)
    }

    public func ackCheck(_ ack: inout AckState, facts: AckFacts) -> AckDecision {
        var s = tcplab_ack_state(ack), f = tcplab_ack_facts(facts), deadline: Int64 = 0
        let code = ops.ack_check!(instance, &s, &f, &deadline)
        let (decision, problem) = decode(code, deadline, now: facts.now)
        if let decision, s.problem() == nil {
            ack = AckState(s)
            return decision
        }
        let fallback = linux.delayedAck.ackCheck(&ack, facts: facts)
        report("ack_check", answer: problem != nil ? Self.describe(code, deadline, now: facts.now) : "a corrupted ACK state",
               problem: problem ?? s.problem()!, fallback: Self.describe(fallback, now: facts.now), at: facts.now)
        return fallback
    }

    public func enterQuickAck(_ ack: inout AckState, credits: Int, facts: AckFacts) {
        var s = tcplab_ack_state(ack), f = tcplab_ack_facts(facts)
        ops.enter_quick_ack!(instance, &s, Int32(clamping: credits), &f)
        if let problem = s.problem() {
            report("enter_quick_ack", answer: "a corrupted ACK state", problem: problem, fallback: "Linux's enter_quick_ack", at: facts.now)
            linux.delayedAck.enterQuickAck(&ack, credits: credits, facts: facts)
            return
        }
        ack = AckState(s)
    }

    public func delayThirdAck(_ ack: inout AckState, _ third: ThirdAckFacts, facts: AckFacts) -> AckDecision {
        var s = tcplab_ack_state(ack), t = tcplab_third_ack(third), f = tcplab_ack_facts(facts), deadline: Int64 = 0
        let code = ops.delay_third_ack!(instance, &s, &t, &f, &deadline)
        let (decision, problem) = decode(code, deadline, now: facts.now)
        if let decision, s.problem() == nil {
            ack = AckState(s)
            return decision
        }
        let fallback = linux.delayedAck.delayThirdAck(&ack, third, facts: facts)
        report("delay_third_ack", answer: problem != nil ? Self.describe(code, deadline, now: facts.now) : "a corrupted ACK state",
               problem: problem ?? s.problem()!, fallback: Self.describe(fallback, now: facts.now), at: facts.now)
        return fallback
    }

    public func timerFired(_ ack: inout AckState, facts: AckFacts) -> Bool {
        var s = tcplab_ack_state(ack), f = tcplab_ack_facts(facts)
        let fire = ops.timer_fired!(instance, &s, &f)
        if let problem = s.problem() {
            let fallback = linux.delayedAck.timerFired(&ack, facts: facts)
            report("timer_fired", answer: "a corrupted ACK state", problem: problem, fallback: "\(fallback)", at: facts.now)
            return fallback
        }
        ack = AckState(s)
        return fire != 0
    }

    public func dataSent(_ ack: inout AckState, facts: AckFacts) {
        var s = tcplab_ack_state(ack), f = tcplab_ack_facts(facts)
        ops.data_sent!(instance, &s, &f)
        if let problem = s.problem() {
            report("data_sent", answer: "a corrupted ACK state", problem: problem, fallback: "Linux's data_sent", at: facts.now)
            linux.delayedAck.dataSent(&ack, facts: facts)
            return
        }
        ack = AckState(s)
    }

    public func ackSent(_ ack: inout AckState, facts: AckFacts) {
        var s = tcplab_ack_state(ack), f = tcplab_ack_facts(facts)
        ops.ack_sent!(instance, &s, &f)
        if let problem = s.problem() {
            report("ack_sent", answer: "a corrupted ACK state", problem: problem, fallback: "Linux's ack_sent", at: facts.now)
            linux.delayedAck.ackSent(&ack, facts: facts)
            return
        }
        ack = AckState(s)
    }

    public func setQuickAck(_ ack: inout AckState, value: Int, facts: AckFacts) {
        var s = tcplab_ack_state(ack), f = tcplab_ack_facts(facts)
        ops.set_quick_ack!(instance, &s, Int32(clamping: value), &f)
        if let problem = s.problem() {
            report("set_quick_ack", answer: "a corrupted ACK state", problem: problem, fallback: "Linux's set_quick_ack", at: facts.now)
            linux.delayedAck.setQuickAck(&ack, value: value, facts: facts)
            return
        }
        ack = AckState(s)
    }
}

import CTCPLabPlugin
import Synchronization

// The Swift side of the C ABI: `exportPlugin` builds a `tcplab_plugin` descriptor for a Swift type,
// once, and its function pointers are non-generic thunks that find the Swift instance behind the
// opaque `instance` pointer. Nothing here depends on TCPPolicy or the engine, so a plugin library
// carries no second copy of the engine's Swift types.

/// Returns the `tcplab_plugin` descriptor for `type`. Call it from the library's entry point:
///
///     @_cdecl("tcplab_plugin_v1") public func tcplabPluginV1() -> UnsafeRawPointer { exportPlugin(CounterISN.self) }
public func exportPlugin<P: ISNPlugin>(_ type: P.Type) -> UnsafeRawPointer {
    descriptor(for: type, kind: TCPLAB_KIND_ISN, flags: 0, make: { ISNBox(try P(parameters: $0), linux: $0.linux) })
}

/// Returns the `tcplab_plugin` descriptor for an accept-queue plugin type.
public func exportPlugin<P: AcceptQueuePlugin>(_ type: P.Type) -> UnsafeRawPointer {
    descriptor(for: type, kind: TCPLAB_KIND_ACCEPT_QUEUE, flags: P.wantsPerSourceCounts ? TCPLAB_FLAG_PER_SOURCE_COUNTS : 0,
               make: { AcceptQueueBox(try P(parameters: $0), linux: $0.linux) })
}

/// Returns the `tcplab_plugin` descriptor for a delayed-ACK plugin type.
public func exportPlugin<P: DelayedAckPlugin>(_ type: P.Type) -> UnsafeRawPointer {
    descriptor(for: type, kind: TCPLAB_KIND_DELAYED_ACK, flags: 0, make: { DelayedAckBox(try P(parameters: $0), linux: $0.linux) })
}

/// What `plugin_data` points to: how to make an instance of the exported type.
final class PluginType {
    let make: (Parameters) throws -> AnyObject
    init(make: @escaping (Parameters) throws -> AnyObject) { self.make = make }
}

/// What the C `instance` pointer points to: the plugin, and Linux's functions for the methods whose kit
/// default delegates to them.
class InstanceBox {
    let linux: Linux
    let linuxInstance: UnsafeMutableRawPointer?
    let linuxAcceptQueue: tcplab_accept_queue_ops
    let linuxDelayedAck: tcplab_delayed_ack_ops

    init(linux: Linux) {
        self.linux = linux
        linuxInstance = linux.host.pointee.linux_instance
        linuxAcceptQueue = linux.host.pointee.linux_accept_queue!.pointee
        linuxDelayedAck = linux.host.pointee.linux_delayed_ack!.pointee
    }

    deinit { linux.defaults.deallocate() }

    /// Whether the plugin's method is the kit default, seen running at least once.
    @inline(__always) func isDefault(_ method: KitDefault) -> Bool { linux.defaults.pointee & method.rawValue != 0 }
}

final class ISNBox: InstanceBox {
    let plugin: any ISNPlugin
    init(_ plugin: any ISNPlugin, linux: Linux) {
        self.plugin = plugin
        super.init(linux: linux)
    }
}

final class AcceptQueueBox: InstanceBox {
    let plugin: any AcceptQueuePlugin
    init(_ plugin: any AcceptQueuePlugin, linux: Linux) {
        self.plugin = plugin
        super.init(linux: linux)
    }
}

final class DelayedAckBox: InstanceBox {
    let plugin: any DelayedAckPlugin
    init(_ plugin: any DelayedAckPlugin, linux: Linux) {
        self.plugin = plugin
        super.init(linux: linux)
    }
}

/// One descriptor per exported type, made on first use and never freed (TCPLab never unloads a plugin).
private let exported = Mutex<[ObjectIdentifier: UInt]>([:])

private func descriptor<P: TCPLabPlugin>(for type: P.Type, kind: UInt32, flags: UInt32,
                                         make: @escaping (Parameters) throws -> AnyObject) -> UnsafeRawPointer {
    let address = exported.withLock { table -> UInt in
        if let existing = table[ObjectIdentifier(type)] { return existing }
        let d = UnsafeMutablePointer<tcplab_plugin>.allocate(capacity: 1)
        d.initialize(to: tcplab_plugin())
        d.pointee.abi_version = TCPLAB_PLUGIN_ABI_VERSION
        d.pointee.struct_size = UInt32(MemoryLayout<tcplab_plugin>.size)
        d.pointee.kind = kind
        d.pointee.flags = flags
        d.pointee.name = permanentCString(P.name)
        d.pointee.summary = permanentCString(P.summary)
        let parameters = P.parameters
        if !parameters.isEmpty {
            let specs = UnsafeMutablePointer<tcplab_param_spec>.allocate(capacity: parameters.count)
            for (i, p) in parameters.enumerated() {
                (specs + i).initialize(to: tcplab_param_spec(
                    name: permanentCString(p.name), type: p.kind.rawValue, reserved: 0,
                    default_value: p.defaultValue.map(permanentCString), min: p.min, max: p.max, help: permanentCString(p.help)))
            }
            d.pointee.params = UnsafePointer(specs)
        }
        d.pointee.param_count = UInt32(parameters.count)
        d.pointee.plugin_data = Unmanaged.passRetained(PluginType(make: make)).toOpaque()
        d.pointee.create = createInstance
        d.pointee.destroy = { instance in
            if let instance { Unmanaged<AnyObject>.fromOpaque(instance).release() }
        }
        switch kind {
        case TCPLAB_KIND_ISN: d.pointee.isn = UnsafePointer(permanent(isnOps))
        case TCPLAB_KIND_ACCEPT_QUEUE: d.pointee.accept_queue = UnsafePointer(permanent(acceptQueueOps))
        default: d.pointee.delayed_ack = UnsafePointer(permanent(delayedAckOps))
        }
        let address = UInt(bitPattern: d)
        table[ObjectIdentifier(type)] = address
        return address
    }
    return UnsafeRawPointer(bitPattern: address)!
}

private func permanentCString(_ s: String) -> UnsafePointer<CChar> {
    let bytes = Array(s.utf8CString)
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
    p.initialize(from: bytes, count: bytes.count)
    return UnsafePointer(p)
}

private func permanent<T>(_ value: T) -> UnsafeMutablePointer<T> {
    let p = UnsafeMutablePointer<T>.allocate(capacity: 1)
    p.initialize(to: value)
    return p
}

private let createInstance: @convention(c) (
    UnsafePointer<tcplab_plugin>?, UnsafePointer<tcplab_host>?, UnsafePointer<tcplab_param_value>?, UInt32,
    UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<CChar>?, Int
) -> Int32 = { plugin, host, values, count, instance, errorBuffer, capacity in
    guard let plugin, let data = plugin.pointee.plugin_data, let host, let instance else { return 1 }
    let type = Unmanaged<PluginType>.fromOpaque(data).takeUnretainedValue()
    let defaults = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    defaults.initialize(to: 0)
    do {
        // From here the box owns `defaults`.
        let box = try type.make(Parameters(linux: Linux(host: host, defaults: defaults), values: values, count: Int(count)))
        instance.pointee = Unmanaged.passRetained(box).toOpaque()
        return 0
    } catch {
        defaults.deallocate()
        if let errorBuffer, capacity > 0 {
            let message = Array("\(error)".utf8.prefix(capacity - 1))
            for (i, b) in message.enumerated() { errorBuffer[i] = CChar(bitPattern: b) }
            errorBuffer[message.count] = 0
        }
        return 1
    }
}

@inline(__always) private func isnBox<R>(_ p: UnsafeMutableRawPointer?, _ body: (ISNBox) -> R) -> R {
    Unmanaged<ISNBox>.fromOpaque(p!)._withUnsafeGuaranteedRef(body)
}
@inline(__always) private func acceptBox<R>(_ p: UnsafeMutableRawPointer?, _ body: (AcceptQueueBox) -> R) -> R {
    Unmanaged<AcceptQueueBox>.fromOpaque(p!)._withUnsafeGuaranteedRef(body)
}
@inline(__always) private func ackBox<R>(_ p: UnsafeMutableRawPointer?, _ body: (DelayedAckBox) -> R) -> R {
    Unmanaged<DelayedAckBox>.fromOpaque(p!)._withUnsafeGuaranteedRef(body)
}

private let isnOps = tcplab_isn_ops(
    initial_sequence_number: { instance, tuple, now in
        isnBox(instance) { $0.plugin.initialSequenceNumber(for: FourTuple(tuple!.pointee), at: Instant(nanoseconds: now)) }
    },
    timestamp_offset: { instance, tuple, now in
        isnBox(instance) { $0.plugin.timestampOffset(for: FourTuple(tuple!.pointee), at: Instant(nanoseconds: now)) }
    })

private let acceptQueueOps = tcplab_accept_queue_ops(
    on_syn: { instance, syn, listener in
        acceptBox(instance) {
            if $0.isDefault(.onSyn) { return $0.linuxAcceptQueue.on_syn!($0.linuxInstance, syn, listener) }
            return $0.plugin.onSyn(SynFacts(syn!.pointee), listener: ListenerSnapshot(listener!.pointee)).code
        }
    },
    on_accept_queue_full: { instance, tuple, listener in
        acceptBox(instance) {
            if $0.isDefault(.onAcceptQueueFull) { return $0.linuxAcceptQueue.on_accept_queue_full!($0.linuxInstance, tuple, listener) }
            return $0.plugin.onAcceptQueueFull(FourTuple(tuple!.pointee), listener: ListenerSnapshot(listener!.pointee)).code
        }
    },
    select_child: { instance, queue, count in
        acceptBox(instance) { Int64($0.plugin.selectChild(ChildQueue(base: queue!, count: Int(count)))) }
    })

private let delayedAckOps = tcplab_delayed_ack_ops(
    data_received: { instance, ack, data, facts in
        ackBox(instance) {
            if $0.isDefault(.dataReceived) { return $0.linuxDelayedAck.data_received!($0.linuxInstance, ack, data, facts) }
            var s = AckState(ack!.pointee)
            $0.plugin.dataReceived(&s, ReceivedData(data!.pointee), facts: AckFacts(facts!.pointee))
            ack!.pointee = s.c
        }
    },
    ack_check: { instance, ack, facts, deadline in
        ackBox(instance) {
            if $0.isDefault(.ackCheck) { return $0.linuxDelayedAck.ack_check!($0.linuxInstance, ack, facts, deadline) }
            var s = AckState(ack!.pointee)
            let decision = $0.plugin.ackCheck(&s, facts: AckFacts(facts!.pointee))
            ack!.pointee = s.c
            return decision.encode(deadline)
        }
    },
    enter_quick_ack: { instance, ack, credits, facts in
        ackBox(instance) {
            if $0.isDefault(.enterQuickAck) { return $0.linuxDelayedAck.enter_quick_ack!($0.linuxInstance, ack, credits, facts) }
            var s = AckState(ack!.pointee)
            $0.plugin.enterQuickAck(&s, credits: Int(credits), facts: AckFacts(facts!.pointee))
            ack!.pointee = s.c
        }
    },
    delay_third_ack: { instance, ack, third, facts, deadline in
        ackBox(instance) {
            if $0.isDefault(.delayThirdAck) { return $0.linuxDelayedAck.delay_third_ack!($0.linuxInstance, ack, third, facts, deadline) }
            var s = AckState(ack!.pointee)
            let decision = $0.plugin.delayThirdAck(&s, ThirdAckFacts(third!.pointee), facts: AckFacts(facts!.pointee))
            ack!.pointee = s.c
            return decision.encode(deadline)
        }
    },
    timer_fired: { instance, ack, facts in
        ackBox(instance) {
            if $0.isDefault(.timerFired) { return $0.linuxDelayedAck.timer_fired!($0.linuxInstance, ack, facts) }
            var s = AckState(ack!.pointee)
            let fire = $0.plugin.timerFired(&s, facts: AckFacts(facts!.pointee))
            ack!.pointee = s.c
            return fire ? 1 : 0
        }
    },
    data_sent: { instance, ack, facts in
        ackBox(instance) {
            if $0.isDefault(.dataSent) { return $0.linuxDelayedAck.data_sent!($0.linuxInstance, ack, facts) }
            var s = AckState(ack!.pointee)
            $0.plugin.dataSent(&s, facts: AckFacts(facts!.pointee))
            ack!.pointee = s.c
        }
    },
    ack_sent: { instance, ack, facts in
        ackBox(instance) {
            if $0.isDefault(.ackSent) { return $0.linuxDelayedAck.ack_sent!($0.linuxInstance, ack, facts) }
            var s = AckState(ack!.pointee)
            $0.plugin.ackSent(&s, facts: AckFacts(facts!.pointee))
            ack!.pointee = s.c
        }
    },
    set_quick_ack: { instance, ack, value, facts in
        ackBox(instance) {
            if $0.isDefault(.setQuickAck) { return $0.linuxDelayedAck.set_quick_ack!($0.linuxInstance, ack, value, facts) }
            var s = AckState(ack!.pointee)
            $0.plugin.setQuickAck(&s, value: Int(value), facts: AckFacts(facts!.pointee))
            ack!.pointee = s.c
        }
    })

#if canImport(Glibc)
import Glibc
#endif
import CTCPLabPlugin
import TCPPolicy

/// Where a policy comes from.
public enum PolicySource: Hashable, Sendable, CustomStringConvertible {
    /// Compiled into TCPLab (`linux`).
    case builtIn
    /// A shared library loaded with dlopen.
    case library(path: String)
    /// A descriptor handed over in-process (tests, plugins linked into the binary).
    case inProcess(origin: String)

    public var description: String {
        switch self {
        case .builtIn: "built in"
        case let .library(path): path
        case let .inProcess(origin): origin
        }
    }
}

/// What a policy is: its kind, name, summary, parameters and origin, as `tcplab plugins` lists it.
public struct PolicyInfo: Hashable, Sendable {
    public var kind: PolicyKind
    public var name: String
    public var summary: String
    public var parameters: [PolicyParameter]
    public var source: PolicySource
    /// Accept-queue policies: whether the engine counts requests per source for it.
    public var wantsPerSourceCounts: Bool

    public init(kind: PolicyKind, name: String, summary: String, parameters: [PolicyParameter] = [],
                source: PolicySource = .builtIn, wantsPerSourceCounts: Bool = false) {
        self.kind = kind
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.source = source
        self.wantsPerSourceCounts = wantsPerSourceCounts
    }

    /// Parses a topology's parameter dictionary against the declared parameters: every value parsed
    /// and range-checked, every default filled in, in declaration order.
    public func resolve(_ given: [String: String]) throws(PluginError) -> [(PolicyParameter, ParameterValue, String)] {
        let path: String? = if case let .library(p) = source { p } else { nil }
        let known = parameters.map(\.name)
        for key in given.keys.sorted() where !known.contains(key) {
            let hint = closest(to: key, in: known).map { " (did you mean '\($0)'?)" } ?? ""
            throw PluginError(.unknownParameter, plugin: name, path: path,
                              message: "unknown parameter '\(key)'\(hint)",
                              fix: known.isEmpty ? "\(name) takes no parameters: remove '\(key)'"
                                  : "use one of: \(known.joined(separator: ", "))")
        }
        var resolved: [(PolicyParameter, ParameterValue, String)] = []
        for p in parameters {
            guard let text = given[p.name] ?? p.defaultValue else {
                throw PluginError(.missingParameter, plugin: name, path: path,
                                  message: "parameter '\(p.name)' (\(p.typeDescription)) is required",
                                  fix: "add it: \(kind): { plugin: \(name), \(p.name): … } — \(p.help)")
            }
            switch p.parse(text) {
            case let .success(v): resolved.append((p, v, text))
            case let .failure(problem):
                throw PluginError(.invalidParameter, plugin: name, path: path,
                                  message: "parameter '\(p.name)': \(problem.message)", fix: problem.fix)
            }
        }
        return resolved
    }
}

/// A plugin library: opened with dlopen, its `tcplab_plugin_v1` descriptor checked field by field.
/// Libraries are never closed: a Swift library cannot be unloaded safely, and instances may outlive
/// the registry that opened them.
public final class PluginLibrary: @unchecked Sendable {
    public let info: PolicyInfo
    /// The file, for libraries loaded with dlopen.
    public let path: String?
    let descriptor: UnsafePointer<tcplab_plugin>

    /// The symbol every plugin exports.
    public static let entryPoint = TCPLAB_PLUGIN_ENTRY_NAME

    /// Opens the plugin library at `path` and checks its descriptor.
    /// - Throws: `PluginError` naming the file, the problem and the fix: no such file, not loadable,
    ///   no entry point, another ABI version, an incomplete descriptor.
    public static func open(_ path: String) throws(PluginError) -> PluginLibrary {
        let file = String(path.split(separator: "/").last ?? Substring(path))
        guard access(path, F_OK) == 0 else {
            throw PluginError(.fileNotFound, plugin: file, path: path, message: "no such file",
                              fix: "check the path; a plugin of this package is built by `swift build` into .build/debug (or release)")
        }
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw PluginError(.notALibrary, plugin: file, path: path, message: "dlopen failed: \(reason)",
                              fix: "point at a shared library (.so) built for this machine; if it names a missing dependency, install it or add its directory to LD_LIBRARY_PATH")
        }
        guard let symbol = dlsym(handle, TCPLAB_PLUGIN_ENTRY_NAME) else {
            // A newer (or older) plugin exports its own version's entry point: say which.
            for v in 2...9 where dlsym(handle, "tcplab_plugin_v\(v)") != nil {
                throw PluginError(.abiMismatch, plugin: file, path: path,
                                  message: "exports tcplab_plugin_v\(v) (plugin ABI \(v)); this TCPLab speaks ABI \(TCPLAB_PLUGIN_ABI_VERSION)",
                                  fix: "rebuild the plugin against this TCPLab's tcplab_plugin.h / TCPLabPluginKit, or upgrade TCPLab")
            }
            throw PluginError(.notAPlugin, plugin: file, path: path,
                              message: "the library exports no '\(TCPLAB_PLUGIN_ENTRY_NAME)' entry point",
                              fix: "export one: in Swift `@_cdecl(\"tcplab_plugin_v1\") public func tcplabPluginV1() -> UnsafeRawPointer { exportPlugin(MyPlugin.self) }`, in C `TCPLAB_EXPORT const tcplab_plugin *tcplab_plugin_v1(void)`; check with `nm -D \(file) | grep tcplab`")
        }
        let entry = unsafeBitCast(symbol, to: tcplab_plugin_entry.self)
        return try PluginLibrary(entry: entry, source: .library(path: path), label: file)
    }

    /// Checks a `tcplab_plugin` descriptor that lives in this process: a plugin linked into the binary,
    /// or one made in a test with `exportPlugin(MyPlugin.self)`. The descriptor must stay valid forever.
    public convenience init(descriptor: UnsafeRawPointer, origin: String) throws(PluginError) {
        try self.init(entry: nil, descriptor: descriptor.assumingMemoryBound(to: tcplab_plugin.self),
                      source: .inProcess(origin: origin), label: origin)
    }

    private convenience init(entry: tcplab_plugin_entry, source: PolicySource, label: String) throws(PluginError) {
        try self.init(entry: entry, descriptor: nil, source: source, label: label)
    }

    private init(entry: tcplab_plugin_entry?, descriptor: UnsafePointer<tcplab_plugin>?, source: PolicySource,
                 label: String) throws(PluginError) {
        let path: String? = if case let .library(p) = source { p } else { nil }
        guard let d = descriptor ?? entry?() else {
            throw PluginError(.invalidDescriptor, plugin: label, path: path, message: "tcplab_plugin_v1() returned NULL",
                              fix: "return a pointer to a static tcplab_plugin descriptor")
        }
        self.descriptor = d
        self.path = path
        info = try Self.check(d.pointee, source: source, label: label, path: path)
    }

    /// Every check of tcplab_plugin.h's contract, point 2.
    private static func check(_ d: tcplab_plugin, source: PolicySource, label: String, path: String?) throws(PluginError) -> PolicyInfo {
        func fail(_ problem: PluginError.Problem, _ name: String, _ message: String, _ fix: String) -> PluginError {
            PluginError(problem, plugin: name, path: path, message: message, fix: fix)
        }
        func fail(_ name: String, _ message: String, _ fix: String) -> PluginError {
            PluginError(.invalidDescriptor, plugin: name, path: path, message: message, fix: fix)
        }
        guard d.abi_version == TCPLAB_PLUGIN_ABI_VERSION else {
            throw fail(.abiMismatch, label, "the descriptor says ABI version \(d.abi_version); this TCPLab speaks ABI \(TCPLAB_PLUGIN_ABI_VERSION)",
                       "rebuild the plugin against this TCPLab's tcplab_plugin.h / TCPLabPluginKit (abi_version = TCPLAB_PLUGIN_ABI_VERSION)")
        }
        let size = MemoryLayout<tcplab_plugin>.size
        guard d.struct_size >= size else {
            throw fail(.abiMismatch, label, "struct_size is \(d.struct_size), expected \(size)",
                       "set struct_size = sizeof(tcplab_plugin) and rebuild against this TCPLab's tcplab_plugin.h")
        }
        guard let kind = PolicyKind(abiValue: d.kind) else {
            throw fail(label, "kind is \(d.kind)", "set kind to TCPLAB_KIND_ISN (1), TCPLAB_KIND_ACCEPT_QUEUE (2) or TCPLAB_KIND_DELAYED_ACK (3)")
        }
        guard let namePointer = d.name else { throw fail(label, "name is NULL", "set name to what a topology writes, e.g. \"counter\"") }
        let name = String(cString: namePointer)
        guard isPolicyName(name) else {
            throw fail(label, "name '\(name)' is not made of lowercase letters, digits and '-'", "rename it, e.g. 'my-isn'")
        }
        guard name != "linux" else {
            throw fail(name, "the name 'linux' is reserved for the built-in policies", "choose another name")
        }
        guard let summary = d.summary.map({ String(cString: $0) }), !summary.isEmpty else {
            throw fail(name, "summary is NULL or empty", "set summary to one line saying what the plugin does")
        }
        var parameters: [PolicyParameter] = []
        if d.param_count > 0 {
            guard let specs = d.params else {
                throw fail(name, "param_count is \(d.param_count) but params is NULL", "point params at an array of param_count tcplab_param_spec")
            }
            for i in 0..<Int(d.param_count) {
                let s = specs[i]
                guard let pn = s.name.map({ String(cString: $0) }), isPolicyName(pn) else {
                    throw fail(name, "params[\(i)].name is NULL or not made of [a-z0-9-]", "name each parameter like 'per-second'")
                }
                guard !parameters.contains(where: { $0.name == pn }) else {
                    throw fail(name, "parameter '\(pn)' is declared twice", "remove one of them")
                }
                guard let type = ParameterType(rawValue: s.type) else {
                    throw fail(name, "parameter '\(pn)' has type \(s.type)", "use a TCPLAB_PARAM_* type (1…5)")
                }
                guard s.min <= s.max else {
                    throw fail(name, "parameter '\(pn)' has min \(s.min) > max \(s.max)", "swap or fix the bounds")
                }
                let p = PolicyParameter(name: pn, type: type, defaultValue: s.default_value.map { String(cString: $0) },
                                        min: s.min, max: s.max, help: s.help.map { String(cString: $0) } ?? "")
                if let dv = p.defaultValue, case let .failure(problem) = p.parse(dv) {
                    throw fail(name, "the default of parameter '\(pn)' is invalid: \(problem.message)", problem.fix)
                }
                parameters.append(p)
            }
        }
        guard d.create != nil else { throw fail(name, "create is NULL", "set create to a function that makes an instance") }
        guard d.destroy != nil else { throw fail(name, "destroy is NULL", "set destroy (an empty function is fine for a stateless plugin)") }

        // Exactly the ops of the plugin's kind, each function present.
        let present = [(PolicyKind.isn, d.isn != nil, "isn"), (.acceptQueue, d.accept_queue != nil, "accept_queue"),
                       (.delayedAck, d.delayed_ack != nil, "delayed_ack")]
        for (k, set, field) in present {
            if k == kind && !set {
                throw fail(name, "kind is \(kind) but \(field) is NULL", "point \(field) at a tcplab_\(field)_ops with every function set")
            }
            if k != kind && set {
                throw fail(name, "kind is \(kind) but \(field) is set too", "set only the ops of the plugin's kind; leave \(field) NULL")
            }
        }
        var missing: [String] = []
        switch kind {
        case .isn:
            let ops = d.isn!.pointee
            if ops.initial_sequence_number == nil { missing.append("initial_sequence_number") }
            if ops.timestamp_offset == nil { missing.append("timestamp_offset") }
        case .acceptQueue:
            let ops = d.accept_queue!.pointee
            if ops.on_syn == nil { missing.append("on_syn") }
            if ops.on_accept_queue_full == nil { missing.append("on_accept_queue_full") }
            if ops.select_child == nil { missing.append("select_child") }
        case .delayedAck:
            let ops = d.delayed_ack!.pointee
            if ops.data_received == nil { missing.append("data_received") }
            if ops.ack_check == nil { missing.append("ack_check") }
            if ops.enter_quick_ack == nil { missing.append("enter_quick_ack") }
            if ops.delay_third_ack == nil { missing.append("delay_third_ack") }
            if ops.timer_fired == nil { missing.append("timer_fired") }
            if ops.data_sent == nil { missing.append("data_sent") }
            if ops.ack_sent == nil { missing.append("ack_sent") }
            if ops.set_quick_ack == nil { missing.append("set_quick_ack") }
        }
        if !missing.isEmpty {
            let field = kind == .isn ? "isn" : kind == .acceptQueue ? "accept_queue" : "delayed_ack"
            throw fail(name, "\(field)->\(missing.joined(separator: ", ")) \(missing.count == 1 ? "is" : "are") NULL",
                       "implement \(missing.count == 1 ? "it" : "them"); to keep Linux's behaviour, call host->linux_\(field)->… with host->linux_instance")
        }
        return PolicyInfo(kind: kind, name: name, summary: summary, parameters: parameters, source: source,
                          wantsPerSourceCounts: kind == .acceptQueue && d.flags & TCPLAB_FLAG_PER_SOURCE_COUNTS != 0)
    }

    /// Makes an instance: parameters parsed and checked against the declaration, then `create`.
    /// - Throws: `PluginError` for an unknown, missing or ill-typed parameter, or when `create` refuses.
    public func instantiate(parameters: [String: String] = [:], context: PolicyContext = PolicyContext())
        throws(PluginError) -> PluginPolicy
    {
        let resolved = try info.resolve(parameters)
        let linux = LinuxPolicies(isn: context.linuxISN())
        let instance = try create(resolved, linux: linux)
        switch info.kind {
        case .isn: return PluginISN(library: self, instance: instance, linux: linux)
        case .acceptQueue: return PluginAcceptQueue(library: self, instance: instance, linux: linux)
        case .delayedAck: return PluginDelayedAck(library: self, instance: instance, linux: linux)
        }
    }

    /// Calls the plugin's `create` with C copies of the resolved parameters.
    private func create(_ resolved: [(PolicyParameter, ParameterValue, String)], linux: LinuxPolicies) throws(PluginError)
        -> PluginPolicy.Instance
    {
        let host = UnsafeMutablePointer<tcplab_host>.allocate(capacity: 1)
        let sink = LogSink(plugin: info.name)
        host.initialize(to: tcplab_host(
            abi_version: TCPLAB_PLUGIN_ABI_VERSION, struct_size: UInt32(MemoryLayout<tcplab_host>.size),
            context: Unmanaged.passUnretained(sink).toOpaque(),
            log: { context, message in
                guard let context, let message else { return }
                Unmanaged<LogSink>.fromOpaque(context).takeUnretainedValue().write(String(cString: message))
            },
            linux_instance: Unmanaged.passUnretained(linux).toOpaque(),
            linux_isn: UnsafePointer(linuxISNOps), linux_accept_queue: UnsafePointer(linuxAcceptQueueOps),
            linux_delayed_ack: UnsafePointer(linuxDelayedAckOps)))
        // The strings live until create returns; the plugin copies what it keeps.
        let strings = resolved.map { (Array($0.0.name.utf8CString), Array($0.2.utf8CString)) }
        var values: [tcplab_param_value] = []
        var errorBuffer = [CChar](repeating: 0, count: 512)
        var instance: UnsafeMutableRawPointer? = nil
        let status: Int32 = strings.withCStringPointers { pointers in
            for (i, (p, v, _)) in resolved.enumerated() {
                var integer: Int64 = 0, prefixLength: UInt32 = 0
                switch v {
                case let .int(x): integer = x
                case let .bool(b): integer = b ? 1 : 0
                case .string: break
                case let .duration(d): integer = d.nanoseconds
                case let .ipv4Prefix(a, n):
                    integer = Int64(a.rawValue)
                    prefixLength = UInt32(n)
                }
                values.append(tcplab_param_value(name: pointers[i].0, type: p.type.rawValue, prefix_length: prefixLength,
                                                 integer: integer, text: pointers[i].1))
            }
            return values.withUnsafeBufferPointer { buffer in
                errorBuffer.withUnsafeMutableBufferPointer { error in
                    descriptor.pointee.create!(descriptor, host, buffer.baseAddress, UInt32(buffer.count), &instance,
                                               error.baseAddress, error.count)
                }
            }
        }
        guard status == 0 else {
            host.deinitialize(count: 1)
            host.deallocate()
            let end = errorBuffer.firstIndex(of: 0) ?? errorBuffer.count
            let message = String(decoding: errorBuffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw PluginError(.creationFailed, plugin: info.name, path: path,
                              message: message.isEmpty ? "create returned \(status) without a message" : message,
                              fix: "change the parameters as the message says, or see `tcplab plugins` for what \(info.name) accepts")
        }
        return PluginPolicy.Instance(pointer: instance, host: host, log: sink)
    }
}

/// Where a plugin's `host->log` lines go: the instance's `onLog`, or standard error.
final class LogSink {
    let plugin: String
    var handler: ((String) -> Void)?
    init(plugin: String) { self.plugin = plugin }
    func write(_ message: String) {
        if let handler { handler(message) } else { printToStandardError("[plugin \(plugin)] \(message)") }
    }
}

func printToStandardError(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// `[a-z0-9][a-z0-9-]*`.
func isPolicyName(_ s: String) -> Bool {
    guard let first = s.utf8.first, first != UInt8(ascii: "-") else { return false }
    return s.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") }
}

extension Array where Element == ([CChar], [CChar]) {
    /// Calls `body` with stable C pointers to every pair of strings.
    func withCStringPointers<R>(_ body: ([(UnsafePointer<CChar>, UnsafePointer<CChar>)]) -> R) -> R {
        // Copies into one allocation that outlives the call.
        let total = reduce(0) { $0 + $1.0.count + $1.1.count }
        let storage = UnsafeMutablePointer<CChar>.allocate(capacity: Swift.max(total, 1))
        defer { storage.deallocate() }
        var pointers: [(UnsafePointer<CChar>, UnsafePointer<CChar>)] = []
        var offset = 0
        for (a, b) in self {
            (storage + offset).initialize(from: a, count: a.count)
            let pa = UnsafePointer(storage + offset)
            offset += a.count
            (storage + offset).initialize(from: b, count: b.count)
            let pb = UnsafePointer(storage + offset)
            offset += b.count
            pointers.append((pa, pb))
        }
        return body(pointers)
    }
}

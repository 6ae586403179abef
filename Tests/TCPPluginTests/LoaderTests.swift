#if canImport(Glibc)
import Glibc
#endif
import CTCPLabPlugin
import LabSim
import TCPEngine
import TCPPluginHost
import TCPPolicy
import TCPWire
import Testing

/// A descriptor built by hand through the C ABI, valid unless `tweak` breaks it.
func rawDescriptor(kind: UInt32 = TCPLAB_KIND_ISN, name: String = "raw",
                   tweak: (inout tcplab_plugin) -> Void = { _ in }) -> UnsafeRawPointer {
    var d = tcplab_plugin()
    d.abi_version = TCPLAB_PLUGIN_ABI_VERSION
    d.struct_size = UInt32(MemoryLayout<tcplab_plugin>.size)
    d.kind = kind
    d.name = UnsafePointer(strdup(name))
    d.summary = UnsafePointer(strdup("made by hand"))
    d.create = { _, _, _, _, instance, _, _ in
        instance?.pointee = nil
        return 0
    }
    d.destroy = { _ in }
    switch kind {
    case TCPLAB_KIND_ISN:
        let ops = UnsafeMutablePointer<tcplab_isn_ops>.allocate(capacity: 1)
        ops.initialize(to: tcplab_isn_ops(initial_sequence_number: { _, _, _ in 42 }, timestamp_offset: { _, _, _ in 0 }))
        d.isn = UnsafePointer(ops)
    case TCPLAB_KIND_ACCEPT_QUEUE:
        let ops = UnsafeMutablePointer<tcplab_accept_queue_ops>.allocate(capacity: 1)
        ops.initialize(to: tcplab_accept_queue_ops(on_syn: { _, _, _ in 0 },  // 0 is never a valid verdict
                                                   on_accept_queue_full: { _, _, _ in 7 },
                                                   select_child: { _, _, _ in -1 }))
        d.accept_queue = UnsafePointer(ops)
    default:
        let ops = UnsafeMutablePointer<tcplab_delayed_ack_ops>.allocate(capacity: 1)
        ops.initialize(to: tcplab_delayed_ack_ops(
            data_received: { _, _, _, _ in }, ack_check: { _, _, _, _ in TCPLAB_ACK_DECISION_NOW },
            enter_quick_ack: { _, _, _, _ in }, delay_third_ack: { _, _, _, _, _ in TCPLAB_ACK_DECISION_NOW },
            timer_fired: { _, _, _ in 0 }, data_sent: { _, _, _ in }, ack_sent: { _, _, _ in }, set_quick_ack: { _, _, _, _ in }))
        d.delayed_ack = UnsafePointer(ops)
    }
    tweak(&d)
    let p = UnsafeMutablePointer<tcplab_plugin>.allocate(capacity: 1)
    p.initialize(to: d)
    return UnsafeRawPointer(p)
}

/// Expects `body` to throw a `PluginError` with `problem`, and returns it.
@discardableResult
func expectPluginError(_ problem: PluginError.Problem, sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () throws -> Void) -> PluginError? {
    do {
        try body()
        Issue.record("expected a PluginError (\(problem)), got none", sourceLocation: sourceLocation)
        return nil
    } catch let error as PluginError {
        #expect(error.problem == problem, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a PluginError (\(problem)), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

@Suite("Registry, loader and the checks of bad input")
struct LoaderTests {
    let registry = Plugins.registry()

    @Test("the listing shows the built-in policies and every plugin with its parameters")
    func listing() throws {
        let text = registry.listing()
        for name in ["counter", "rfc793", "lifo", "fair", "refuse-prefix", "immediate", "fixed-delay", "every-nth"] {
            #expect(text.contains("  \(name) "), "\(name) missing from:\n\(text)")
        }
        #expect(text.contains("ISN generators (isn:)"))
        #expect(text.contains("libCounterISN.so"))
        #expect(text.contains("increment") && text.contains("default 64000"))
        #expect(text.contains("delay") && text.contains("duration 0s…499ms"))
        #expect(text.contains("prefix") && text.contains("required"))
        #expect(registry.problems.isEmpty, "\(registry.problems)")
        let linux = registry.available().filter { $0.name == "linux" }
        #expect(linux.map(\.kind) == [.isn, .acceptQueue, .delayedAck])
        #expect(linux.allSatisfy { $0.source == .builtIn })
        let counter = try registry.info(.isn, named: "counter")
        #expect(counter.parameters.map(\.name) == ["increment", "per-second", "start"])
        #expect(try registry.info(.acceptQueue, named: "fair").wantsPerSourceCounts)
    }

    @Test("the built-in linux policies are TCPPolicy's own objects, keyed like Host's default")
    func builtInLinux() throws {
        let isn = try registry.makeISN("linux", context: PolicyContext(seed: 9))
        #expect(isn is LinuxISN)
        #expect(try registry.makeAcceptQueue("linux") is LinuxAcceptQueue)
        #expect(try registry.makeDelayedAck("linux") is LinuxDelayedAck)
        let host = Host(name: "h", interfaces: [], seed: 9)
        #expect((isn as! LinuxISN).key == (host.isn as! LinuxISN).key)
        expectPluginError(.unknownParameter) { _ = try registry.makeISN("linux", parameters: ["seed": "1"]) }
    }

    @Test("a plugin can be named by the path of its library")
    func byPath() throws {
        let isn = try registry.makeISN(Plugins.path("CounterISN"), parameters: ["start": "5"])
        #expect(isn.initialSequenceNumber(for: FourTuple(local: SocketAddress(.any, 1), remote: SocketAddress(.any, 2)),
                                          at: .zero).rawValue == 5)
        expectPluginError(.wrongKind) { _ = try registry.makeISN(Plugins.path("LIFOAcceptQueue")) }
    }

    @Test("TCPLAB_PLUGIN_PATH and --plugin-path directories are searched in order")
    func searchPath() throws {
        let r = PolicyRegistry(pluginPath: ["/nonexistent-a"], environment: ["TCPLAB_PLUGIN_PATH": "/nonexistent-b:\(Plugins.directory)"],
                               includeBuildDirectory: false)
        #expect(r.searchPath.map(\.origin) == ["--plugin-path", "TCPLAB_PLUGIN_PATH", "TCPLAB_PLUGIN_PATH"])
        #expect(try r.info(.isn, named: "counter").source == .library(path: Plugins.path("CounterISN")))
        let twice = PolicyRegistry(pluginPath: [Plugins.directory, Plugins.directory + "/"], environment: [:],
                                   includeBuildDirectory: false)
        #expect(twice.searchPath.count == 1)
    }

    // MARK: Files that are not plugins

    @Test("a missing file, a file that is not a library, a library that is not a plugin")
    func notPlugins() throws {
        let missing = expectPluginError(.fileNotFound) { _ = try registry.makeISN("/nonexistent/libNothing.so") }
        #expect(missing?.description.contains("/nonexistent/libNothing.so") == true)

        let text = "/tmp/tcplab-not-a-library-\(getpid()).so"
        let f = fopen(text, "w")!
        fputs("hello\n", f)
        fclose(f)
        defer { unlink(text) }
        let notLibrary = expectPluginError(.notALibrary) { _ = try registry.makeISN(text) }
        #expect(notLibrary?.message.contains("dlopen failed") == true)

        let libm = "/usr/lib/x86_64-linux-gnu/libm.so.6"
        if access(libm, F_OK) == 0 {
            let notPlugin = expectPluginError(.notAPlugin) { _ = try registry.makeISN(libm) }
            #expect(notPlugin?.description.contains("tcplab_plugin_v1") == true)
            #expect(notPlugin?.fix.contains("@_cdecl(\"tcplab_plugin_v1\")") == true)
        }
    }

    @Test("a library built for another ABI version (a tcplab_plugin_v2 entry point, compiled here)")
    func otherABIEntryPoint() throws {
        let dir = "/tmp/tcplab-abi2-\(getpid())"
        mkdir(dir, 0o755)
        defer { _ = shell("rm -rf '\(dir)'") }
        let source = "\(dir)/v2.c"
        let f = fopen(source, "w")!
        fputs("__attribute__((visibility(\"default\"))) const void *tcplab_plugin_v2(void) { return 0; }\n", f)
        fclose(f)
        let cc = shell("cc -shared -fPIC -o '\(dir)/libv2.so' '\(source)'")
        try #require(cc.status == 0, "cc failed: \(cc.output)")
        let e = expectPluginError(.abiMismatch) { _ = try registry.makeISN("\(dir)/libv2.so") }
        #expect(e?.message.contains("tcplab_plugin_v2") == true)
        // On the plugin path it is reported, not fatal.
        let r = PolicyRegistry(pluginPath: [dir], environment: [:], includeBuildDirectory: false)
        _ = r.available()
        #expect(r.problems.map(\.problem) == [.abiMismatch])
        #expect(r.listing().contains("Not used:"))
    }

    // MARK: Descriptors

    @Test("descriptor checks: ABI version, struct size, kind, name, NULL function pointers, extra ops")
    func descriptors() throws {
        #expect(throws: Never.self) { _ = try PluginLibrary(descriptor: rawDescriptor(), origin: "test") }
        let abi = expectPluginError(.abiMismatch) {
            _ = try PluginLibrary(descriptor: rawDescriptor { $0.abi_version = 2 }, origin: "test")
        }
        #expect(abi?.description == "plugin 'test': the descriptor says ABI version 2; this TCPLab speaks ABI 1. Fix: rebuild the plugin against this TCPLab's tcplab_plugin.h / TCPLabPluginKit (abi_version = TCPLAB_PLUGIN_ABI_VERSION)")
        expectPluginError(.abiMismatch) { _ = try PluginLibrary(descriptor: rawDescriptor { $0.struct_size = 8 }, origin: "test") }
        expectPluginError(.invalidDescriptor) { _ = try PluginLibrary(descriptor: rawDescriptor { $0.kind = 9 }, origin: "test") }
        expectPluginError(.invalidDescriptor) { _ = try PluginLibrary(descriptor: rawDescriptor(name: "Bad Name"), origin: "test") }
        expectPluginError(.invalidDescriptor) { _ = try PluginLibrary(descriptor: rawDescriptor(name: "linux"), origin: "test") }
        expectPluginError(.invalidDescriptor) { _ = try PluginLibrary(descriptor: rawDescriptor { $0.create = nil }, origin: "test") }
        expectPluginError(.invalidDescriptor) { _ = try PluginLibrary(descriptor: rawDescriptor { $0.isn = nil }, origin: "test") }

        let missing = expectPluginError(.invalidDescriptor) {
            _ = try PluginLibrary(descriptor: rawDescriptor(kind: TCPLAB_KIND_DELAYED_ACK, name: "no-timer") { d in
                var ops = d.delayed_ack!.pointee
                ops.timer_fired = nil
                ops.ack_sent = nil
                let p = UnsafeMutablePointer<tcplab_delayed_ack_ops>.allocate(capacity: 1)
                p.initialize(to: ops)
                d.delayed_ack = UnsafePointer(p)
            }, origin: "test")
        }
        #expect(missing?.description.contains("plugin 'no-timer'") == true)
        #expect(missing?.message == "delayed_ack->timer_fired, ack_sent are NULL")
        #expect(missing?.fix.contains("host->linux_delayed_ack") == true)

        let extra = expectPluginError(.invalidDescriptor) {
            _ = try PluginLibrary(descriptor: rawDescriptor { $0.delayed_ack = UnsafePointer(linuxLikeDelayedAckOps) }, origin: "test")
        }
        #expect(extra?.message == "kind is isn but delayed_ack is set too")

        // A parameter whose default does not parse.
        let spec = UnsafeMutablePointer<tcplab_param_spec>.allocate(capacity: 1)
        spec.initialize(to: tcplab_param_spec(name: strdup("delay"), type: TCPLAB_PARAM_DURATION, reserved: 0,
                                              default_value: strdup("40"), min: 0, max: .max, help: nil))
        let badDefault = expectPluginError(.invalidDescriptor) {
            _ = try PluginLibrary(descriptor: rawDescriptor { $0.params = UnsafePointer(spec); $0.param_count = 1 }, origin: "test")
        }
        #expect(badDefault?.fix == "a duration needs a unit: write 40ms (or ns, us, s)")
    }

    // MARK: Parameters

    @Test("unknown, ill-typed, out-of-range and missing parameters: errors at load time")
    func parameters() throws {
        let typo = expectPluginError(.unknownParameter) { _ = try registry.makeISN("counter", parameters: ["incremnt": "1"]) }
        #expect(typo?.description.hasPrefix("plugin 'counter' (\(Plugins.path("CounterISN"))): unknown parameter 'incremnt' (did you mean 'increment'?). Fix: use one of: increment, per-second, start") == true)

        let none = expectPluginError(.unknownParameter) { _ = try registry.makeISN("linux", parameters: ["depth": "3"]) }
        #expect(none?.fix == "linux takes no parameters: remove 'depth'")

        let word = expectPluginError(.invalidParameter) { _ = try registry.makeISN("counter", parameters: ["increment": "lots"]) }
        #expect(word?.message == "parameter 'increment': 'lots' is not an integer")

        let negative = expectPluginError(.invalidParameter) {
            _ = try registry.makeDelayedAck("fixed-delay", parameters: ["delay": "-5ms"])
        }
        #expect(negative?.description == "plugin 'fixed-delay' (\(Plugins.path("FixedDelayAck"))): parameter 'delay': -5ms is out of range duration 0s…499ms. Fix: choose a duration between 0s and 499ms")

        let unitless = expectPluginError(.invalidParameter) { _ = try registry.makeDelayedAck("fixed-delay", parameters: ["delay": "40"]) }
        #expect(unitless?.fix == "a duration needs a unit: write 40ms (or ns, us, s)")

        let tooMany = expectPluginError(.invalidParameter) { _ = try registry.makeDelayedAck("every-nth", parameters: ["n": "0"]) }
        #expect(tooMany?.message == "parameter 'n': 0 is out of range integer 1…64")

        let prefix = expectPluginError(.invalidParameter) {
            _ = try registry.makeAcceptQueue("refuse-prefix", parameters: ["prefix": "198.18.0.0/33"])
        }
        #expect(prefix?.fix == "write an address and a length, e.g. 198.18.5.0/24")
        expectPluginError(.invalidParameter) { _ = try registry.makeAcceptQueue("refuse-prefix", parameters: ["prefix": "10.0.0.0/8", "silent": "maybe"]) }

        let required = expectPluginError(.missingParameter) { _ = try registry.makeAcceptQueue("refuse-prefix") }
        #expect(required?.message == "parameter 'prefix' (IPv4 prefix) is required")

        // Accepted spellings.
        _ = try registry.makeDelayedAck("fixed-delay", parameters: ["delay": "1.5ms"])
        _ = try registry.makeDelayedAck("fixed-delay", parameters: ["delay": " 250us "])
        _ = try registry.makeAcceptQueue("refuse-prefix", parameters: ["prefix": "198.18.0.7", "silent": "yes"])
        _ = try registry.makeISN("counter", parameters: ["increment": "64_000"])
    }

    @Test("unknown names and names of another kind")
    func names() throws {
        let typo = expectPluginError(.unknownPolicy) { _ = try registry.makeISN("countr") }
        #expect(typo?.message.contains("(did you mean 'counter'?)") == true)
        #expect(typo?.fix.contains("linux, counter, rfc793") == true)
        let kind = expectPluginError(.wrongKind) { _ = try registry.makeISN("lifo") }
        #expect(kind?.message == "'lifo' is an accept-queue policy, not an ISN generator")
        #expect(kind?.fix == "name it under accept-queue:, or choose an ISN generator: linux, counter, rfc793")
    }

    @Test("a plugin's create can refuse a configuration, with its own message")
    func creationFailure() throws {
        let library = try PluginLibrary(descriptor: MisbehavingPlugins.picky, origin: "test")
        let e = expectPluginError(.creationFailed) { _ = try library.instantiate(parameters: ["step": "3"]) }
        #expect(e?.message == "step 3 is odd: use an even step, e.g. 4")
        _ = try library.instantiate(parameters: ["step": "4"])
    }

    @Test("a name found twice on the path: the first wins, the second is reported")
    func duplicates() throws {
        let r = Plugins.registry()
        let again = try PluginLibrary(descriptor: MisbehavingPlugins.badChild, origin: "test")
        try r.add(again)
        let dup = try PluginLibrary(descriptor: rawDescriptor(name: "counter"), origin: "second")
        expectPluginError(.duplicateName) { try r.add(dup) }
        #expect(try r.info(.isn, named: "counter").source == .library(path: Plugins.path("CounterISN")))
        #expect(try r.info(.acceptQueue, named: "bad-child").source == .inProcess(origin: "test"))
    }

    @Test("a plugin reaches Linux's policies and the log through the host table")
    func hostTable() throws {
        let library = try PluginLibrary(descriptor: MisbehavingPlugins.logging, origin: "test")
        let policy = try library.instantiate(context: PolicyContext(seed: 3))
        var lines: [String] = []
        policy.onLog = { lines.append($0) }
        let isn = policy as! PluginISN
        let tuple = FourTuple(local: SocketAddress(IPv4Address(198, 18, 0, 2), 80), remote: SocketAddress(IPv4Address(198, 18, 0, 1), 40000))
        let linux = PolicyContext(seed: 3).linuxISN()
        #expect(isn.initialSequenceNumber(for: tuple, at: .zero) == linux.initialSequenceNumber(for: tuple, at: .zero))
        #expect(isn.timestampOffset(for: tuple, at: .zero) == linux.timestampOffset(for: tuple, at: .zero))
        #expect(lines == ["isn for 198.18.0.2:80<->198.18.0.1:40000"])
    }
}

/// Delayed-ACK ops that do nothing, for the "extra ops" check.
nonisolated(unsafe) let linuxLikeDelayedAckOps: UnsafeMutablePointer<tcplab_delayed_ack_ops> = {
    let p = UnsafeMutablePointer<tcplab_delayed_ack_ops>.allocate(capacity: 1)
    p.initialize(to: tcplab_delayed_ack_ops())
    return p
}()

#if canImport(Glibc)
import Glibc
#endif
import TCPPolicy

/// A policy ready for `Host(…, isn:, acceptQueue:, delayedAck:)`.
public enum PolicyInstance {
    case isn(any ISNGenerator)
    case acceptQueue(any AcceptQueuePolicy)
    case delayedAck(any DelayedAckPolicy)

    public var kind: PolicyKind {
        switch self {
        case .isn: .isn
        case .acceptQueue: .acceptQueue
        case .delayedAck: .delayedAck
        }
    }
}

/// Every policy TCPLab can use, by kind and name: the built-in ones (`linux`) and the plugins found on
/// the plugin path. A topology names both the same way (`isn: linux`, `isn: { plugin: counter,
/// increment: 64000 }`); the CLI lists them (`listing()`), the worker instantiates them (`make…`).
///
/// The plugin path, searched in this order (the first plugin of a kind and name wins):
/// 1. `pluginPath` (the CLI's `--plugin-path` directories);
/// 2. `TCPLAB_PLUGIN_PATH`, colon-separated;
/// 3. the build directory: the directory of the running executable, where `swift build` puts the
///    package's plugin libraries next to `tcplab` and `tcplab-worker`.
///
/// A name containing `/` is a path to a library, loaded directly.
public final class PolicyRegistry {
    public struct SearchDirectory: Hashable, Sendable {
        public var path: String
        /// `--plugin-path`, `TCPLAB_PLUGIN_PATH` or `build directory`.
        public var origin: String
    }

    public typealias Factory = (_ parameters: [String: ParameterValue], _ context: PolicyContext) -> PolicyInstance

    private struct Key: Hashable {
        var kind: PolicyKind
        var name: String
    }

    public let searchPath: [SearchDirectory]
    private var builtIns: [Key: (info: PolicyInfo, make: Factory)] = [:]
    private var libraries: [Key: PluginLibrary] = [:]
    private var librariesByPath: [String: PluginLibrary] = [:]
    private var scanned = false
    /// Libraries on the path that could not be used, and names found twice.
    public private(set) var problems: [PluginError] = []

    /// - Parameters:
    ///   - pluginPath: directories to search first (`--plugin-path`).
    ///   - environment: where to read `TCPLAB_PLUGIN_PATH`; nil reads the process environment.
    ///   - includeBuildDirectory: search the running executable's directory last.
    public init(pluginPath: [String] = [], environment: [String: String]? = nil, includeBuildDirectory: Bool = true) {
        var dirs = pluginPath.filter { !$0.isEmpty }.map { SearchDirectory(path: $0, origin: "--plugin-path") }
        let env = environment.map { $0["TCPLAB_PLUGIN_PATH"] } ?? getenv("TCPLAB_PLUGIN_PATH").map { String(cString: $0) }
        for d in (env ?? "").split(separator: ":") where !d.isEmpty {
            dirs.append(SearchDirectory(path: String(d), origin: "TCPLAB_PLUGIN_PATH"))
        }
        if includeBuildDirectory, let build = Self.buildDirectory { dirs.append(SearchDirectory(path: build, origin: "build directory")) }
        var seen = Set<String>()
        searchPath = dirs.filter { seen.insert(Self.normalize($0.path)).inserted }
        registerLinux()
    }

    /// The directory of the running executable (`/proc/self/exe`): the build directory for `tcplab`,
    /// `tcplab-worker` and the test bundle.
    public static var buildDirectory: String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }

    private static func normalize(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }

    // MARK: Built-ins

    /// Registers a policy compiled into the binary under `info.name` (replacing one of the same kind
    /// and name).
    public func registerBuiltIn(_ info: PolicyInfo, make: @escaping Factory) {
        builtIns[Key(kind: info.kind, name: info.name)] = (info, make)
    }

    private func registerLinux() {
        registerBuiltIn(PolicyInfo(kind: .isn, name: "linux",
                                   summary: "Linux: SipHash of the 4-tuple under a boot secret, plus a 64 ns clock (RFC 6528, secure_tcp_seq)")) {
            _, context in .isn(context.linuxISN())
        }
        registerBuiltIn(PolicyInfo(kind: .acceptQueue, name: "linux",
                                   summary: "Linux: SYN queue and accept queue bounded by the backlog, SYN cookies, FIFO accept()")) {
            _, _ in .acceptQueue(LinuxAcceptQueue())
        }
        registerBuiltIn(PolicyInfo(kind: .delayedAck, name: "linux",
                                   summary: "Linux: quick ACKs, pingpong mode, the ato estimate, 40-200 ms delayed-ACK timer")) {
            _, _ in .delayedAck(LinuxDelayedAck())
        }
    }

    // MARK: Libraries

    /// Makes a loaded library's policy available by name (a library opened elsewhere, or an in-process
    /// descriptor), after the plugins on the path.
    /// - Throws: `.duplicateName` when a policy of that kind and name is already known.
    public func add(_ library: PluginLibrary) throws(PluginError) {
        scanIfNeeded()
        try insert(library)
    }

    private func insert(_ library: PluginLibrary) throws(PluginError) {
        let key = Key(kind: library.info.kind, name: library.info.name)
        if builtIns[key] != nil || libraries[key] != nil {
            let first = builtIns[key].map { _ in "built in" } ?? libraries[key]!.info.source.description
            throw PluginError(.duplicateName, plugin: library.info.name, path: library.path,
                              message: "\(key.kind.withArticle) named '\(key.name)' already exists (\(first)); this one is not used",
                              fix: "rename one of them, or order the plugin path so that the one you want comes first")
        }
        libraries[key] = library
        if let path = library.path { librariesByPath[path] = library }
    }

    /// Opens a library by path (once; later calls return the same library).
    public func open(path: String) throws(PluginError) -> PluginLibrary {
        if let l = librariesByPath[path] { return l }
        let l = try PluginLibrary.open(path)
        librariesByPath[path] = l
        return l
    }

    /// Searches the plugin path (once; `rescan()` searches again).
    public func scanIfNeeded() {
        guard !scanned else { return }
        scanned = true
        for dir in searchPath {
            for file in Self.sharedLibraries(in: dir.path) {
                let path = dir.path.hasSuffix("/") ? dir.path + file : dir.path + "/" + file
                // Open only what can be a plugin: dlopen runs a library's initialisers.
                guard librariesByPath[path] != nil || Self.mentionsEntryPoint(path) else { continue }
                do throws(PluginError) {
                    let library = try open(path: path)
                    let key = Key(kind: library.info.kind, name: library.info.name)
                    if libraries[key] === library { continue }
                    try insert(library)
                } catch {
                    problems.append(error)
                }
            }
        }
    }

    /// Forgets what the last scan found (loaded libraries stay loaded) and searches again.
    public func rescan() {
        libraries = libraries.filter { if case .library = $0.value.info.source { false } else { true } }
        problems = []
        scanned = false
        scanIfNeeded()
    }

    /// `*.so` files in `dir`, sorted.
    static func sharedLibraries(in dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasSuffix(".so") || name.contains(".so.") { names.append(name) }
        }
        return names.sorted()
    }

    /// Whether the file contains the bytes `tcplab_plugin_v` (any ABI version's entry point name).
    static func mentionsEntryPoint(_ path: String) -> Bool {
        guard let f = fopen(path, "rb") else { return false }
        defer { fclose(f) }
        let needle = Array("tcplab_plugin_v".utf8)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var carry: [UInt8] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n <= 0 { return false }
            let chunk = carry + buffer[0..<n]
            let found = chunk.withUnsafeBytes { raw -> Bool in
                guard let base = raw.baseAddress else { return false }
                var offset = 0
                while offset + needle.count <= raw.count {
                    guard let hit = memchr(base + offset, Int32(needle[0]), raw.count - offset) else { return false }
                    let at = base.distance(to: UnsafeRawPointer(hit))
                    if at + needle.count > raw.count { return false }
                    if memcmp(hit, needle, needle.count) == 0 { return true }
                    offset = at + 1
                }
                return false
            }
            if found { return true }
            carry = Array(chunk.suffix(needle.count - 1))
        }
    }

    // MARK: Lookup

    /// Every policy: the built-in ones and the plugins on the path, by kind, built-ins first.
    public func available() -> [PolicyInfo] {
        scanIfNeeded()
        let all = builtIns.values.map(\.info) + libraries.values.map(\.info)
        let order = PolicyKind.allCases
        return all.sorted {
            if $0.kind != $1.kind { return order.firstIndex(of: $0.kind)! < order.firstIndex(of: $1.kind)! }
            if ($0.source == .builtIn) != ($1.source == .builtIn) { return $0.source == .builtIn }
            return $0.name < $1.name
        }
    }

    /// What `name` is for `kind`.
    /// - Throws: `.unknownPolicy` (with the names that exist and where the path was searched), or
    ///   `.wrongKind` when the name belongs to another kind.
    public func info(_ kind: PolicyKind, named name: String) throws(PluginError) -> PolicyInfo {
        if name.contains("/") { return try library(kind, path: name).info }
        if let b = builtIns[Key(kind: kind, name: name)] { return b.info }
        scanIfNeeded()
        if let l = libraries[Key(kind: kind, name: name)] { return l.info }
        let other = PolicyKind.allCases.first { $0 != kind && (builtIns[Key(kind: $0, name: name)] != nil || libraries[Key(kind: $0, name: name)] != nil) }
        if let other {
            throw PluginError(.wrongKind, plugin: name, message: "'\(name)' is \(other.withArticle), not \(kind.withArticle)",
                              fix: "name it under \(other.rawValue):, or choose \(kind.withArticle): \(names(kind).joined(separator: ", "))")
        }
        let known = names(kind)
        let hint = closest(to: name, in: known).map { " (did you mean '\($0)'?)" } ?? ""
        let searched = searchPath.isEmpty ? "no plugin directory" : searchPath.map(\.path).joined(separator: ", ")
        throw PluginError(.unknownPolicy, plugin: name,
                          message: "no \(kind.title) named '\(name)'\(hint) among the built-in policies and the plugins in \(searched)",
                          fix: "use one of: \(known.joined(separator: ", ")); for a plugin elsewhere add its directory with --plugin-path or TCPLAB_PLUGIN_PATH, or build this package's plugins with `swift build`")
    }

    private func names(_ kind: PolicyKind) -> [String] {
        (builtIns.keys.filter { $0.kind == kind }.map(\.name).sorted()) + libraries.keys.filter { $0.kind == kind }.map(\.name).sorted()
    }

    private func library(_ kind: PolicyKind, path: String) throws(PluginError) -> PluginLibrary {
        let l = try open(path: path)
        guard l.info.kind == kind else {
            throw PluginError(.wrongKind, plugin: l.info.name, path: path, message: "it is \(l.info.kind.withArticle), not \(kind.withArticle)",
                              fix: "name it under \(l.info.kind.rawValue): in the topology")
        }
        return l
    }

    // MARK: Instantiation

    /// A new instance of the policy `name` of `kind` with `parameters` as a topology writes them.
    /// Built-in policies are returned as themselves (no wrapper: a direct call); plugins come wrapped
    /// in `PluginISN`, `PluginAcceptQueue` or `PluginDelayedAck`, which check every answer.
    /// - Throws: `PluginError` for an unknown name, a library that does not load, an unknown, missing or
    ///   ill-typed parameter, or a configuration the plugin refuses.
    public func make(_ kind: PolicyKind, _ name: String, parameters: [String: String] = [:],
                     context: PolicyContext = PolicyContext()) throws(PluginError) -> PolicyInstance {
        if !name.contains("/"), let b = builtIns[Key(kind: kind, name: name)] {
            let resolved = try b.info.resolve(parameters)
            return b.make(Dictionary(uniqueKeysWithValues: resolved.map { ($0.0.name, $0.1) }), context)
        }
        _ = try info(kind, named: name)
        let lib = name.contains("/") ? try library(kind, path: name) : libraries[Key(kind: kind, name: name)]!
        let policy = try lib.instantiate(parameters: parameters, context: context)
        switch policy {
        case let p as PluginISN: return .isn(p)
        case let p as PluginAcceptQueue: return .acceptQueue(p)
        case let p as PluginDelayedAck: return .delayedAck(p)
        default: fatalError("unreachable: a plugin instance of an unknown class")
        }
    }

    public func makeISN(_ name: String, parameters: [String: String] = [:],
                        context: PolicyContext = PolicyContext()) throws(PluginError) -> any ISNGenerator {
        guard case let .isn(p) = try make(.isn, name, parameters: parameters, context: context) else { fatalError("kind mismatch") }
        return p
    }

    public func makeAcceptQueue(_ name: String, parameters: [String: String] = [:],
                                context: PolicyContext = PolicyContext()) throws(PluginError) -> any AcceptQueuePolicy {
        guard case let .acceptQueue(p) = try make(.acceptQueue, name, parameters: parameters, context: context) else {
            fatalError("kind mismatch")
        }
        return p
    }

    public func makeDelayedAck(_ name: String, parameters: [String: String] = [:],
                               context: PolicyContext = PolicyContext()) throws(PluginError) -> any DelayedAckPolicy {
        guard case let .delayedAck(p) = try make(.delayedAck, name, parameters: parameters, context: context) else {
            fatalError("kind mismatch")
        }
        return p
    }
}

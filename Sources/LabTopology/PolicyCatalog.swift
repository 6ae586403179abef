import Foundation
import TCPPluginHost
import TCPPolicy

/// The policies a topology may name: TCPPluginHost's registry (the built-in `linux` ones and the
/// plugins on the plugin path), opened only when a topology names something other than `linux`.
public final class PolicyCatalog: @unchecked Sendable {
    /// The registry of this process (plugin path: `TCPLAB_PLUGIN_PATH` and the build directory).
    public static let shared = PolicyCatalog()

    private let lock = NSLock()
    /// Directories searched first (`--plugin-path`); the netns workers get them too.
    public let pluginPath: [String]
    private var registryStorage: PolicyRegistry?

    public init(pluginPath: [String] = []) { self.pluginPath = pluginPath }

    public var registry: PolicyRegistry {
        lock.lock()
        defer { lock.unlock() }
        if let r = registryStorage { return r }
        let r = PolicyRegistry(pluginPath: pluginPath)
        registryStorage = r
        return r
    }

    /// What is wrong with naming this policy, if anything: an unknown kind or name (with the names
    /// that exist), a plugin that does not load, an unknown or ill-typed parameter.
    public func check(kind: String, name: String, parameters: [String: String]) -> (message: String, fix: String)? {
        guard let k = PolicyKind(rawValue: kind) else {
            return ("unknown policy kind \(kind)", didYouMean(kind, PolicyKind.allCases.map(\.rawValue)) ?? "isn, accept-queue or delayed-ack")
        }
        if name == "linux" && parameters.isEmpty { return nil }
        lock.lock()
        defer { lock.unlock() }
        let r = registryStorage ?? PolicyRegistry(pluginPath: pluginPath)
        registryStorage = r
        do {
            _ = try r.make(k, name, parameters: parameters)
            return nil
        } catch {
            return (error.message, error.fix)
        }
    }

    /// A fresh instance for a host (LabSim): nil for `linux` (the engine's own default).
    public func make(kind: String, name: String, parameters: [String: String], seed: UInt64, timestampsMode: Int) throws -> PolicyInstance? {
        guard let k = PolicyKind(rawValue: kind) else { return nil }
        if name == "linux" && parameters.isEmpty { return nil }
        lock.lock()
        defer { lock.unlock() }
        let r = registryStorage ?? PolicyRegistry(pluginPath: pluginPath)
        registryStorage = r
        return try r.make(k, name, parameters: parameters, context: PolicyContext(seed: seed, timestampsMode: timestampsMode))
    }

    /// `tcplab plugins`.
    public func listing() -> String { registry.listing() }
}

import Foundation
import LabImpair
import TCPPolicy
import TCPWire

/// What a worker runs as.
public enum NodeRole: String, Codable, Hashable, Sendable, CaseIterable {
    /// Our TCP stack, connecting.
    case client
    /// Our TCP stack, listening.
    case server
    /// An L2 bump in the wire between two interfaces, applying impairments per direction.
    case middlebox
    /// The namespace's own Linux stack, driven through ordinary sockets.
    case kernelClient = "kernel-client"
    case kernelServer = "kernel-server"

    /// Whether the node runs TCPLab's engine (and so needs no kernel address on its interfaces).
    public var runsEngine: Bool { self == .client || self == .server }
    public var isKernel: Bool { self == .kernelClient || self == .kernelServer }
}

/// An interface as a worker sees it.
public struct InterfaceSpec: Codable, Hashable, Sendable {
    public var name: String
    public var mac: String
    /// `198.18.0.1/24`; nil for a middlebox port.
    public var address: String?
    public var mtu: Int

    public init(name: String, mac: String, address: String?, mtu: Int = 1500) {
        self.name = name
        self.mac = mac
        self.address = address
        self.mtu = mtu
    }
}

/// A targeted rule as a topology writes it.
public struct RuleSpec: Codable, Hashable, Sendable {
    /// tcpdump flags: `S`, `S.`, `.`, `P.`, `F.`, `R`, `R.`.
    public var flags: String?
    public var len: Int?
    public var sport: UInt16?
    public var dport: UInt16?
    public var arp: Bool?
    /// Which matches (1 = the first); nil: every match.
    public var nth: [Int]?
    /// `drop` or `delay`.
    public var action: String
    public var delayMs: Double?
    public var name: String?

    public init(flags: String? = nil, len: Int? = nil, nth: [Int]? = nil, action: String, delayMs: Double? = nil, name: String? = nil) {
        self.flags = flags
        self.len = len
        self.nth = nth
        self.action = action
        self.delayMs = delayMs
        self.name = name
    }

    public func rule() throws -> TargetedRule {
        var match = FrameMatch(payloadLength: len, sourcePort: sport, destinationPort: dport, arp: arp ?? false)
        if let f = flags {
            guard let parsed = TCPFlags(tcpdump: f) else { throw ConfigError("unknown TCP flags \"\(f)\" (write them as tcpdump does: S, S., ., P., F., R, R.)") }
            match.flags = parsed
        }
        let act: TargetedRule.Action
        switch action {
        case "drop": act = .drop
        case "delay":
            guard let ms = delayMs, ms >= 0 else { throw ConfigError("a delay rule needs delayMs ≥ 0") }
            act = .delay(.nanoseconds(Int64(ms * 1_000_000)))
        default: throw ConfigError("unknown rule action \"\(action)\" (drop or delay)")
        }
        return TargetedRule(match: match, nth: nth.map(Set.init), action: act, name: name)
    }
}

/// Impairments of one direction as a topology writes them.
public struct ImpairmentSpec: Codable, Hashable, Sendable {
    public var loss: Double?
    public var delayMs: Double?
    public var jitterMs: Double?
    public var duplicate: Double?
    public var reorder: Double?
    public var reorderDelayMs: Double?
    public var corrupt: Double?
    public var rateBitsPerSecond: Int?
    public var rules: [RuleSpec]?

    public init(loss: Double? = nil, delayMs: Double? = nil, rules: [RuleSpec]? = nil) {
        self.loss = loss
        self.delayMs = delayMs
        self.rules = rules
    }

    public func impairment() throws -> Impairment {
        func ms(_ v: Double?) -> Interval { .nanoseconds(Int64((v ?? 0) * 1_000_000)) }
        for (name, p) in [("loss", loss), ("duplicate", duplicate), ("reorder", reorder), ("corrupt", corrupt)] {
            if let p, !(0...1).contains(p) { throw ConfigError("\(name) \(p) is not a probability between 0 and 1") }
        }
        return Impairment(loss: loss ?? 0, delay: ms(delayMs), jitter: ms(jitterMs), duplicate: duplicate ?? 0,
                          reorder: reorder ?? 0, reorderDelay: reorderDelayMs.map { ms($0) } ?? .milliseconds(1),
                          corrupt: corrupt ?? 0, rateBitsPerSecond: rateBitsPerSecond ?? 0,
                          rules: try (rules ?? []).map { try $0.rule() })
    }
}

/// A policy for one of the engine's seams: a built-in (`linux`) or a plugin, with its parameters as the
/// topology gives them (`isn: { plugin: counter, increment: 64000 }`).
public struct PolicySpec: Codable, Hashable, Sendable {
    public var name: String
    public var parameters: [String: String]

    public init(name: String, parameters: [String: String] = [:]) {
        self.name = name
        self.parameters = parameters
    }
}

/// Where a worker runs and how fast it wakes: a lab's answer to a noisy, few-core machine.
/// The middlebox's added latency is mostly the time it takes to be woken per frame; placing it on a
/// CPU of its own and keeping idle CPUs from halting takes most of that away.
public struct Placement: Codable, Hashable, Sendable {
    /// CPUs the worker may run on (sched_setaffinity); empty: wherever the scheduler likes.
    public var cpus: [Int]
    /// Holds a CPU latency QoS request of 0 µs (/dev/cpu_dma_latency) while the worker runs, so idle
    /// CPUs poll instead of halting and a frame's wake-up does not wait for a halted CPU (on a VM, a
    /// round trip through the hypervisor). Costs idle CPU time; released when the worker exits.
    public var lowLatency: Bool

    public init(cpus: [Int] = [], lowLatency: Bool = false) {
        self.cpus = cpus
        self.lowLatency = lowLatency
    }
}

/// Everything a worker needs to start: sent as the first line on its stdin.
public struct WorkerConfig: Codable, Hashable, Sendable {
    public var run: String
    public var node: String
    public var role: NodeRole
    public var namespace: String
    public var interfaces: [InterfaceSpec]
    public var gateway: String?
    /// Engine sysctls by name (ours), or written to /proc/sys/net for kernel nodes.
    public var sysctl: [String: Int]
    public var seed: UInt64
    /// Where to write `<node>-<interface>.pcap`; nil: no capture.
    public var pcapDirectory: String?
    /// Middlebox: [interface 0 → 1, interface 1 → 0].
    public var impair: [ImpairmentSpec]
    /// Static neighbours (IP → MAC), as `ip neigh add … nud permanent`.
    public var neighbors: [String: String]
    /// Policies by seam: `isn`, `accept-queue`, `delayed-ack` (Linux's where absent).
    public var policies: [String: PolicySpec]
    /// Extra directories to look for plugin libraries in (besides TCPLAB_PLUGIN_PATH and the build directory).
    public var pluginPath: [String]
    /// CPUs and wake-up latency (by default wherever the scheduler likes, idle CPUs free to halt).
    public var placement: Placement

    public init(run: String, node: String, role: NodeRole, namespace: String, interfaces: [InterfaceSpec], gateway: String? = nil,
                sysctl: [String: Int] = [:], seed: UInt64 = 1, pcapDirectory: String? = nil, impair: [ImpairmentSpec] = [],
                neighbors: [String: String] = [:], policies: [String: PolicySpec] = [:], pluginPath: [String] = [],
                placement: Placement = Placement()) {
        self.run = run
        self.node = node
        self.role = role
        self.namespace = namespace
        self.interfaces = interfaces
        self.gateway = gateway
        self.sysctl = sysctl
        self.seed = seed
        self.pcapDirectory = pcapDirectory
        self.impair = impair
        self.neighbors = neighbors
        self.policies = policies
        self.pluginPath = pluginPath
        self.placement = placement
    }
}

/// A configuration that cannot work, said plainly.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

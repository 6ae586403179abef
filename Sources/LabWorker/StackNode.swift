import Foundation
import LabControl
import TCPEngine
import TCPPluginHost
import TCPPolicy
import TCPWire

/// A client or server node: TCPLab's engine on AF_PACKET sockets, fed with the real clock.
final class StackNode: NodeRuntime {
    let config: WorkerConfig
    let host: TCPEngine.Host
    private let sockets: [PacketSocket]
    private let captures: [PcapFile?]
    private var events: [LabEvent] = []
    private(set) var malformed = 0
    /// The handshake-rate benchmark's load mode (StackNode+Load.swift).
    var load = LoadState()
    /// The plugin-backed policies, whose invalid answers are reported as events.
    private let pluginPolicies: [PluginPolicy]

    init(config: WorkerConfig, now: Int64) throws {
        self.config = config
        var interfaces: [Interface] = []
        for spec in config.interfaces {
            guard let mac = MACAddress(spec.mac) else { throw WorkerError("interface \(spec.name): bad MAC \(spec.mac)") }
            guard let a = spec.address, let address = IPv4Interface(a) else {
                throw WorkerError("interface \(spec.name) of a \(config.role.rawValue) needs an address like 198.18.0.1/24")
            }
            interfaces.append(Interface(name: spec.name, mac: mac, address: address, mtu: spec.mtu))
        }
        var sysctl = Sysctls()
        for (name, value) in config.sysctl {
            guard sysctl[name] != nil else { throw WorkerError("unknown sysctl \(name)") }
            sysctl[name] = value
        }
        let policies = try Self.loadPolicies(config, sysctl: sysctl)
        host = TCPEngine.Host(name: config.node, interfaces: interfaces, sysctl: sysctl, seed: config.seed,
                              isn: policies.isn, acceptQueue: policies.acceptQueue, delayedAck: policies.delayedAck)
        pluginPolicies = policies.plugins
        if let gw = config.gateway { host.gateway = IPv4Address(gw) }
        for (ip, mac) in config.neighbors {
            if let i = IPv4Address(ip), let m = MACAddress(mac) { host.addNeighbor(i, m) }
        }
        sockets = try config.interfaces.map { try PacketSocket(interface: $0.name) }
        captures = try config.interfaces.map { spec in
            try config.pcapDirectory.map { try PcapFile(path: "\($0)/\(config.node)-\(spec.name).pcap") }
        }
        host.poll(at: Instant(nanoseconds: now))
        for p in pluginPolicies {
            p.onViolation = { [weak self] v in
                guard let self else { return }
                var e = LabEvent(t: v.time?.nanoseconds ?? EventLoop.now, node: config.node, kind: "plugin")
                e.name = v.plugin
                e.message = "\(v)"
                events.append(e)
            }
            p.onLog = { [weak self] line in
                guard let self else { return }
                var e = LabEvent(t: EventLoop.now, node: config.node, kind: "log")
                e.message = line
                events.append(e)
            }
        }
    }

    /// The node's policies from the registry (built-in `linux` or plugins found on the plugin path).
    private static func loadPolicies(_ config: WorkerConfig, sysctl: Sysctls) throws
        -> (isn: (any ISNGenerator)?, acceptQueue: (any AcceptQueuePolicy)?, delayedAck: (any DelayedAckPolicy)?, plugins: [PluginPolicy])
    {
        guard !config.policies.isEmpty else { return (nil, nil, nil, []) }
        let registry = PolicyRegistry(pluginPath: config.pluginPath)
        let context = PolicyContext(seed: config.seed, timestampsMode: sysctl.tcp_timestamps)
        for key in config.policies.keys where PolicyKind(rawValue: key) == nil {
            throw WorkerError("unknown policy seam \(key) (isn, accept-queue or delayed-ack)")
        }
        do {
            let isn = try config.policies["isn"].map { try registry.makeISN($0.name, parameters: $0.parameters, context: context) }
            let aq = try config.policies["accept-queue"].map { try registry.makeAcceptQueue($0.name, parameters: $0.parameters, context: context) }
            let da = try config.policies["delayed-ack"].map { try registry.makeDelayedAck($0.name, parameters: $0.parameters, context: context) }
            let plugins = [isn as AnyObject?, aq as AnyObject?, da as AnyObject?].compactMap { $0 as? PluginPolicy }
            return (isn, aq, da, plugins)
        } catch {
            throw WorkerError("\(error)")
        }
    }

    var watched: [(fd: Int32, tag: UInt64)] { sockets.enumerated().map { ($1.fd, UInt64($0)) } }
    var nextDeadline: Int64 { host.nextDeadline.nanoseconds }

    func ready(tag: UInt64, at now: Int64) {
        let i = Int(tag)
        guard sockets.indices.contains(i) else { return }
        // Bounded: at most 4 batches of 64 frames per wake-up, so timers and commands are never starved.
        let t = Instant(nanoseconds: now)
        for _ in 0..<4 {
            let n = sockets[i].receiveBatch { raw in
                if let capture = captures[i] { capture.write(Array(raw), monotonic: now) }
                host.receive(raw: raw, on: i, at: t)
            }
            if n < 64 { break }
        }
        transmit(now)
    }

    func poll(at now: Int64) {
        host.poll(at: Instant(nanoseconds: now))
        if load.remote != nil { refill(now) }
        transmit(now)
    }

    /// Sends what the engine produced and turns its events into records (or, in load mode, acts on them).
    private func transmit(_ now: Int64) {
        // Acting on events can produce more output and events: bounded rounds.
        for _ in 0..<8 {
            for out in host.outbox {
                let bytes = out.frame.serialize()
                captures[out.interface]?.write(bytes, monotonic: now)
                sockets[out.interface].enqueue(bytes)
            }
            host.outbox.removeAll(keepingCapacity: true)
            for s in sockets { s.flushQueue() }
            if host.events.isEmpty { break }
            let batch = host.events
            host.events.removeAll(keepingCapacity: true)
            if load.quiet {
                consumeLoadEvents(batch, now: now)
            } else {
                for e in batch {
                    if let record = LabEvent.from(e, node: config.node) { events.append(record) }
                }
            }
        }
    }

    func takeEvents() -> [LabEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    func flush() { for c in captures { c?.flush() } }

    func handle(_ command: ControlCommand, at now: Int64) -> ControlReply {
        let t = Instant(nanoseconds: now)
        var reply = ControlReply(id: command.id, ok: true)
        do {
            switch command.op {
            case "listen":
                let address = try command.address.map { a throws(WorkerError) -> IPv4Address in
                    guard let ip = IPv4Address(a) else { throw WorkerError("bad address \(a)") }
                    return ip
                } ?? .any
                reply.socket = try host.listen(port: command.port ?? 0, address: address, backlog: command.backlog ?? 128, at: t).rawValue
            case "connect":
                guard let to = command.to, let remote = Self.socketAddress(to) else { throw WorkerError("connect needs to: \"198.18.0.2:80\"") }
                reply.socket = try host.connect(to: remote, localPort: command.localPort, at: t).rawValue
            case "accept":
                let child = try host.accept(try socket(command), blocking: command.blocking ?? false, at: t)
                reply.socket = child?.rawValue
            case "send":
                let n = try host.send(try socket(command), Array((command.data ?? "").utf8), at: t)
                reply.data = String(n)
            case "recv":
                let data = try host.receive(try socket(command), at: t)
                reply.data = String(decoding: data, as: UTF8.self)
            case "close":
                host.close(try socket(command), at: t)
            case "shutdown":
                let how: ShutdownHow = command.how == "read" ? .read : command.how == "both" ? .readWrite : .write
                try host.shutdown(try socket(command), how, at: t)
            case "setsockopt":
                try host.setsockopt(try socket(command), try Self.option(command), at: t)
            case "sysctl":
                guard let name = command.name, let value = command.value, host.sysctl[name] != nil else {
                    throw WorkerError("unknown sysctl \(command.name ?? "")")
                }
                host.sysctl[name] = value
            case "counters":
                reply.counters = Dictionary(uniqueKeysWithValues: host.counters.nonZero.map { ($0.0.name, $0.1) })
            case "state":
                reply.state = host.state(of: try socket(command)).map { "\($0)" }
            case "autoaccept", "loadgen", "loadstats":
                reply = try startLoad(command, now: now)
            default:
                throw WorkerError("unknown command \(command.op)")
            }
        } catch let e as SocketError {
            reply = .failure(command.id, e.rawValue)
        } catch {
            reply = .failure(command.id, "\(error)")
        }
        transmit(now)
        return reply
    }

    private func socket(_ c: ControlCommand) throws -> SocketID {
        guard let s = c.socket else { throw WorkerError("\(c.op) needs a socket") }
        return SocketID(s)
    }

    static func socketAddress(_ text: String) -> SocketAddress? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let ip = IPv4Address(parts[0]), let port = UInt16(parts[1]) else { return nil }
        return SocketAddress(ip, port)
    }

    /// A socket option by its Linux name.
    static func option(_ c: ControlCommand) throws -> SocketOption {
        let v = c.value ?? 0
        switch c.name ?? "" {
        case "SO_REUSEADDR": return .SO_REUSEADDR(v != 0)
        case "SO_KEEPALIVE": return .SO_KEEPALIVE(v != 0)
        case "SO_RCVBUF": return .SO_RCVBUF(v)
        case "SO_SNDBUF": return .SO_SNDBUF(v)
        case "SO_LINGER": return .SO_LINGER(on: v != 0, seconds: c.seconds ?? 0)
        case "TCP_DEFER_ACCEPT": return .TCP_DEFER_ACCEPT(seconds: v)
        case "TCP_QUICKACK": return .TCP_QUICKACK(v)
        case "TCP_SYNCNT": return .TCP_SYNCNT(v)
        case "TCP_MAXSEG": return .TCP_MAXSEG(v)
        case "TCP_USER_TIMEOUT": return .TCP_USER_TIMEOUT(milliseconds: v)
        case "TCP_KEEPIDLE": return .TCP_KEEPIDLE(seconds: v)
        case "TCP_KEEPINTVL": return .TCP_KEEPINTVL(seconds: v)
        case "TCP_KEEPCNT": return .TCP_KEEPCNT(v)
        case "TCP_LINGER2": return .TCP_LINGER2(seconds: v)
        case "TCP_NODELAY": return .TCP_NODELAY(v != 0)
        case "O_NONBLOCK": return .O_NONBLOCK(v != 0)
        default: throw WorkerError("unknown socket option \(c.name ?? "")")
        }
    }
}

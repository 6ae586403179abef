import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

/// Two hosts on one simulated link: client 198.18.0.1 and server 198.18.0.2. With `resolved` each
/// already knows the other's MAC, so no ARP is on the wire.
struct TwoHosts {
    let sim: LabSim
    let client: Host
    let server: Host

    init(seed: UInt64 = 7, delay: Interval = .microseconds(50), clientSysctl: Sysctls = Sysctls(), serverSysctl: Sysctls = Sysctls(),
         clientISN: (any ISNGenerator)? = nil, serverISN: (any ISNGenerator)? = nil, resolved: Bool = true) {
        sim = LabSim(seed: seed)
        client = sim.add(Host(name: "client", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 1),
                                                                     address: IPv4Interface("198.18.0.1/24")!)],
                              sysctl: clientSysctl, seed: seed &+ 1, isn: clientISN))
        server = sim.add(Host(name: "server", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 2),
                                                                     address: IPv4Interface("198.18.0.2/24")!)],
                              sysctl: serverSysctl, seed: seed &+ 2, isn: serverISN))
        sim.connect(client, 0, server, 0, aToB: LinkImpairment(delay: delay), bToA: LinkImpairment(delay: delay))
        if resolved {
            client.addNeighbor(server.interfaces[0].address.address, server.interfaces[0].mac)
            server.addNeighbor(client.interfaces[0].address.address, client.interfaces[0].mac)
        }
    }

    var serverAddress: SocketAddress { SocketAddress(IPv4Address(198, 18, 0, 2), 80) }
    var link: SimLink { sim.links[0] }

    /// Segments as tcpdump would print them on the link, with the sender's name: `client Flags [S], ...`.
    var trace: [String] {
        sim.frames.compactMap { f in
            f.frame.tcpSegment.map { "\(f.from) \($0.tcpdumpDescription)\(f.droppedBy.map { " [dropped: \($0)]" } ?? "")" }
        }
    }

    /// The segments `host` put on the link, with their time since the start and whether the link dropped them.
    func segments(from host: String) -> [(time: Interval, segment: TCPSegment, dropped: Bool)] {
        sim.frames.compactMap { f in
            guard f.from == host, let s = f.frame.tcpSegment else { return nil }
            return (f.time - Instant.zero, s, f.droppedBy != nil)
        }
    }

    /// Events recorded on `host`, in order.
    func events(on host: String) -> [EngineEvent] {
        sim.records.filter { $0.host == host }.map(\.event)
    }
}

/// An ISN generator that always answers the same ISN and TS offset: deterministic sequence numbers
/// placed next to the 2^32 wrap.
final class FixedISN: ISNGenerator {
    let name = "fixed"
    let isn: UInt32
    let tsOffset: UInt32

    init(_ isn: UInt32, tsOffset: UInt32 = 0) {
        self.isn = isn
        self.tsOffset = tsOffset
    }

    func initialSequenceNumber(for tuple: FourTuple, at now: Instant) -> SequenceNumber { SequenceNumber(isn) }
    func timestampOffset(for tuple: FourTuple, at now: Instant) -> UInt32 { tsOffset }
}

extension HostHarness {
    /// A harness whose failed checks are Swift Testing issues at the line of the check.
    static func make(sysctl: Sysctls = Sysctls(), seed: UInt64 = 1, isn: (any ISNGenerator)? = nil,
                     peerISN: UInt32 = 1_000_000) -> HostHarness
    {
        let h = HostHarness(sysctl: sysctl, seed: seed, isn: isn, peerISN: peerISN)
        h.onFailure = { f in
            Issue.record(Comment(rawValue: f.message),
                         sourceLocation: SourceLocation(fileID: f.fileID, filePath: f.filePath, line: f.line, column: f.column))
        }
        return h
    }

    /// Runs a passive open with `peer` (Linux's SYN options unless given) up to the third ACK and returns
    /// the SYN-ACK; the child waits in `listener`'s accept queue.
    @discardableResult
    func handshake(_ peer: ScriptedPeer? = nil, synOptions: [OptionSpec] = OptionSpec.linuxSYN(),
                   fileID: String = #fileID, filePath: String = #filePath, line: Int = #line, column: Int = #column)
        -> SentSegment?
    {
        let p = peer ?? self.peer!
        p.sends(.syn(seq: 0, options: synOptions), fileID: fileID, filePath: filePath, line: line, column: column)
        let synAck = expectSent(flags: .synAck, seq: 0, ack: 1, to: p, fileID: fileID, filePath: filePath, line: line,
                                column: column)
        p.sends(.ack(seq: 1, ack: 1), fileID: fileID, filePath: filePath, line: line, column: column)
        return synAck
    }

    /// The counter `mib` of the host.
    subscript(_ mib: MIB) -> Int { host.counters[mib] }
}

/// What `.stateChanged` events say about `socket`, as (from, to) pairs.
func stateChanges(_ events: [EngineEvent], socket: SocketID) -> [(TCPState, TCPState)] {
    events.compactMap {
        if case let .stateChanged(s, _, from, to, _) = $0.kind, s == socket { return (from, to) }
        return nil
    }
}

/// The errors events report for `socket`, with their times.
func errors(_ events: [EngineEvent], socket: SocketID) -> [(Instant, SocketError)] {
    events.compactMap {
        if case let .error(s, e) = $0.kind, s == socket { return ($0.time, e) }
        return nil
    }
}

extension Array where Element == UInt8 {
    /// The bytes of `text` in UTF-8.
    init(text: String) { self = Array(text.utf8) }
}

extension HostHarness {
    /// A passive open with `peer` completed at the current time plus `rtt`: SYN now, the SYN-ACK back,
    /// the third ACK `rtt` later, accept(). The child's SRTT is `rtt`.
    func establish(_ listener: SocketID, peer: ScriptedPeer? = nil, synOptions: [OptionSpec] = OptionSpec.linuxSYN(),
                   rtt: Interval = .milliseconds(10),
                   fileID: String = #fileID, filePath: String = #filePath, line: Int = #line, column: Int = #column)
        throws -> SocketID
    {
        let p = peer ?? self.peer!
        p.sends(.syn(seq: 0, options: synOptions), fileID: fileID, filePath: filePath, line: line, column: column)
        expectSent(flags: .synAck, seq: 0, ack: 1, to: p, fileID: fileID, filePath: filePath, line: line, column: column)
        advance(by: rtt)
        p.sends(.ack(seq: 1, ack: 1), fileID: fileID, filePath: filePath, line: line, column: column)
        return try #require(try accept(listener), sourceLocation: SourceLocation(fileID: fileID, filePath: filePath,
                                                                                 line: line, column: column))
    }
}

/// Linux's SYN options without SACK (mss 1460, TS, wscale 7): a peer that makes Linux skip tail loss
/// probes and SACK blocks.
let linuxSYNWithoutSack: [OptionSpec] = [.mss(1460), .nop, .nop, .ts(), .nop, .wscale(7)]

/// `n` bytes of a recognisable pattern.
func pattern(_ n: Int, from start: Int = 0) -> [UInt8] {
    (0..<n).map { UInt8(truncatingIfNeeded: ($0 + start) % 251) }
}

import Foundation
import LabControl
import LabImpair
import TCPEngine
import TCPPolicy
import TCPWire

/// An L2 bump in the wire between two interfaces: every frame from one side goes out of the other,
/// through LabImpair's impairments for that direction, and every drop or change is recorded with its rule.
/// Forwarding is in `MiddleboxNode+Forwarding.swift`; this file holds the state, the counters and the events.
final class MiddleboxNode: NodeRuntime {
    let config: WorkerConfig
    /// One port per interface; direction `i` is "in at port i, out at port 1 - i".
    let ports: [PacketRing]
    /// Per interface; a frame is copied for the capture only when one is configured.
    let captures: [PcapFile?]
    var impairers: [Impairer]
    /// Per direction: the impairment can only drop (no delay, duplication, corruption, rate), so frames
    /// go from one ring to the other at once, never through an array.
    let dropsOnly: [Bool]
    /// Per direction: targeted rules look at the parsed frame; without rules nothing is parsed.
    let parsesFrames: [Bool]
    var delayed = DelayLine()
    var events: [LabEvent] = []
    /// Frames forwarded and dropped, per direction.
    var forwarded = [0, 0]
    var dropped = [0, 0]

    init(config: WorkerConfig) throws {
        guard config.interfaces.count == 2 else { throw WorkerError("a middlebox needs exactly two interfaces, \(config.node) has \(config.interfaces.count)") }
        self.config = config
        ports = try config.interfaces.map { try PacketRing(interface: $0.name) }
        captures = try config.interfaces.map { spec in
            try config.pcapDirectory.map { try PcapFile(path: "\($0)/\(config.node)-\(spec.name).pcap") }
        }
        var specs = config.impair
        while specs.count < 2 { specs.append(ImpairmentSpec()) }
        impairers = try specs.prefix(2).enumerated().map { i, s in Impairer(try s.impairment(), seed: config.seed &+ UInt64(i)) }
        dropsOnly = impairers.map(\.dropsOnly)
        parsesFrames = impairers.map { !$0.impairment.rules.isEmpty }
    }

    var watched: [(fd: Int32, tag: UInt64)] { ports.enumerated().map { ($1.fd, UInt64($0)) } }
    var nextDeadline: Int64 { delayed.nextDeadline }

    /// Records a drop (`droppedBy`) or a change (`note`) of a frame crossing from interface `i`.
    func record(_ frame: Frame?, from i: Int, at now: Int64, droppedBy: String?, note: String? = nil) {
        var e: LabEvent
        if let s = frame?.tcpSegment {
            e = .segment(t: now, node: config.node, dir: "through", SegmentRecord(s), droppedBy: droppedBy)
        } else {
            e = LabEvent(t: now, node: config.node, kind: "impair")
            e.message = frame.map(\.tcpdumpLine) ?? "unparsed frame"
        }
        e.kind = droppedBy != nil ? "drop" : "impair"
        e.reason = droppedBy ?? note
        e.from = config.interfaces[i].name
        e.to = config.interfaces[1 - i].name
        events.append(e)
    }

    func handle(_ command: ControlCommand, at now: Int64) -> ControlReply {
        var reply = ControlReply(id: command.id, ok: true)
        switch command.op {
        case "counters":
            var counters = ["Forwarded0to1": forwarded[0], "Forwarded1to0": forwarded[1], "Dropped0to1": dropped[0], "Dropped1to0": dropped[1]]
            // Frames lost to the middlebox itself, not to an impairment: it fell behind (a full receive
            // ring on interface i) or interface i refused them. Shown only when there were some, so a
            // run's counters read the same on both backends unless the lab itself lost frames.
            for (i, port) in ports.enumerated() {
                if port.receiveDrops > 0 { counters["RingDrops\(i)"] = port.receiveDrops }
                if port.sendFailures > 0 { counters["SendFailures\(i)"] = port.sendFailures }
            }
            reply.counters = counters
        default:
            reply = .failure(command.id, "a middlebox does not take \(command.op)")
        }
        return reply
    }

    func takeEvents() -> [LabEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    func flush() { for c in captures { c?.flush() } }
}

import Foundation
import LabControl
import LabImpair
import TCPEngine
import TCPPolicy
import TCPWire

/// An L2 bump in the wire between two interfaces: every frame from one side goes out of the other,
/// through LabImpair's impairments for that direction, and every drop or change is recorded with its rule.
final class MiddleboxNode: NodeRuntime {
    let config: WorkerConfig
    private let sockets: [PacketSocket]
    private let captures: [PcapFile?]
    private var impairers: [Impairer]
    /// Frames waiting for their delivery time: (time, order, out interface, bytes).
    private var queue: [(at: Int64, order: UInt64, out: Int, bytes: [UInt8])] = []
    private var order: UInt64 = 0
    private var events: [LabEvent] = []
    /// Frames forwarded and dropped, per direction.
    private(set) var forwarded = [0, 0]
    private(set) var dropped = [0, 0]

    init(config: WorkerConfig) throws {
        guard config.interfaces.count == 2 else { throw WorkerError("a middlebox needs exactly two interfaces, \(config.node) has \(config.interfaces.count)") }
        self.config = config
        sockets = try config.interfaces.map { try PacketSocket(interface: $0.name) }
        captures = try config.interfaces.map { spec in
            try config.pcapDirectory.map { try PcapFile(path: "\($0)/\(config.node)-\(spec.name).pcap") }
        }
        var specs = config.impair
        while specs.count < 2 { specs.append(ImpairmentSpec()) }
        impairers = try specs.prefix(2).enumerated().map { i, s in Impairer(try s.impairment(), seed: config.seed &+ UInt64(i)) }
    }

    var watched: [(fd: Int32, tag: UInt64)] { sockets.enumerated().map { ($1.fd, UInt64($0)) } }
    var nextDeadline: Int64 { queue.first?.at ?? .max }

    func ready(tag: UInt64, at now: Int64) {
        let i = Int(tag)
        guard sockets.indices.contains(i) else { return }
        for _ in 0..<256 {
            guard let bytes = sockets[i].receive() else { break }
            captures[i]?.write(bytes, monotonic: now)
            let frame = try? Frame.parse(bytes, verifyChecksums: false)
            for decision in impairers[i].process(bytes, frame: frame, at: Instant(nanoseconds: now)) {
                switch decision {
                case let .drop(reason):
                    dropped[i] += 1
                    record(frame, from: i, at: now, droppedBy: reason)
                case let .deliver(at, out, note):
                    if at.nanoseconds <= now && queue.isEmpty {
                        send(out, on: 1 - i, at: now)
                    } else {
                        order &+= 1
                        insertSorted((at.nanoseconds, order, 1 - i, out))
                    }
                    if let note { record(frame, from: i, at: now, droppedBy: nil, note: note) }
                }
            }
        }
    }

    func poll(at now: Int64) {
        while let first = queue.first, first.at <= now {
            queue.removeFirst()
            send(first.bytes, on: first.out, at: now)
        }
    }

    private func send(_ bytes: [UInt8], on i: Int, at now: Int64) {
        captures[i]?.write(bytes, monotonic: now)
        sockets[i].send(bytes)
        forwarded[1 - i] += 1
    }

    private func insertSorted(_ item: (at: Int64, order: UInt64, out: Int, bytes: [UInt8])) {
        var i = queue.count
        while i > 0 && (queue[i - 1].at > item.at || (queue[i - 1].at == item.at && queue[i - 1].order > item.order)) { i -= 1 }
        queue.insert(item, at: i)
    }

    private func record(_ frame: Frame?, from i: Int, at now: Int64, droppedBy: String?, note: String? = nil) {
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
            reply.counters = ["Forwarded0to1": forwarded[0], "Forwarded1to0": forwarded[1], "Dropped0to1": dropped[0], "Dropped1to0": dropped[1]]
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

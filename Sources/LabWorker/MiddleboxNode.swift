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
    private var queueHead = 0
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
    var nextDeadline: Int64 { queueHead < queue.count ? queue[queueHead].at : .max }

    func ready(tag: UInt64, at now: Int64) {
        let i = Int(tag)
        guard sockets.indices.contains(i) else { return }
        let t = Instant(nanoseconds: now)
        // Rules need the parsed frame; plain impairments do not, so the fast path skips parsing.
        let needsParse = !impairers[i].impairment.rules.isEmpty
        for _ in 0..<4 {
            let n = sockets[i].receiveBatch { raw in
                captures[i]?.write(Array(raw), monotonic: now)
                let frame = needsParse ? try? Frame.parse(raw, verifyChecksums: false) : nil
                if impairers[i].dropsOnly {
                    // The fast path: forward straight from the receive buffer, or drop.
                    if let reason = impairers[i].dropReason(frame: frame) {
                        dropped[i] += 1
                        record(frame ?? (try? Frame.parse(raw, verifyChecksums: false)), from: i, at: now, droppedBy: reason)
                    } else {
                        forward(raw, on: 1 - i, at: now)
                    }
                    return
                }
                let bytes = Array(raw)
                for decision in impairers[i].process(bytes, frame: frame, at: t) {
                    switch decision {
                    case let .drop(reason):
                        dropped[i] += 1
                        record(frame ?? (try? Frame.parse(raw, verifyChecksums: false)), from: i, at: now, droppedBy: reason)
                    case let .deliver(at, out, note):
                        if at.nanoseconds <= now && queueHead == queue.count {
                            forward(out, on: 1 - i, at: now)
                        } else {
                            order &+= 1
                            insertSorted((at.nanoseconds, order, 1 - i, out))
                        }
                        if let note { record(frame, from: i, at: now, droppedBy: nil, note: note) }
                    }
                }
            }
            if n < 64 { break }
        }
        for s in sockets { s.flushQueue() }
    }

    func poll(at now: Int64) {
        while queueHead < queue.count, queue[queueHead].at <= now {
            let first = queue[queueHead]
            queueHead += 1
            forward(first.bytes, on: first.out, at: now)
        }
        if queueHead == queue.count {
            queue.removeAll(keepingCapacity: true)
            queueHead = 0
        } else if queueHead > 4096 {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        for s in sockets { s.flushQueue() }
    }

    /// Queues a frame out of interface `i` (sent with the batch at the end of the wake-up).
    private func forward(_ bytes: some Collection<UInt8>, on i: Int, at now: Int64) {
        captures[i]?.write(Array(bytes), monotonic: now)
        sockets[i].enqueue(bytes)
        forwarded[1 - i] += 1
    }

    private func insertSorted(_ item: (at: Int64, order: UInt64, out: Int, bytes: [UInt8])) {
        var i = queue.count
        while i > queueHead && (queue[i - 1].at > item.at || (queue[i - 1].at == item.at && queue[i - 1].order > item.order)) { i -= 1 }
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

import Foundation
import TCPEngine
import TCPPolicy
import TCPWire

/// One thing that happened on a lab node, as it travels from a worker to the coordinator (one JSON
/// object per line) and into `events.jsonl` and the journal. Flat, with only the fields its kind uses.
public struct LabEvent: Codable, Hashable, Sendable {
    /// CLOCK_MONOTONIC nanoseconds (one clock for every process on the machine).
    public var t: Int64
    public var node: String
    /// `segment`, `state`, `drop`, `timer`, `counter`, `error`, `connected`, `accepted`, `readable`,
    /// `request`, `arp`, `ready`, `log`, `impair`.
    public var kind: String
    // Segments.
    public var dir: String?
    public var src: String?
    public var dst: String?
    public var flags: String?
    public var seq: UInt32?
    public var ack: UInt32?
    public var win: UInt16?
    public var len: Int?
    public var options: String?
    public var tcpdump: String?
    public var retransmission: Int?
    public var droppedBy: String?
    // Sockets and states.
    public var socket: Int32?
    public var conn: String?
    public var from: String?
    public var to: String?
    public var cause: String?
    public var reason: String?
    public var name: String?
    public var value: Int?
    public var error: String?
    public var message: String?

    public init(t: Int64, node: String, kind: String) {
        self.t = t
        self.node = node
        self.kind = kind
    }

    /// A segment event from a TCP segment.
    public static func segment(t: Int64, node: String, dir: String, _ s: SegmentRecord, socket: SocketID? = nil,
                               retransmission: Int? = nil, droppedBy: String? = nil) -> LabEvent
    {
        var e = LabEvent(t: t, node: node, kind: "segment")
        e.dir = dir
        e.src = "\(s.source)"
        e.dst = "\(s.destination)"
        e.flags = s.header.flags.tcpdumpString
        e.seq = s.header.sequenceNumber.rawValue
        e.ack = s.header.flags.contains(.ack) ? s.header.acknowledgmentNumber.rawValue : nil
        e.win = s.header.window
        e.len = s.payloadLength
        let opts = s.header.options.map(\.tcpdumpString)
        e.options = opts.isEmpty ? nil : opts.joined(separator: ",")
        e.tcpdump = s.tcpdump
        e.socket = socket?.rawValue
        e.retransmission = (retransmission ?? 0) > 0 ? retransmission : nil
        e.droppedBy = droppedBy
        return e
    }

    /// The event record of an engine event; nil for the ones not worth a record (segment tallies are
    /// counters already).
    public static func from(_ event: EngineEvent, node: String) -> LabEvent? {
        let t = event.time.nanoseconds
        switch event.kind {
        case let .segmentReceived(s, socket):
            return .segment(t: t, node: node, dir: "in", s, socket: socket)
        case let .segmentSent(s, socket, retransmission):
            return .segment(t: t, node: node, dir: "out", s, socket: socket, retransmission: retransmission)
        case let .dropped(reason, segment, socket):
            var e = segment.map { LabEvent.segment(t: t, node: node, dir: "in", $0, socket: socket) } ?? LabEvent(t: t, node: node, kind: "drop")
            e.kind = "drop"
            e.reason = reason.rawValue
            e.socket = socket?.rawValue
            return e
        case let .stateChanged(socket, tuple, from, to, cause):
            var e = LabEvent(t: t, node: node, kind: "state")
            e.socket = socket.rawValue
            e.conn = tuple.map { "\($0.local)-\($0.remote)" }
            e.from = "\(from)"
            e.to = "\(to)"
            e.cause = cause.rawValue
            return e
        case let .requestQueued(listener, tuple):
            var e = LabEvent(t: t, node: node, kind: "request")
            e.socket = listener.rawValue
            e.conn = "\(tuple.local)-\(tuple.remote)"
            e.from = "LISTEN"
            e.to = "NEW_SYN_RECV"
            e.cause = "SYN received"
            return e
        case let .requestRemoved(listener, tuple, reason):
            var e = LabEvent(t: t, node: node, kind: "request")
            e.socket = listener.rawValue
            e.conn = "\(tuple.local)-\(tuple.remote)"
            e.from = "NEW_SYN_RECV"
            e.to = reason == nil ? "SYN_RECV" : "CLOSE"
            e.cause = reason?.rawValue ?? "handshake complete"
            return e
        case let .timerArmed(kind, socket, tuple, deadline):
            var e = LabEvent(t: t, node: node, kind: "timer")
            e.name = kind.rawValue
            e.socket = socket?.rawValue
            e.conn = tuple.map { "\($0.local)-\($0.remote)" }
            e.value = Int(deadline.nanoseconds - t)
            e.message = "armed"
            return e
        case let .timerFired(kind, socket, tuple):
            var e = LabEvent(t: t, node: node, kind: "timer")
            e.name = kind.rawValue
            e.socket = socket?.rawValue
            e.conn = tuple.map { "\($0.local)-\($0.remote)" }
            e.message = "fired"
            return e
        case let .counter(mib, value):
            var e = LabEvent(t: t, node: node, kind: "counter")
            e.name = mib.name
            e.value = value
            return e
        case let .childQueued(listener, child):
            var e = LabEvent(t: t, node: node, kind: "queued")
            e.socket = listener.rawValue
            e.value = Int(child.rawValue)
            return e
        case let .accepted(listener, child):
            var e = LabEvent(t: t, node: node, kind: "accepted")
            e.socket = listener.rawValue
            e.value = Int(child.rawValue)
            return e
        case let .connected(socket):
            var e = LabEvent(t: t, node: node, kind: "connected")
            e.socket = socket.rawValue
            return e
        case let .error(socket, err):
            var e = LabEvent(t: t, node: node, kind: "error")
            e.socket = socket.rawValue
            e.error = err.rawValue
            return e
        case let .readable(socket, bytes):
            var e = LabEvent(t: t, node: node, kind: "readable")
            e.socket = socket.rawValue
            e.value = bytes
            return e
        case let .arpRequest(target):
            var e = LabEvent(t: t, node: node, kind: "arp")
            e.message = "who-has \(target)"
            return e
        case let .arpResolved(ip, mac):
            var e = LabEvent(t: t, node: node, kind: "arp")
            e.message = "\(ip) is-at \(mac)"
            return e
        case let .arpFailed(ip):
            var e = LabEvent(t: t, node: node, kind: "arp")
            e.message = "\(ip) unresolved"
            e.error = "EHOSTUNREACH"
            return e
        }
    }

    /// One line of JSON.
    public func jsonLine() -> String {
        let data = (try? LabEvent.encoder.encode(self)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()
}

import Foundation
import LabControl

/// What a record says about the node an event happened on, beyond the event itself.
public struct NodeInfo: Sendable, Hashable, Codable {
    /// `client`, `server`, `middlebox`, `kernel-client`, `kernel-server`.
    public var role: String
    /// The plugins its policies come from (none when all are Linux's built-ins).
    public var plugins: [String]

    public init(role: String, plugins: [String] = []) {
        self.role = role
        self.plugins = plugins
    }
}

extension LabEvent {
    /// The journal record of this event: a one-sentence `MESSAGE`, `PRIORITY`, the kind's `MESSAGE_ID`,
    /// the `TCPLAB_*` and `TCP_*` fields that apply, and the whole event as JSON.
    /// - Parameters:
    ///   - index: the event's position in the run (`TCPLAB_INDEX`); nil for a record outside a run's list.
    ///   - node: role and plugins of `self.node`, if known.
    public func journalRecord(index: Int?, node info: NodeInfo? = nil) -> JournalRecord {
        var r = JournalRecord()
        r.append(JournalField.message, journalSentence)
        r.append(JournalField.priority, journalPriority)
        r.append(JournalField.messageID, JournalMessageID.forEvent(kind: kind))
        r.append(JournalField.node, node)
        if let info {
            r.append(JournalField.role, info.role)
            for p in info.plugins { r.append(JournalField.plugin, p) }
        }
        r.append(JournalField.event, kind)
        r.append(JournalField.timeNS, t)
        if let index { r.append(JournalField.index, index) }
        if let flags { r.append(JournalField.flags, flags) }
        if let seq { r.append(JournalField.seq, seq) }
        if let ack { r.append(JournalField.ack, ack) }
        if let win { r.append(JournalField.win, win) }
        switch dir {
        case "out":
            if let src { r.append(JournalField.local, src) }
            if let dst { r.append(JournalField.remote, dst) }
        case "in":
            if let dst { r.append(JournalField.local, dst) }
            if let src { r.append(JournalField.remote, src) }
        default:
            if let src { r.append(JournalField.source, src) }
            if let dst { r.append(JournalField.destination, dst) }
        }
        switch kind {
        case "state", "request":
            if let from { r.append(JournalField.stateOld, from) }
            if let to { r.append(JournalField.stateNew, to) }
            if let cause { r.append(JournalField.cause, cause) }
            if let conn, let dash = conn.firstIndex(of: "-") {
                r.append(JournalField.local, String(conn[..<dash]))
                r.append(JournalField.remote, String(conn[conn.index(after: dash)...]))
            }
        case "drop":
            if let reason = reason ?? droppedBy { r.append(JournalField.dropReason, reason) }
        case "timer":
            if let name { r.append(JournalField.timer, name) }
        case "counter":
            if let name { r.append(JournalField.counter, name) }
            if let value { r.append(JournalField.value, value) }
        default:
            break
        }
        if let error { r.append(JournalField.error, error) }
        r.append(JournalField.eventJSON, utf8: journalJSON)
        return r
    }

    /// syslog priority: errors 4 (warning: in a lab a refused connection is often the point), drops 5
    /// (notice), state changes and connection milestones 6 (info), segments, timers and counters 7 (debug).
    /// Never 0…2, which make journald sync to disk at once.
    public var journalPriority: Int {
        switch kind {
        case "error": return 4
        case "drop": return 5
        case "state", "request", "connected", "accepted", "ready": return 6
        default: return 7
        }
    }

    /// One human sentence: what happened, on which node.
    public var journalSentence: String {
        let wire = segmentText
        switch kind {
        case "segment":
            let verb = dir == "out" ? "sent" : dir == "in" ? "received" : "passed"
            var s = "\(node) \(verb) \(wire)"
            if let r = retransmission { s += " (retransmission \(r))" }
            return s
        case "drop":
            var s = "\(node) dropped "
            s += src == nil && tcpdump == nil ? "a segment" : wire
            if let why = reason ?? droppedBy { s += ": \(why)" }
            return s
        case "impair":
            return "\(node) impaired \(message ?? wire)\(reason.map { ": \($0)" } ?? "")"
        case "state":
            return "\(node) \(conn ?? "socket \(socket.map(String.init) ?? "?")") moved from \(from ?? "?") to \(to ?? "?")"
                + (cause.map { " (\($0))" } ?? "")
        case "request":
            return "\(node) request sock \(conn ?? "") moved from \(from ?? "?") to \(to ?? "?")" + (cause.map { " (\($0))" } ?? "")
        case "timer":
            let what = "the \(name ?? "?") timer\(conn.map { " of \($0)" } ?? "")"
            if message == "armed", let v = value { return "\(node) armed \(what) for \(Self.duration(v))" }
            return "\(node) \(message ?? "ran") \(what)"
        case "counter":
            return "\(node) counter \(name ?? "?") = \(value.map(String.init) ?? "?")"
        case "connected":
            return "\(node) socket \(socket.map(String.init) ?? "?") is connected"
        case "accepted":
            return "\(node) accepted socket \(value.map(String.init) ?? "?") from listener \(socket.map(String.init) ?? "?")"
        case "queued":
            return "\(node) queued socket \(value.map(String.init) ?? "?") on listener \(socket.map(String.init) ?? "?")'s accept queue"
        case "readable":
            return "\(node) socket \(socket.map(String.init) ?? "?") has \(value.map(String.init) ?? "?") bytes to read"
        case "error":
            return "\(node) socket \(socket.map(String.init) ?? "?") failed: \(error ?? "error")\(message.map { " (\($0))" } ?? "")"
        case "arp":
            return "\(node) ARP: \(message ?? "")"
        case "ready":
            return "\(node) is ready"
        default:
            return "\(node) \(kind)\(message.map { ": \($0)" } ?? "")"
        }
    }

    /// `198.18.0.1:40000 > 198.18.0.2:80: Flags [S], seq 1, …` when the event has a segment.
    private var segmentText: String {
        let ends = src.map { "\($0) > \(dst ?? "?")" }
        switch (ends, tcpdump) {
        case let (e?, t?): return "\(e): \(t)"
        case let (e?, nil): return "\(e) Flags [\(flags ?? "")]"
        case let (nil, t?): return t
        default: return "a segment"
        }
    }

    private static func duration(_ ns: Int) -> String {
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000) s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000) ms" }
        if ns >= 1_000_000 { return String(format: "%.3f ms", Double(ns) / 1e6) }
        return "\(ns) ns"
    }
}

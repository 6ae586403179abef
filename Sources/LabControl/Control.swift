import Foundation

/// A command from the coordinator to a worker (one JSON object per line on the worker's stdin).
public struct ControlCommand: Codable, Hashable, Sendable {
    /// Echoed in the reply.
    public var id: Int
    /// `listen`, `connect`, `accept`, `send`, `recv`, `close`, `shutdown`, `setsockopt`, `sysctl`,
    /// `counters`, `state`, `stop`.
    public var op: String
    public var socket: Int32?
    public var port: UInt16?
    public var address: String?
    public var backlog: Int?
    /// `connect`: `198.18.0.2:80`.
    public var to: String?
    public var localPort: UInt16?
    /// `send`: the bytes as text.
    public var data: String?
    /// `setsockopt`/`sysctl`: name and value; `shutdown`: `read`, `write` or `both`.
    public var name: String?
    public var value: Int?
    public var how: String?
    public var blocking: Bool?
    /// `setsockopt` SO_LINGER seconds.
    public var seconds: Int?

    public init(id: Int, op: String) {
        self.id = id
        self.op = op
    }
}

/// A worker's answer to a command.
public struct ControlReply: Codable, Hashable, Sendable {
    public var id: Int
    public var ok: Bool
    public var error: String?
    public var socket: Int32?
    public var data: String?
    public var state: String?
    public var counters: [String: Int]?

    public init(id: Int, ok: Bool) {
        self.id = id
        self.ok = ok
    }
}

/// A line a worker writes: an event or a reply.
public struct WorkerLine: Codable, Sendable {
    public var event: LabEvent?
    public var reply: ControlReply?
    public init(event: LabEvent? = nil, reply: ControlReply? = nil) {
        self.event = event
        self.reply = reply
    }
}

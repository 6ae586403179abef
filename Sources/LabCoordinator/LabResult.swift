import Foundation
import LabControl

/// What a run leaves: the merged timeline, counters per node, where the captures are.
public struct LabResult: Sendable {
    public var runID: String
    /// Every event of every node, in time order, with `t` in nanoseconds since the start.
    public var events: [LabEvent]
    /// Counters per node (engine MIB names; middlebox forward/drop tallies).
    public var counters: [String: [String: Int]]
    /// pcap files written, one per node interface.
    public var pcaps: [String]
    public var outputDirectory: String
    /// Replies of the steps, in order (node, op, reply).
    public var stepReplies: [(node: String, op: String, reply: ControlReply)]

    /// Segment events seen by `node` going `dir` (`in`/`out`), optionally with exactly these flags.
    public func segments(_ node: String, _ dir: String, flags: String? = nil) -> [LabEvent] {
        events.filter { $0.kind == "segment" && $0.node == node && $0.dir == dir && (flags == nil || $0.flags == flags) }
    }

    /// State changes of `node`.
    public func states(_ node: String) -> [LabEvent] { events.filter { $0.node == node && $0.kind == "state" } }
}

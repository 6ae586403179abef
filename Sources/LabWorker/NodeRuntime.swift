import Foundation
import LabControl

/// What every role does inside the worker's event loop.
protocol NodeRuntime: AnyObject {
    /// File descriptors to watch for input, each with its tag.
    var watched: [(fd: Int32, tag: UInt64)] { get }
    /// Input is ready on the fd with `tag`.
    func ready(tag: UInt64, at now: Int64)
    /// The timer is due (or anything else woke the loop).
    func poll(at now: Int64)
    /// When to wake up next (CLOCK_MONOTONIC ns; `.max` for never).
    var nextDeadline: Int64 { get }
    func handle(_ command: ControlCommand, at now: Int64) -> ControlReply
    /// Events since the last call.
    func takeEvents() -> [LabEvent]
    /// Writes out captures.
    func flush()
}

extension ControlReply {
    static func failure(_ id: Int, _ error: String) -> ControlReply {
        var r = ControlReply(id: id, ok: false)
        r.error = error
        return r
    }
}

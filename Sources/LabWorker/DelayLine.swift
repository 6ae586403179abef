/// Frames an impairment holds back (delay, jitter, reordering, rate), in the order they leave: by
/// delivery time, and frames due at the same time in the order they arrived.
struct DelayLine {
    private var items: [(at: Int64, order: UInt64, out: Int, bytes: [UInt8])] = []
    /// Items before `head` have left; they are removed in bulk, not one `removeFirst` per frame.
    private var head = 0
    private var order: UInt64 = 0

    var isEmpty: Bool { head == items.count }

    /// When the first frame is due (CLOCK_MONOTONIC ns), `.max` when none waits.
    var nextDeadline: Int64 { isEmpty ? .max : items[head].at }

    /// Holds `bytes` for interface `out` until `at`.
    mutating func insert(_ bytes: [UInt8], out: Int, at: Int64) {
        order &+= 1
        // Most frames carry the same delay, so they belong at or near the end: search from there.
        var i = items.count
        while i > head && (items[i - 1].at > at || (items[i - 1].at == at && items[i - 1].order > order)) { i -= 1 }
        items.insert((at, order, out, bytes), at: i)
    }

    /// Hands every frame due by `now` to `body` (its interface and bytes), in order.
    mutating func releaseDue(at now: Int64, _ body: (_ out: Int, _ bytes: [UInt8]) -> Void) {
        while head < items.count, items[head].at <= now {
            let item = items[head]
            head += 1
            body(item.out, item.bytes)
        }
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096 {
            items.removeFirst(head)
            head = 0
        }
    }
}

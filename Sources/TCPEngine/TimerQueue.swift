import TCPPolicy
import TCPWire

/// What a timer entry points at. Entries are never removed when a timer is re-armed or cancelled:
/// firing checks that the owner still holds the same deadline (lazy deletion keeps arming O(log n)).
enum TimerTarget: Hashable {
    case socket(SocketID, TimerKind)
    case request(FourTuple)
    case arp(IPv4Address)
}

struct TimerEntry {
    var deadline: Instant
    var target: TimerTarget
}

/// A binary min-heap of timer entries ordered by deadline, with insertion order breaking ties so that
/// a run is deterministic.
struct TimerQueue {
    private var heap: [(deadline: Instant, order: UInt64, target: TimerTarget)] = []
    private var counter: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    /// The earliest deadline, including stale entries (a conservative poll time).
    var earliest: Instant { heap.first?.deadline ?? .never }

    mutating func push(_ deadline: Instant, _ target: TimerTarget) {
        counter &+= 1
        heap.append((deadline, counter, target))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if less(i, parent) { heap.swapAt(i, parent); i = parent } else { break }
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(_ now: Instant) -> TimerEntry? {
        guard let first = heap.first, first.deadline <= now else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && less(l, m) { m = l }
                if r < heap.count && less(r, m) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return TimerEntry(deadline: first.deadline, target: first.target)
    }

    @inline(__always) private func less(_ a: Int, _ b: Int) -> Bool {
        heap[a].deadline < heap[b].deadline || (heap[a].deadline == heap[b].deadline && heap[a].order < heap[b].order)
    }
}

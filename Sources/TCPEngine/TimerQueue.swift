import TCPPolicy
import TCPWire

/// What a timer entry points at. A connection's entries carry the connection itself (no table lookup
/// when it fires); entries are never removed when a timer is re-armed or cancelled: firing checks that
/// the owner still holds the same deadline.
enum TimerTarget {
    case connection(Connection, ConnectionTimer)
    case request(FourTuple)
    case arp(IPv4Address)

    /// The lane entries of this kind go to: timers of one kind are mostly armed with the same length,
    /// so their deadlines arrive in order and a FIFO holds them.
    var lane: Int {
        switch self {
        case let .connection(_, t): Int(t.rawValue)
        case .request: ConnectionTimer.allCases.count
        case .arp: ConnectionTimer.allCases.count + 1
        }
    }

    static let laneCount = ConnectionTimer.allCases.count + 2
}

/// The four timers of a full socket, as `inet_connection_sock` has them: the retransmit timer (which
/// also runs the loss probe and the zero-window probe, `icsk_pending`), the delayed-ACK timer, the
/// keepalive timer (also FIN_WAIT2 of an orphan) and the TIME_WAIT timer.
enum ConnectionTimer: UInt8, CaseIterable {
    case xmit, delack, keepalive, timeWait
}

struct TimerEntry {
    var deadline: Instant
    var target: TimerTarget
    /// The handle `push` returned for it (free again once popped).
    var handle: Int32
}

/// The host's timers in deadline order, insertion order breaking ties so that a run is deterministic.
///
/// A binary heap alone pays O(log n) per entry, and n grows with every connection in TIME_WAIT (60 s)
/// and every request sock (1 s). Entries of one kind are instead appended to a FIFO lane as long as
/// their deadlines do not go back; only an entry earlier than its lane's last goes to the heap. The
/// earliest entry is the smallest of the lane heads and the heap top, so the order is exactly the
/// single heap's. Lanes and heap hold plain keys; the targets (which hold references) sit in a pool
/// and are moved, never copied, so ordering costs no reference counting. A cancelled entry gives its
/// target up at once (`cancel`): its key stays queued but pops without touching the connection, and
/// the connection itself is freed when it is done, not when its last stale timer would have fired.
struct TimerQueue {
    private struct Key {
        var deadline: Instant
        var order: UInt64
        var slot: Int32

        @inline(__always) func isBefore(_ other: Key) -> Bool {
            deadline < other.deadline || (deadline == other.deadline && order < other.order)
        }
    }

    private struct Lane {
        var keys: [Key] = []
        var head = 0
        var isEmpty: Bool { head == keys.count }
    }

    private var heap: [Key] = []
    private var lanes = [Lane](repeating: Lane(), count: TimerTarget.laneCount)
    private var pool: [TimerTarget?] = []
    private var poolDeadlines: [Instant] = []
    private var freeSlots: [Int32] = []
    private var counter: UInt64 = 0
    /// The earliest deadline, including stale entries (a conservative poll time).
    private(set) var earliest: Instant = .never

    var isEmpty: Bool { count == 0 }
    var count: Int { heap.count + lanes.reduce(0) { $0 + $1.keys.count - $1.head } }

    /// Queues `target` at `deadline`.
    /// - Returns: the entry's handle for `cancel`.
    @discardableResult
    mutating func push(_ deadline: Instant, _ target: TimerTarget) -> Int32 {
        counter &+= 1
        let l = target.lane
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            pool[Int(slot)] = target
            poolDeadlines[Int(slot)] = deadline
        } else {
            slot = Int32(pool.count)
            pool.append(target)
            poolDeadlines.append(deadline)
        }
        let key = Key(deadline: deadline, order: counter, slot: slot)
        if deadline < earliest { earliest = deadline }
        if lanes[l].isEmpty || !(deadline < lanes[l].keys[lanes[l].keys.count - 1].deadline) {
            lanes[l].keys.append(key)
            return slot
        }
        heap.append(key)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].isBefore(heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
        return slot
    }

    /// Forgets the target of entry `handle` (from `push`): when its key comes up it is skipped. The
    /// newest key of its lane (a timer cancelled or re-armed before anything else was queued there,
    /// as a handshake's timers mostly are) is taken out at once, so it never costs a pop.
    mutating func cancel(_ handle: Int32) {
        guard handle >= 0, let target = pool[Int(handle)] else { return }
        pool[Int(handle)] = nil
        let l = target.lane
        guard lanes[l].keys.count > lanes[l].head, lanes[l].keys[lanes[l].keys.count - 1].slot == handle else { return }
        let deadline = lanes[l].keys.removeLast().deadline
        if lanes[l].isEmpty {
            lanes[l].keys.removeAll(keepingCapacity: true)
            lanes[l].head = 0
        }
        freeSlots.append(handle)
        if deadline == earliest { updateEarliest() }
    }

    /// When the live entry `handle` is due.
    func deadline(of handle: Int32) -> Instant { poolDeadlines[Int(handle)] }

    /// Removes and returns the earliest entry if it is due at `now` (cancelled ones are skipped).
    mutating func popDue(_ now: Instant) -> TimerEntry? {
        while let key = popDueKey(now) {
            var target: TimerTarget?
            swap(&target, &pool[Int(key.slot)])
            freeSlots.append(key.slot)
            if let target { return TimerEntry(deadline: key.deadline, target: target, handle: key.slot) }
        }
        return nil
    }

    private mutating func popDueKey(_ now: Instant) -> Key? {
        guard !(now < earliest) else { return nil }
        // -1: the heap; otherwise a lane.
        var best = -2
        var bestKey = Key(deadline: .never, order: .max, slot: -1)
        if let top = heap.first, !(now < top.deadline) {
            best = -1
            bestKey = top
        }
        for i in lanes.indices where !lanes[i].isEmpty {
            let k = lanes[i].keys[lanes[i].head]
            if !(now < k.deadline), k.isBefore(bestKey) {
                best = i
                bestKey = k
            }
        }
        guard best != -2 else { return nil }
        if best == -1 { popHeap() } else { popLane(best) }
        updateEarliest()
        return bestKey
    }

    private mutating func updateEarliest() {
        var t = heap.first?.deadline ?? .never
        for i in lanes.indices where !lanes[i].isEmpty {
            let d = lanes[i].keys[lanes[i].head].deadline
            if d < t { t = d }
        }
        earliest = t
    }

    private mutating func popLane(_ i: Int) {
        lanes[i].head += 1
        if lanes[i].head == lanes[i].keys.count {
            // Keep a modest buffer; give a large one back (a burst of connections is over).
            lanes[i].keys.removeAll(keepingCapacity: lanes[i].keys.capacity <= 4096)
            lanes[i].head = 0
        } else if lanes[i].head > 1024, lanes[i].head * 2 > lanes[i].keys.count {
            lanes[i].keys.removeFirst(lanes[i].head)
            lanes[i].head = 0
        }
    }

    private mutating func popHeap() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var i = 0
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && heap[l].isBefore(heap[m]) { m = l }
            if r < n && heap[r].isBefore(heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
    }
}

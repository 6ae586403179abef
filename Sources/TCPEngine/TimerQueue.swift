import TCPPolicy
import TCPWire

/// What a timer entry points at. A connection's entries carry the connection itself (no table lookup
/// when it fires); entries are never removed when a timer is re-armed or cancelled: firing checks that
/// the owner still holds that entry (or, for a request sock or an ARP query, the same deadline).
enum TimerTarget {
    case connection(Connection, ConnectionTimer)
    case request(FourTuple)
    case arp(IPv4Address)
    /// A timewait socket's timer (`tw_timer`) in the FIN_WAIT2 substate (TIME_WAIT's own are in
    /// `TimeWaitTimers`).
    case timeWait(FourTuple)

    /// The lane entries of this kind go to: timers of one kind are mostly armed with the same length,
    /// so their deadlines arrive in order and a FIFO holds them.
    var lane: Int {
        switch self {
        case let .connection(_, t): Int(t.rawValue)
        case .request: ConnectionTimer.allCases.count
        case .arp: ConnectionTimer.allCases.count + 1
        case .timeWait: ConnectionTimer.allCases.count + 2
        }
    }

    static let laneCount = ConnectionTimer.allCases.count + 3
}

/// The three timers of a full socket, as `inet_connection_sock` has them: the retransmit timer (which
/// also runs the loss probe and the zero-window probe, `icsk_pending`), the delayed-ACK timer and the
/// keepalive timer (also FIN_WAIT2 of an orphan). TIME_WAIT's timer is the timewait socket's.
enum ConnectionTimer: UInt8, CaseIterable {
    case xmit, delack, keepalive
}

struct TimerEntry {
    var deadline: Instant
    var target: TimerTarget
    /// The handle `push` returned for it (free again once popped).
    var handle: Int32
}

/// The host's timers in deadline order, insertion order breaking ties so that a run is deterministic.
///
/// A binary heap alone pays O(log n) per entry, and n grows with every request sock (1 s) and every
/// connection's timers (TIME_WAIT's are kept apart, in `TimeWaitTimers`). Entries of one kind are
/// instead appended to a FIFO lane as long as their deadlines do not go back; only an entry earlier
/// than its lane's last goes to the heap. The earliest entry is the smallest of the lane heads and the
/// heap top, so the order is exactly the single heap's. Lanes and heap hold plain keys; the targets
/// (which hold references) sit in a pool and are moved, never copied, so ordering costs no reference
/// counting. A cancelled entry gives its target up at once (`cancel`): its key stays queued but pops
/// without touching the connection, and the connection itself is freed when it is done, not when its
/// last stale timer would have fired.
///
/// A class over memory it manages itself (the host holds the only one): arming and cancelling a timer
/// happen several times per segment, and arrays nested in arrays paid a uniqueness check per level on
/// every change, and a generic `removeAll` whenever a lane ran empty.
final class TimerQueue {
    private struct Key {
        var deadline: Instant
        var order: UInt64
        var slot: Int32

        @inline(__always) func isBefore(_ other: Key) -> Bool {
            deadline < other.deadline || (deadline == other.deadline && order < other.order)
        }
    }

    /// A FIFO of keys: the live ones are `keys[head..<end]`.
    private struct Lane {
        var keys: UnsafeMutablePointer<Key>
        var capacity: Int
        var head = 0
        var end = 0
        var isEmpty: Bool { head == end }

        init(capacity: Int) {
            keys = .allocate(capacity: capacity)
            self.capacity = capacity
        }
    }

    /// A pool entry: its deadline and target (nil once cancelled or popped). 24 bytes: a SYN flood
    /// holds one per request sock.
    private struct Entry {
        var deadline: Instant
        var target: TimerTarget?
    }

    private static let laneCapacity = 16
    /// A lane that ran empty keeps a buffer up to this size; a larger one (a burst is over) is given back.
    private static let laneKeep = 4096

    private var heap: [Key] = []
    private let lanes: UnsafeMutablePointer<Lane>
    private var pool: UnsafeMutablePointer<Entry>
    private var poolCapacity = 0
    /// Entries `0..<poolCount` are initialized; the free ones are listed in `freeSlots[0..<freeCount]`
    /// (room for every entry).
    private var poolCount = 0
    private var freeSlots: UnsafeMutablePointer<Int32>
    private var freeCount = 0
    private var counter: UInt64 = 0
    /// The earliest deadline, including stale entries (a conservative poll time).
    private(set) var earliest: Instant = .never

    init() {
        lanes = .allocate(capacity: TimerTarget.laneCount)
        for i in 0..<TimerTarget.laneCount { (lanes + i).initialize(to: Lane(capacity: Self.laneCapacity)) }
        pool = .allocate(capacity: 0)
        freeSlots = .allocate(capacity: 0)
    }

    deinit {
        for i in 0..<TimerTarget.laneCount { lanes[i].keys.deallocate() }
        lanes.deinitialize(count: TimerTarget.laneCount)
        lanes.deallocate()
        pool.deinitialize(count: poolCount)
        pool.deallocate()
        freeSlots.deallocate()
    }

    var isEmpty: Bool { count == 0 }
    var count: Int {
        var n = heap.count
        for i in 0..<TimerTarget.laneCount { n += lanes[i].end - lanes[i].head }
        return n
    }

    // `push` and `cancel` are inlined: a timer is armed or stopped several times per segment.

    /// Queues `target` at `deadline`.
    /// - Returns: the entry's handle for `cancel`.
    @discardableResult
    @inline(__always) func push(_ deadline: Instant, _ target: consuming TimerTarget) -> Int32 {
        counter &+= 1
        let l = target.lane
        let slot: Int32
        if freeCount > 0 {
            freeCount -= 1
            slot = freeSlots[freeCount]
            let e = pool + Int(slot)
            e.pointee.target = consume target
            e.pointee.deadline = deadline
        } else {
            if poolCount == poolCapacity { growPool() }
            slot = Int32(poolCount)
            (pool + poolCount).initialize(to: Entry(deadline: deadline, target: consume target))
            poolCount += 1
        }
        let key = Key(deadline: deadline, order: counter, slot: slot)
        if deadline < earliest { earliest = deadline }
        let lane = lanes + l
        if lane.pointee.isEmpty || !(deadline < lane.pointee.keys[lane.pointee.end - 1].deadline) {
            if lane.pointee.end == lane.pointee.capacity { makeRoom(lane) }
            (lane.pointee.keys + lane.pointee.end).initialize(to: key)
            lane.pointee.end += 1
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
    @inline(__always) func cancel(_ handle: Int32) {
        guard handle >= 0 else { return }
        let e = pool + Int(handle)
        guard let l = e.pointee.target?.lane else { return }
        e.pointee.target = nil
        let lane = lanes + l
        guard lane.pointee.end > lane.pointee.head, lane.pointee.keys[lane.pointee.end - 1].slot == handle else { return }
        lane.pointee.end -= 1
        let deadline = lane.pointee.keys[lane.pointee.end].deadline
        if lane.pointee.isEmpty { emptied(lane) }
        free(handle)
        if deadline == earliest { updateEarliest() }
    }

    /// When the live entry `handle` is due.
    func deadline(of handle: Int32) -> Instant { pool[Int(handle)].deadline }

    /// A place in the order of every timer armed from now on (as `push` gives one): for timers kept
    /// elsewhere (`TimeWaitTimers`) that must fire in the same order as this queue's.
    @inline(__always) func nextOrder() -> UInt64 {
        counter &+= 1
        return counter
    }

    /// Removes and returns the earliest entry if it is due at `now` (cancelled ones are skipped) and
    /// comes before `bound` (a timer kept elsewhere, by deadline then order), if any.
    func popDue(_ now: Instant, before bound: (deadline: Instant, order: UInt64)? = nil) -> TimerEntry? {
        while let key = popDueKey(now, before: bound) {
            var target: TimerTarget?
            swap(&target, &pool[Int(key.slot)].target)
            free(key.slot)
            if let target { return TimerEntry(deadline: key.deadline, target: target, handle: key.slot) }
        }
        return nil
    }

    @inline(__always) private func free(_ slot: Int32) {
        freeSlots[freeCount] = slot
        freeCount += 1
    }

    /// Every entry is in use (the free list is empty): twice the room, for entries and free list.
    private func growPool() {
        let capacity = max(16, poolCapacity * 2)
        let grown = UnsafeMutablePointer<Entry>.allocate(capacity: capacity)
        grown.moveInitialize(from: pool, count: poolCount)
        pool.deallocate()
        pool = grown
        freeSlots.deallocate()
        freeSlots = .allocate(capacity: capacity)
        poolCapacity = capacity
    }

    /// A full lane: its live keys move to the front if that frees enough, else the buffer doubles.
    private func makeRoom(_ lane: UnsafeMutablePointer<Lane>) {
        let live = lane.pointee.end - lane.pointee.head
        if lane.pointee.head > 0, live * 2 <= lane.pointee.capacity {
            // Plain keys, overlapping ranges: a memmove.
            UnsafeMutableRawPointer(lane.pointee.keys).copyMemory(from: lane.pointee.keys + lane.pointee.head,
                                                                  byteCount: live * MemoryLayout<Key>.stride)
        } else {
            let capacity = lane.pointee.capacity * 2
            let grown = UnsafeMutablePointer<Key>.allocate(capacity: capacity)
            grown.initialize(from: lane.pointee.keys + lane.pointee.head, count: live)
            lane.pointee.keys.deallocate()
            lane.pointee.keys = grown
            lane.pointee.capacity = capacity
        }
        lane.pointee.head = 0
        lane.pointee.end = live
    }

    /// A lane ran empty: start again at the front; give a large buffer back (a burst of connections is over).
    @inline(__always) private func emptied(_ lane: UnsafeMutablePointer<Lane>) {
        lane.pointee.head = 0
        lane.pointee.end = 0
        if lane.pointee.capacity > Self.laneKeep {
            lane.pointee.keys.deallocate()
            lane.pointee.keys = .allocate(capacity: Self.laneCapacity)
            lane.pointee.capacity = Self.laneCapacity
        }
    }

    private func popDueKey(_ now: Instant, before bound: (deadline: Instant, order: UInt64)?) -> Key? {
        guard !(now < earliest) else { return nil }
        // -1: the heap; otherwise a lane.
        var best = -2
        var bestKey = Key(deadline: .never, order: .max, slot: -1)
        if let top = heap.first, !(now < top.deadline) {
            best = -1
            bestKey = top
        }
        for i in 0..<TimerTarget.laneCount where !lanes[i].isEmpty {
            let k = lanes[i].keys[lanes[i].head]
            if !(now < k.deadline), k.isBefore(bestKey) {
                best = i
                bestKey = k
            }
        }
        guard best != -2 else { return nil }
        if let bound, !bestKey.isBefore(Key(deadline: bound.deadline, order: bound.order, slot: -1)) { return nil }
        if best == -1 {
            popHeap()
        } else {
            let lane = lanes + best
            lane.pointee.head += 1
            if lane.pointee.isEmpty { emptied(lane) }
        }
        updateEarliest()
        return bestKey
    }

    @inline(__always) private func updateEarliest() {
        var t = heap.first?.deadline ?? .never
        for i in 0..<TimerTarget.laneCount where !lanes[i].isEmpty {
            let d = lanes[i].keys[lanes[i].head].deadline
            if d < t { t = d }
        }
        earliest = t
    }

    private func popHeap() {
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

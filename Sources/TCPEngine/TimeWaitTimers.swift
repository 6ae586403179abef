import TCPPolicy
import TCPWire

/// TIME_WAIT's timers (`tw_timer` of each timewait socket), kept apart from the host's other timers.
///
/// A host holds one per connection it closed first in the last 60 s — tens of thousands — and most
/// never fire: a SYN reopens the 4-tuple, or the FIN comes again and the 60 s start over. In the
/// general timer queue each one cost a cold entry twice, once to cancel it and once to skip it 60 s
/// later. Here the timers sit in arming order in a ring (TCP_TIMEWAIT_LEN is the same for all, so
/// arming order is deadline order) and whether one is still armed is a bit in a small bitmap that stays
/// in the cache: cancelling clears a bit, and the ring's head skips cancelled timers without reading
/// them. `earliest` is the first armed timer's deadline, so a host is never woken for a cancelled one.
///
/// Only TIME_WAIT's own timers come here (FIN_WAIT2 substate timers, of any length, go to the general
/// queue); a deadline earlier than the newest one would not fit the ring (`accepts`).
final class TimeWaitTimers {
    /// An armed timer: when, its place among all the host's timers (ties fire in arming order), and
    /// the timewait socket it belongs to.
    struct Item {
        var deadline: Instant
        var order: UInt64
        var tuple: FourTuple
    }

    private var items: UnsafeMutablePointer<Item>
    /// One bit per ring slot: the timer in it is armed.
    private var armed: UnsafeMutablePointer<UInt64>
    private var capacity: Int
    /// Sequence numbers: `head` is the first armed timer's (or `tail` when none is armed), `tail` the
    /// next one's. A timer lives in slot `sequence & (capacity − 1)`.
    private var head: Int64 = 0
    private var tail: Int64 = 0
    /// The newest timer's deadline: a later arming must not be earlier.
    private var newest: Instant = .zero
    /// The first armed timer's deadline (`.never`: none).
    private(set) var earliest: Instant = .never

    init(capacity: Int = 64) {
        precondition(capacity >= 64 && capacity & (capacity - 1) == 0, "a power of two, at least 64 (one bitmap word)")
        self.capacity = capacity
        items = .allocate(capacity: capacity)
        armed = .allocate(capacity: capacity / 64)
        armed.initialize(repeating: 0, count: capacity / 64)
    }

    deinit {
        // Items are plain values: nothing to deinitialize.
        items.deallocate()
        armed.deallocate()
    }

    /// Timers armed.
    private(set) var count = 0

    /// Whether a timer due at `deadline` keeps the ring in deadline order.
    @inline(__always) func accepts(_ deadline: Instant) -> Bool { head == tail || !(deadline < newest) }

    /// Arms a timer (`accepts(deadline)` must hold).
    /// - Returns: its sequence number, for `cancel`.
    func push(_ deadline: Instant, order: UInt64, tuple: FourTuple) -> Int64 {
        if Int(tail - head) == capacity { grow() }
        let slot = Int(tail & Int64(capacity - 1))
        (items + slot).initialize(to: Item(deadline: deadline, order: order, tuple: tuple))
        armed[slot >> 6] |= 1 << UInt64(slot & 63)
        if head == tail { earliest = deadline }
        newest = deadline
        count += 1
        tail += 1
        return tail - 1
    }

    /// Disarms timer `sequence` (from `push`; still armed).
    func cancel(_ sequence: Int64) {
        let slot = Int(sequence & Int64(capacity - 1))
        armed[slot >> 6] &= ~(1 << UInt64(slot & 63))
        count -= 1
        if sequence == head { skipDisarmed() }
    }

    /// The first armed timer if it is due at `now`.
    @inline(__always) func firstDue(_ now: Instant) -> Item? {
        guard !(now < earliest) else { return nil }
        return items[Int(head & Int64(capacity - 1))]
    }

    /// Disarms the first armed timer (the one `firstDue` returned) and returns its sequence number.
    func popFirst() -> Int64 {
        let sequence = head
        cancel(sequence)
        return sequence
    }

    /// Moves `head` past disarmed timers (reading the bitmap only) to the next armed one.
    private func skipDisarmed() {
        let mask = Int64(capacity - 1)
        while head < tail {
            let slot = Int(head & mask)
            let word = armed[slot >> 6] >> UInt64(slot & 63)
            if word & 1 != 0 { break }
            // Skip the whole run of clear bits in this word at once.
            let run = word == 0 ? 64 - (slot & 63) : word.trailingZeroBitCount
            head = min(head + Int64(run), tail)
        }
        earliest = head < tail ? items[Int(head & mask)].deadline : .never
    }

    /// The ring is full: twice the room, every timer keeping its sequence number.
    private func grow() {
        let bigger = capacity * 2
        let newItems = UnsafeMutablePointer<Item>.allocate(capacity: bigger)
        let newArmed = UnsafeMutablePointer<UInt64>.allocate(capacity: bigger / 64)
        newArmed.initialize(repeating: 0, count: bigger / 64)
        let oldMask = Int64(capacity - 1), newMask = Int64(bigger - 1)
        var sequence = head
        while sequence < tail {
            let from = Int(sequence & oldMask), to = Int(sequence & newMask)
            (newItems + to).initialize(to: items[from])
            if armed[from >> 6] & (1 << UInt64(from & 63)) != 0 { newArmed[to >> 6] |= 1 << UInt64(to & 63) }
            sequence += 1
        }
        items.deallocate()
        armed.deallocate()
        items = newItems
        armed = newArmed
        capacity = bigger
    }
}

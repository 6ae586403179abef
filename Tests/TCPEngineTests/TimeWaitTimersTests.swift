import Testing
@testable import TCPEngine
import TCPPolicy
import TCPWire

/// TIME_WAIT's timer ring skips cancelled timers by a bitmap and grows while timers are armed: after
/// any sequence of arming, cancelling and firing it must agree with a plain list of armed timers.
@Suite("TIME_WAIT timers")
struct TimeWaitTimersTests {
    @Test func agreesWithAListOverRandomOperations() {
        let ring = TimeWaitTimers(capacity: 64)
        // The reference: armed timers by sequence number.
        var armed: [Int64: TimeWaitTimers.Item] = [:]
        var rng = SplitMix64(seed: 9)
        var now = Instant.zero
        var newest = Instant.zero
        var order: UInt64 = 0
        var fired = 0
        for step in 0..<60_000 {
            switch rng.next() % 8 {
            case 0, 1, 2:
                // Arm: deadlines never go back (TCP_TIMEWAIT_LEN from a clock that only moves forward).
                let deadline = max(newest, now) + .microseconds(Int64(rng.next() % 50))
                order += 1
                let tuple = FourTuple(local: SocketAddress(IPv4Address(198, 18, 0, 2), 80),
                                      remote: SocketAddress(IPv4Address(198, 18, 0, 1), UInt16(truncatingIfNeeded: step)))
                let sequence = ring.push(deadline, order: order, tuple: tuple)
                armed[sequence] = TimeWaitTimers.Item(deadline: deadline, order: order, tuple: tuple)
                newest = deadline
            case 3, 4, 5:
                // Cancel one armed timer: the oldest (the ring's head) or any other — only others in the
                // first steps, while no time passes, so that the ring grows with holes in it.
                let keys = armed.keys.sorted()
                guard !keys.isEmpty, step >= 3_000 || rng.next() % 3 == 0 else { break }
                let sequence = step >= 3_000 && rng.next() % 2 == 0 ? keys[0] : keys[Int(rng.next() % UInt64(keys.count))]
                ring.cancel(sequence)
                armed[sequence] = nil
            default:
                // Time passes (after the first steps); every due timer fires, earliest (then first armed) first.
                if step >= 3_000 { now = now + .microseconds(Int64(rng.next() % 100)) }
                while let first = ring.firstDue(now) {
                    let expected = armed.min { ($0.value.deadline, $0.value.order) < ($1.value.deadline, $1.value.order) }
                    #expect(first.order == expected?.value.order, "step \(step)")
                    let sequence = ring.popFirst()
                    #expect(sequence == expected?.key, "step \(step)")
                    armed[sequence] = nil
                    fired += 1
                }
            }
            #expect(ring.count == armed.count, "step \(step)")
            // By then the ring has grown several times over its 64 slots.
            if step == 2_999 { #expect(armed.count > 256) }
            let earliest = armed.values.map(\.deadline).min() ?? .never
            #expect(ring.earliest == earliest, "step \(step)")
        }
        #expect(fired > 1_000)
    }

    @Test("grows while timers are armed; cancelled ones are skipped, the rest fire in order")
    func growsAndSkips() {
        let ring = TimeWaitTimers(capacity: 64)
        var sequences: [Int64] = []
        for i in 0..<10_000 {
            let tuple = FourTuple(local: SocketAddress(IPv4Address(198, 18, 0, 2), 80),
                                  remote: SocketAddress(IPv4Address(198, 18, 0, 1), UInt16(i)))
            sequences.append(ring.push(Instant.zero + .milliseconds(Int64(i / 3)), order: UInt64(i), tuple: tuple))
            // Cancel as they are armed too, so that the ring grows with cancelled timers inside it.
            if i % 2 == 1 { ring.cancel(sequences[i - 1]) }
        }
        #expect(ring.count == 5_000)
        #expect(ring.earliest == Instant.zero + .milliseconds(0))
        var fired: [UInt16] = []
        while let first = ring.firstDue(Instant.zero + .seconds(10)) {
            fired.append(first.tuple.remote.port)
            _ = ring.popFirst()
        }
        let odd: [UInt16] = (0..<5_000).map { (n: Int) -> UInt16 in UInt16(n * 2 + 1) }
        #expect(fired == odd)
        #expect(ring.count == 0)
        #expect(ring.earliest == .never)
    }

    @Test("a deadline before the newest armed one is refused (it goes to the general queue)")
    func refusesAnEarlierDeadline() {
        let ring = TimeWaitTimers(capacity: 64)
        let tuple = FourTuple(local: SocketAddress(IPv4Address(198, 18, 0, 2), 80), remote: SocketAddress(IPv4Address(198, 18, 0, 1), 1))
        let sixty = Instant.zero + .seconds(60)
        #expect(ring.accepts(sixty))
        _ = ring.push(sixty, order: 1, tuple: tuple)
        #expect(!ring.accepts(Instant.zero + .seconds(10)))
        #expect(ring.accepts(sixty))
        #expect(ring.earliest == sixty)
    }
}

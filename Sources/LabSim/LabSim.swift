import LabImpair
import TCPEngine
import TCPPolicy
import TCPWire

/// What a simulated run recorded: every event of every host, and every frame on every link.
public struct SimRecord {
    /// The host the event happened on.
    public var host: String
    public var event: EngineEvent
}

/// A frame seen on a link: sent, and either delivered or dropped (with the rule or "loss").
public struct SimFrameRecord {
    public var time: Instant
    public var from: String
    public var to: String
    public var link: Int
    public var frame: Frame
    /// Nil when delivered.
    public var droppedBy: String?
}

/// Several hosts in one process, joined by simulated links with loss, delay, jitter and targeted drops,
/// driven by a virtual clock and a seed: the same seed gives the same run, to the nanosecond.
public final class LabSim {
    public private(set) var hosts: [Host] = []
    public private(set) var links: [SimLink] = []
    public private(set) var now: Instant = .zero
    /// Every host event, in time order.
    public private(set) var records: [SimRecord] = []
    /// Every frame put on a link.
    public private(set) var frames: [SimFrameRecord] = []
    /// Set false to keep no records (benchmarks).
    public var recording = true
    /// Pcap bytes per link (when `capturing` is on).
    public private(set) var captures: [[UInt8]] = []
    public var capturing = false {
        didSet { if capturing && captures.count < links.count { captures = links.map { _ in PcapWriter().fileHeader() } } }
    }

    private var rng: SplitMix64
    /// Frames on the wire, as plain keys sorted by (arrival, order) in `inFlight[inFlightHead..<inFlightEnd]`
    /// (keys past the end are stale, overwritten by later frames). The frames themselves sit in `pool`
    /// (or `bytesPool` when an impairment changed their bytes): moved in when sent, moved out when
    /// delivered, never copied. Memory LabSim manages itself, as the per-frame path reads and writes it
    /// several times (an Array checked uniqueness and bounds each time).
    private var inFlight = UnsafeMutablePointer<Pending>.allocate(capacity: 16)
    private var inFlightCapacity = 16

    struct Pending {
        var at: Instant
        var order: UInt64
        var host: Int32
        var interface: Int32
        /// Index into `pool`, or into `bytesPool` when `isBytes`.
        var slot: Int32
        var isBytes: Bool
    }

    /// Frames as the hosts sent them, in memory LabSim manages itself: slots `0..<poolCount` hold a
    /// frame, except those listed in `freeSlots` (delivered: uninitialized). Not an Array because an
    /// Array cannot lend an element to a call without copying it (the call might change the array),
    /// whereas a frame moved out of its slot is the receiver's to borrow.
    private var pool = UnsafeMutablePointer<OutgoingFrame>.allocate(capacity: 16)
    private var poolCapacity = 16
    private var poolCount = 0
    /// The free slots, a stack of `freeCount` (room for every slot).
    private var freeSlots = UnsafeMutablePointer<Int32>.allocate(capacity: 16)
    private var freeCount = 0
    /// Frames whose bytes an impairment changed (corruption, rate limiting): delivered as bytes.
    private var bytesPool: [[UInt8]] = []
    private var freeBytesSlots: [Int32] = []
    private var inFlightHead = 0
    private var inFlightEnd = 0
    private var order: UInt64 = 0
    /// [host × maxInterfaces + interface] → link index, or -1 when nothing is plugged in.
    private var attachment: [Int] = []
    private static let maxInterfaces = 16
    /// The hosts without reference counting (`hosts` keeps them alive): the per-frame path touches them
    /// several times.
    private var hostRefs: [Unmanaged<Host>] = []
    /// The links likewise (`links` keeps them alive).
    private var linkRefs: [Unmanaged<SimLink>] = []
    /// A spare outbox buffer, swapped with a host's so frames move out without copies.
    private var scratch: [OutgoingFrame] = []
    /// Each host's `nextDeadline` as of its last collection (`run` refreshes them all first), one per
    /// host in `hostRefs` order, in memory of its own (read on every step).
    private var deadlines = UnsafeMutablePointer<Instant>.allocate(capacity: 4)
    private var deadlineCapacity = 4

    public init(seed: UInt64 = 1) { rng = SplitMix64(seed: seed) }

    deinit {
        // The frames still on the wire are the only initialized slots.
        for i in inFlightHead..<inFlightEnd where !inFlight[i].isBytes {
            (pool + Int(inFlight[i].slot)).deinitialize(count: 1)
        }
        pool.deallocate()
        freeSlots.deallocate()
        inFlight.deallocate()
        deadlines.deallocate()
    }

    /// Adds a host; its policies and seed are its own.
    @discardableResult
    public func add(_ host: Host) -> Host {
        hosts.append(host)
        hostRefs.append(Unmanaged.passUnretained(host))
        attachment += [Int](repeating: -1, count: Self.maxInterfaces)
        if hostRefs.count > deadlineCapacity {
            deadlines = Self.moved(deadlines, count: deadlineCapacity, capacity: deadlineCapacity * 2)
            deadlineCapacity *= 2
        }
        (deadlines + hostRefs.count - 1).initialize(to: host.nextDeadline)
        host.recordsEvents = recording
        return host
    }

    /// Joins `a`'s interface to `b`'s interface.
    @discardableResult
    public func connect(_ a: Host, _ aInterface: Int = 0, _ b: Host, _ bInterface: Int = 0,
                        aToB: Impairment = Impairment(delay: .microseconds(50)),
                        bToA: Impairment = Impairment(delay: .microseconds(50))) -> SimLink
    {
        let ai = index(of: a), bi = index(of: b)
        let link = SimLink(a: (ai, aInterface), b: (bi, bInterface), aToB: aToB, bToA: bToA, seed: rng.next())
        links.append(link)
        linkRefs.append(Unmanaged.passUnretained(link))
        attach(ai, aInterface, links.count - 1)
        attach(bi, bInterface, links.count - 1)
        if capturing { captures.append(PcapWriter().fileHeader()) }
        return link
    }

    private func attach(_ host: Int, _ interface: Int, _ link: Int) {
        precondition(interface < Self.maxInterfaces, "LabSim supports interfaces 0..<\(Self.maxInterfaces) per host")
        attachment[host * Self.maxInterfaces + interface] = link
    }

    public func host(named name: String) -> Host? { hosts.first { $0.name == name } }

    private func index(of host: Host) -> Int {
        guard let i = hosts.firstIndex(where: { $0 === host }) else { preconditionFailure("host \(host.name) not added to the simulation") }
        return i
    }

    /// Collects what the hosts have sent and recorded since the last step (call after using a host's
    /// socket API directly; `run` does it by itself).
    public func collect() {
        for i in hosts.indices { collect(i) }
    }

    /// Takes host `i`'s events and puts its frames on the links, moving them (the outbox's buffer is
    /// swapped with a spare one).
    // The per-frame path (collect, transmit's plain case, park, insert) is inlined: these run for every
    // frame and their calls cost about as much as their bodies.
    @inline(__always) private func collect(_ i: Int) {
        hostRefs[i]._withUnsafeGuaranteedRef { collect(i, $0) }
    }

    @inline(__always) private func collect(_ i: Int, _ h: Host) {
        defer { deadlines[i] = h.nextDeadline }
        if recording || h.recordsEvents {
            if !h.events.isEmpty {
                if recording { for e in h.events { records.append(SimRecord(host: h.name, event: e)) } }
                h.events.removeAll(keepingCapacity: true)
            }
        }
        // Most collections find nothing: `hasOutput` looks without retaining the outbox.
        guard h.hasOutput else { return }
        swap(&scratch, &h.outbox)
        // Oldest first: reversed (a single frame, the usual case, needs no reversal), then popped from
        // the back (moves, no copies).
        if scratch.count > 1 { scratch.reverse() }
        while let out = scratch.popLast() { transmit(from: i, out) }
    }

    @inline(__always) private func transmit(from hostIndex: Int, _ out: consuming OutgoingFrame) {
        let interface = out.interface
        guard interface < Self.maxInterfaces else { return }
        let li = attachment[hostIndex * Self.maxInterfaces + interface]
        guard li >= 0 else { return }  // nothing plugged in
        // The usual link only delays: decided while `links` keeps the link alive, with no reference
        // counting per frame. Anything else (a drop hook, loss, rules, other impairments) goes below.
        let plain: (to: (host: Int, interface: Int), at: Instant)? = linkRefs[li]._withUnsafeGuaranteedRef { link in
            let forward = link.a.host == hostIndex && link.a.interface == interface
            guard !link.hasDropHook, forward ? link.forwardDelayOnly && !link.forwardDrops : link.backwardDelayOnly && !link.backwardDrops
            else { return nil }
            if forward { link.sentAToB += 1 } else { link.sentBToA += 1 }
            return (forward ? link.b : link.a, now + (forward ? link.forwardDelay : link.backwardDelay))
        }
        if let plain {
            putOnWire(out, link: li, from: hostIndex, to: plain.to, at: plain.at)
            return
        }
        transmit(from: hostIndex, out, impairedLink: li)
    }

    /// A frame onto link `li`, recorded as sent and delivered to `to` at `at` (moved, never copied).
    @inline(__always) private func putOnWire(_ out: consuming OutgoingFrame, link li: Int, from hostIndex: Int,
                                             to: (host: Int, interface: Int), at: Instant) {
        if recording || capturing { record(li, hostIndex, to.host, out.frame, droppedBy: nil) }
        order &+= 1
        insert(Pending(at: at, order: order, host: Int32(to.host), interface: Int32(to.interface), slot: park(consume out),
                       isBytes: false))
    }

    /// A frame onto link `li` when it has a drop hook, loss, rules or other impairments (kept out of
    /// line: the plain path above is inlined into every collection).
    @inline(never) private func transmit(from hostIndex: Int, _ out: consuming OutgoingFrame, impairedLink li: Int) {
        let interface = out.interface
        let link = links[li]
        let forward = link.a.host == hostIndex && link.a.interface == interface
        let to = forward ? link.b : link.a
        if forward { link.sentAToB += 1 } else { link.sentBToA += 1 }
        if link.hasDropHook, let hook = link.dropHook {
            let lf = LinkFrame(from: hosts[hostIndex].name, to: hosts[to.host].name, frame: out.frame,
                               index: forward ? link.sentAToB : link.sentBToA, time: now)
            if let rule = hook(lf) {
                record(li, hostIndex, to.host, out.frame, droppedBy: rule)
                return
            }
        }
        if forward ? link.forwardDelayOnly : link.backwardDelayOnly {
            // Loss and drop rules only: the same draws as `Impairer.process`, no bytes, no decision array.
            if forward ? link.forwardDrops : link.backwardDrops {
                let rules = forward ? link.forwardHasRules : link.backwardHasRules
                let reason = forward ? link.forward.dropReason(frame: rules ? out.frame : nil)
                    : link.backward.dropReason(frame: rules ? out.frame : nil)
                if let reason {
                    record(li, hostIndex, to.host, out.frame, droppedBy: reason)
                    return
                }
            }
            putOnWire(out, link: li, from: hostIndex, to: to, at: now + (forward ? link.forwardDelay : link.backwardDelay))
            return
        }
        let impairment = forward ? link.aToB : link.bToA
        // Frames travel parsed inside the simulation; only rate limiting and corruption need the bytes.
        let needsBytes = impairment.rateBitsPerSecond > 0 || impairment.corrupt > 0
        let bytes = needsBytes ? out.frame.serialize() : []
        let decisions = forward ? link.forward.process(bytes, frame: out.frame, at: now)
            : link.backward.process(bytes, frame: out.frame, at: now)
        for decision in decisions {
            switch decision {
            case let .drop(reason):
                record(li, hostIndex, to.host, out.frame, droppedBy: reason)
            case let .deliver(at, delivered, _):
                record(li, hostIndex, to.host, out.frame, droppedBy: nil)
                order &+= 1
                let changed = needsBytes && delivered != bytes
                let slot = changed ? park(bytes: delivered) : park(copy out)
                insert(Pending(at: max(at, now), order: order, host: Int32(to.host), interface: Int32(to.interface),
                               slot: slot, isBytes: changed))
            }
        }
    }

    private func record(_ li: Int, _ from: Int, _ to: Int, _ frame: Frame, droppedBy: String?) {
        if recording {
            frames.append(SimFrameRecord(time: now, from: hosts[from].name, to: hosts[to].name, link: li, frame: frame,
                                         droppedBy: droppedBy))
        }
        if capturing {
            captures[li] += PcapWriter().record(nanoseconds: UInt64(max(now.nanoseconds, 0)), frame: frame.serialize())
        }
    }

    /// Moves a frame into a free slot, or a new one.
    @inline(__always) private func park(_ frame: consuming OutgoingFrame) -> Int32 {
        if freeCount > 0 {
            freeCount -= 1
            let slot = freeSlots[freeCount]
            (pool + Int(slot)).initialize(to: frame)
            return slot
        }
        if poolCount == poolCapacity {
            // No free slot: every slot holds a frame, all of them move.
            pool = Self.moved(pool, count: poolCount, capacity: poolCapacity * 2)
            freeSlots.deallocate()
            freeSlots = .allocate(capacity: poolCapacity * 2)
            poolCapacity *= 2
        }
        (pool + poolCount).initialize(to: frame)
        poolCount += 1
        return Int32(poolCount - 1)
    }

    /// The first `count` elements of `buffer` moved into a new buffer of `capacity`; the old one is freed.
    private static func moved<T>(_ buffer: UnsafeMutablePointer<T>, count: Int, capacity: Int) -> UnsafeMutablePointer<T> {
        let grown = UnsafeMutablePointer<T>.allocate(capacity: capacity)
        grown.moveInitialize(from: buffer, count: count)
        buffer.deallocate()
        return grown
    }

    private func park(bytes: [UInt8]) -> Int32 {
        if let slot = freeBytesSlots.popLast() {
            bytesPool[Int(slot)] = bytes
            return slot
        }
        bytesPool.append(bytes)
        return Int32(bytesPool.count - 1)
    }

    @inline(__always) private func insert(_ item: Pending) {
        // Kept sorted by (time, order), newest usually last: insertion from the back is O(1) in practice.
        if inFlightEnd == inFlightCapacity {
            inFlight = Self.moved(inFlight, count: inFlightEnd, capacity: inFlightCapacity * 2)
            inFlightCapacity *= 2
        }
        var i = inFlightEnd
        while i > inFlightHead && (inFlight[i - 1].at > item.at || (inFlight[i - 1].at == item.at && inFlight[i - 1].order > item.order)) {
            inFlight[i] = inFlight[i - 1]
            i -= 1
        }
        inFlight[i] = item
        inFlightEnd += 1
    }

    /// The time of the next thing that will happen: a frame arriving or a host timer.
    public var nextEventTime: Instant {
        var t = inFlightHead < inFlightEnd ? inFlight[inFlightHead].at : .never
        for i in hosts.indices {
            let d = hosts[i].nextDeadline
            if d < t { t = d }
        }
        return t
    }

    /// Runs until `deadline` (inclusive). Bounded: at most `maxSteps` steps, so a livelock cannot hang a test.
    public func run(until deadline: Instant, maxSteps: Int = 10_000_000) {
        collect()
        var steps = 0
        while steps < maxSteps {
            var t = inFlightHead < inFlightEnd ? inFlight[inFlightHead].at : .never
            for i in 0..<hostRefs.count where deadlines[i] < t { t = deadlines[i] }
            if t == .never || t > deadline { break }
            step(to: t)
            steps += 1
        }
        if now < deadline { now = deadline }
        for i in hostRefs.indices {
            hostRefs[i]._withUnsafeGuaranteedRef { $0.poll(at: now) }
            collect(i)
        }
    }

    /// Runs for `interval` of virtual time.
    public func run(for interval: Interval, maxSteps: Int = 10_000_000) { run(until: now + interval, maxSteps: maxSteps) }

    /// Runs until nothing is in flight and no timer is armed, or until `limit`.
    public func runUntilQuiet(limit: Interval = .seconds(3600)) {
        run(until: now + limit)
    }

    private func step(to t: Instant) {
        now = max(now, t)
        while inFlightHead < inFlightEnd, inFlight[inFlightHead].at <= now {
            let item = inFlight[inFlightHead]
            inFlightHead += 1
            if inFlightHead == inFlightEnd {
                // All delivered: start again at the front. Resetting the bounds is enough (the keys are
                // plain values); `removeAll` would go through a generic `replaceSubrange` every time.
                inFlightHead = 0
                inFlightEnd = 0
            } else if inFlightHead > 1024, inFlightHead * 2 > inFlightEnd {
                // Plain keys, overlapping ranges: a memmove.
                UnsafeMutableRawPointer(inFlight).copyMemory(from: inFlight + inFlightHead,
                                                             byteCount: (inFlightEnd - inFlightHead) * MemoryLayout<Pending>.stride)
                inFlightEnd -= inFlightHead
                inFlightHead = 0
            }
            let host = Int(item.host), interface = Int(item.interface), slot = Int(item.slot)
            // Nothing lands in the pools until `collect` below. A frame leaves its slot (free from now
            // on) for a local the host borrows (lent in place, it would be copied: a call cannot know
            // that nothing writes the slot meanwhile), and is released at the end of this iteration.
            if item.isBytes {
                hostRefs[host]._withUnsafeGuaranteedRef { $0.receive(bytes: bytesPool[slot], on: interface, at: now) }
                bytesPool[slot] = []
                freeBytesSlots.append(item.slot)
            } else {
                let frame = (pool + slot).move().frame
                hostRefs[host]._withUnsafeGuaranteedRef { $0.receive(frame: frame, on: interface, at: now) }
                freeSlots[freeCount] = item.slot
                freeCount += 1
            }
            collect(host)
        }
        for i in 0..<hostRefs.count where deadlines[i] <= now {
            hostRefs[i]._withUnsafeGuaranteedRef { $0.poll(at: now) }
            collect(i)
        }
    }

    /// The pcap bytes captured on `link`.
    public func pcap(link: Int) -> [UInt8] { captures[link] }
}

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
    /// Frames on the wire, sorted by (arrival, order); `inFlightHead` is the first not yet delivered.
    private var inFlight: [(at: Instant, order: UInt64, host: Int, interface: Int, frame: InFlight)] = []

    /// A frame on the wire: parsed, or raw bytes when an impairment changed them.
    enum InFlight {
        case frame(Frame)
        case bytes([UInt8])
    }
    private var inFlightHead = 0
    private var order: UInt64 = 0
    /// (host, interface) → link index.
    private var attachment: [Int: [Int: Int]] = [:]

    public init(seed: UInt64 = 1) { rng = SplitMix64(seed: seed) }

    /// Adds a host; its policies and seed are its own.
    @discardableResult
    public func add(_ host: Host) -> Host {
        hosts.append(host)
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
        attachment[ai, default: [:]][aInterface] = links.count - 1
        attachment[bi, default: [:]][bInterface] = links.count - 1
        if capturing { captures.append(PcapWriter().fileHeader()) }
        return link
    }

    public func host(named name: String) -> Host? { hosts.first { $0.name == name } }

    private func index(of host: Host) -> Int {
        guard let i = hosts.firstIndex(where: { $0 === host }) else { preconditionFailure("host \(host.name) not added to the simulation") }
        return i
    }

    /// Collects what the hosts have sent and recorded since the last step (call after using a host's
    /// socket API directly; `run` does it by itself).
    public func collect() {
        for (i, h) in hosts.enumerated() {
            if recording {
                for e in h.takeEvents() { records.append(SimRecord(host: h.name, event: e)) }
            } else if !h.events.isEmpty {
                h.events.removeAll(keepingCapacity: true)
            }
            if h.outbox.isEmpty { continue }
            // Iterate in place and keep the buffer: no copy of the outbox per step.
            for out in h.outbox { transmit(from: i, out) }
            h.outbox.removeAll(keepingCapacity: true)
        }
    }

    private func transmit(from hostIndex: Int, _ out: OutgoingFrame) {
        guard let li = attachment[hostIndex]?[out.interface] else { return }  // nothing plugged in
        let link = links[li]
        let forward = link.a.host == hostIndex && link.a.interface == out.interface
        let to = forward ? link.b : link.a
        if forward { link.sentAToB += 1 } else { link.sentBToA += 1 }
        let lf = LinkFrame(from: hosts[hostIndex].name, to: hosts[to.host].name, frame: out.frame,
                           index: forward ? link.sentAToB : link.sentBToA, time: now)
        let impairment = forward ? link.aToB : link.bToA
        // Frames travel parsed inside the simulation; only rate limiting and corruption need the bytes.
        let needsBytes = impairment.rateBitsPerSecond > 0 || impairment.corrupt > 0
        let bytes = needsBytes ? out.frame.serialize() : []
        var decisions: [ImpairDecision]
        if let rule = link.dropHook?(lf) {
            decisions = [.drop(reason: rule)]
        } else if forward {
            decisions = link.forward.process(bytes, frame: out.frame, at: now)
        } else {
            decisions = link.backward.process(bytes, frame: out.frame, at: now)
        }
        for decision in decisions {
            switch decision {
            case let .drop(reason):
                record(li, lf, out.frame, droppedBy: reason)
            case let .deliver(at, delivered, _):
                record(li, lf, out.frame, droppedBy: nil)
                order &+= 1
                let payload: InFlight = needsBytes && delivered != bytes ? .bytes(delivered) : .frame(out.frame)
                insert((max(at, now), order, to.host, to.interface, payload))
            }
        }
    }

    private func record(_ li: Int, _ lf: LinkFrame, _ frame: Frame, droppedBy: String?) {
        if recording {
            frames.append(SimFrameRecord(time: now, from: lf.from, to: lf.to, link: li, frame: frame, droppedBy: droppedBy))
        }
        if capturing {
            captures[li] += PcapWriter().record(nanoseconds: UInt64(max(now.nanoseconds, 0)), frame: frame.serialize())
        }
    }

    private func insert(_ item: (at: Instant, order: UInt64, host: Int, interface: Int, frame: InFlight)) {
        // Kept sorted by (time, order), newest usually last: insertion from the back is O(1) in practice.
        var i = inFlight.count
        while i > inFlightHead && (inFlight[i - 1].at > item.at || (inFlight[i - 1].at == item.at && inFlight[i - 1].order > item.order)) {
            i -= 1
        }
        if i == inFlight.count { inFlight.append(item) } else { inFlight.insert(item, at: i) }
    }

    /// The time of the next thing that will happen: a frame arriving or a host timer.
    public var nextEventTime: Instant {
        var t = inFlightHead < inFlight.count ? inFlight[inFlightHead].at : .never
        for h in hosts where h.nextDeadline < t { t = h.nextDeadline }
        return t
    }

    /// Runs until `deadline` (inclusive). Bounded: at most `maxSteps` steps, so a livelock cannot hang a test.
    public func run(until deadline: Instant, maxSteps: Int = 10_000_000) {
        collect()
        var steps = 0
        while steps < maxSteps {
            let t = nextEventTime
            if t == .never || t > deadline { break }
            step(to: t)
            steps += 1
        }
        if now < deadline { now = deadline }
        for h in hosts { h.poll(at: now) }
        collect()
    }

    /// Runs for `interval` of virtual time.
    public func run(for interval: Interval, maxSteps: Int = 10_000_000) { run(until: now + interval, maxSteps: maxSteps) }

    /// Runs until nothing is in flight and no timer is armed, or until `limit`.
    public func runUntilQuiet(limit: Interval = .seconds(3600)) {
        run(until: now + limit)
    }

    private func step(to t: Instant) {
        now = max(now, t)
        while inFlightHead < inFlight.count, inFlight[inFlightHead].at <= now {
            let first = inFlight[inFlightHead]
            inFlightHead += 1
            if inFlightHead == inFlight.count {
                inFlight.removeAll(keepingCapacity: true)
                inFlightHead = 0
            } else if inFlightHead > 1024, inFlightHead * 2 > inFlight.count {
                inFlight.removeFirst(inFlightHead)
                inFlightHead = 0
            }
            switch first.frame {
            case let .frame(frame): hosts[first.host].receive(frame: frame, on: first.interface, at: now)
            case let .bytes(bytes): hosts[first.host].receive(bytes: bytes, on: first.interface, at: now)
            }
            collect()
        }
        for h in hosts where h.nextDeadline <= now {
            h.poll(at: now)
        }
        collect()
    }

    /// The pcap bytes captured on `link`.
    public func pcap(link: Int) -> [UInt8] { captures[link] }
}

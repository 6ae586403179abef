import TCPPolicy
import TCPWire

/// One lab node's TCP/IP stack: interfaces, ARP, IPv4, TCP sockets, timers. Pure: it reads no clock
/// and does no I/O. Every call takes the current time; frames to send collect in `outbox`, what
/// happened in `events`, and `nextDeadline` says when to call `poll(at:)` again.
public final class Host {
    // The helpers on the per-segment path marked `@inline(__always)` (state changes, timer arming,
    // window and option building, lookups) run several times per segment: each call cost about as much
    // as its body, and kept the optimizer from seeing across it.

    public let name: String
    public var sysctl: Sysctls
    public private(set) var interfaces: [Interface]
    /// The next hop for destinations off every interface's subnet (nil: unreachable).
    public var gateway: IPv4Address?
    // The policies are fixed at creation: as constants of the host, a call into one needs no
    // reference counting to keep it alive (a variable could be replaced during the call).
    public let isn: any ISNGenerator
    public let acceptQueuePolicy: any AcceptQueuePolicy
    public let delayedAckPolicy: any DelayedAckPolicy
    /// Frames to transmit, oldest first. The driver takes them with `takeOutput()`.
    public var outbox: [OutgoingFrame] = []
    /// What happened, oldest first. The driver takes them with `takeEvents()`.
    public var events: [EngineEvent] = []
    /// Set false to skip event records (benchmarks); counters are always kept.
    public var recordsEvents = true
    public var counters = Counters()
    /// The time of the latest call.
    public private(set) var now: Instant = .zero

    /// Every socket the user holds (or an orphan still alive), by id.
    var connections: HashTable<SocketID, Connection>
    var listeners: HashTable<SocketID, Listener>
    /// The established hash: every full socket with a 4-tuple (SYN_SENT … LAST_ACK).
    var established: HashTable<FourTuple, Connection>
    /// Timewait sockets (TIME_WAIT, and an orphan's FIN_WAIT2 substate), the third part of Linux's ehash.
    var timeWaits: HashTable<FourTuple, TimeWaitSock>
    /// Request socks (NEW_SYN_RECV), the other part of Linux's ehash.
    var requests: DenseTable<FourTuple, RequestSock>
    var listenersByPort: [UInt16: [SocketID]] = [:]
    /// The last `lookupListener` answer (a server's SYNs mostly go to one port). Only `listen` and
    /// `closeListener` change what a lookup finds; both forget it.
    var listenerLookupCache: (local: SocketAddress, listener: Listener?)?
    var nextSocketID: Int32 = 1
    /// The default socket options, shared by every connection that keeps them.
    let defaultOptions = OptionsBox(SocketOptions())
    /// The ISN a SYN that reopens a TIME_WAIT 4-tuple gets (`tcp_tw_isn`), while the listener handles it.
    var timeWaitISN: SequenceNumber?
    /// The host-wide challenge-ACK budget (`tcp_challenge_timestamp`, `tcp_challenge_count`).
    var challengeSecond: Int64 = -1
    var challengeBudget = 0
    let timers = TimerQueue()
    /// TIME_WAIT's timers (kept apart: most are cancelled, and a cancelled one costs nothing here).
    let timeWaitTimers = TimeWaitTimers()
    /// An empty retransmit-queue buffer a finished connection left, for the next one that sends
    /// (`purgeQueues`, `sendNewSegment`).
    var spareRetransmitBuffer: [SentSegment] = []
    var arpTable: [IPv4Address: MACAddress] = [:] { didSet { arpGeneration &+= 1 } }
    /// Changes whenever the ARP table does: connections' cached next-hop MACs are checked against it.
    var arpGeneration = 0
    /// The last neighbour looked up (a one-entry cache in front of the ARP table).
    var neighborCache = (ip: IPv4Address.any, mac: MACAddress.zero, generation: -1)
    var arpPending: [IPv4Address: ARPPending] = [:]
    var rng: SplitMix64
    /// `syncookie_secret[2]`.
    let cookieSecrets: (SipHashKey, SipHashKey)
    /// Rotating start for ephemeral port searches (`table_perturb`).
    var portHint: UInt32

    /// Creates a host.
    /// - Parameters:
    ///   - seed: every random choice (ISN key, cookie secrets, IP IDs, ports) derives from it.
    ///   - isn, acceptQueue, delayedAck: the three policies; Linux's when nil.
    public init(name: String, interfaces: [Interface], sysctl: Sysctls = Sysctls(), seed: UInt64 = 1,
                isn: (any ISNGenerator)? = nil, acceptQueue: (any AcceptQueuePolicy)? = nil,
                delayedAck: (any DelayedAckPolicy)? = nil) {
        self.name = name
        self.interfaces = interfaces
        self.sysctl = sysctl
        var rng = SplitMix64(seed: seed)
        self.isn = isn ?? LinuxISN(key: SipHashKey(k0: rng.next(), k1: rng.next()), timestampsMode: sysctl.tcp_timestamps)
        self.acceptQueuePolicy = acceptQueue ?? LinuxAcceptQueue()
        self.delayedAckPolicy = delayedAck ?? LinuxDelayedAck()
        cookieSecrets = (SipHashKey(k0: rng.next(), k1: rng.next()), SipHashKey(k0: rng.next(), k1: rng.next()))
        portHint = UInt32(truncatingIfNeeded: rng.next())
        self.rng = rng
        // The tables' hash secret, derived without another draw so that the rest of the run's random
        // choices stay as they were.
        let secret = mix64(cookieSecrets.0.k0 ^ 0x7A3F_5C1D_E24B_9068)
        connections = HashTable(seed: secret)
        listeners = HashTable(seed: secret &+ 1)
        established = HashTable(seed: secret &+ 2)
        requests = DenseTable(seed: secret &+ 3)
        timeWaits = HashTable(seed: secret &+ 4)
    }

    /// The earliest time `poll(at:)` has work to do.
    public var nextDeadline: Instant {
        let t = timers.earliest, tw = timeWaitTimers.earliest
        return tw < t ? tw : t
    }

    /// True when frames wait in `outbox` (a look that does not retain the buffer, for drivers that
    /// poll often).
    public var hasOutput: Bool { !outbox.isEmpty }

    /// Takes the frames waiting to be sent.
    public func takeOutput() -> [OutgoingFrame] {
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    /// Takes the events recorded since the last call.
    public func takeEvents() -> [EngineEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    /// Moves the host's time forward (never back).
    @inline(__always) func advance(_ time: Instant) {
        if now < time { now = time }
    }

    @inline(__always) func emit(_ kind: @autoclosure () -> EngineEventKind) {
        if recordsEvents { events.append(EngineEvent(time: now, kind: kind())) }
    }

    // Segment events take the segment as a plain (borrowed) argument: an autoclosure would capture, and
    // so copy, it on every segment even with events off.

    @inline(__always) func emitReceived(_ seg: borrowing TCPSegment, socket: SocketID?) {
        if recordsEvents { events.append(EngineEvent(time: now, kind: .segmentReceived(SegmentRecord(copy seg), socket: socket))) }
    }

    @inline(__always) func emitSent(_ seg: borrowing TCPSegment, socket: SocketID?, retransmission: Int) {
        if recordsEvents {
            events.append(EngineEvent(time: now, kind: .segmentSent(SegmentRecord(copy seg), socket: socket,
                                                                    retransmission: retransmission)))
        }
    }

    @inline(__always) func emitDropped(_ reason: DropReason, _ seg: borrowing TCPSegment, socket: SocketID?) {
        if recordsEvents {
            events.append(EngineEvent(time: now, kind: .dropped(reason, segment: SegmentRecord(copy seg), socket: socket)))
        }
    }

    /// Counts `mib` and, for counters that are not plain segment tallies, records the new value.
    @inline(__always) func count(_ mib: MIB, _ n: Int = 1) {
        counters[mib] += n
        guard recordsEvents else { return }
        switch mib {
        case .InSegs, .OutSegs, .IpInReceives, .IpOutRequests, .TCPPureAcks, .TCPHPAcks, .TCPOrigDataSent: break
        default: emit(.counter(mib, value: counters[mib]))
        }
    }

    func allocateSocketID() -> SocketID {
        defer { nextSocketID += 1 }
        return SocketID(nextSocketID)
    }

    /// `tcp_set_state`: EstabResets counts every direct move from ESTABLISHED or CLOSE_WAIT to CLOSE.
    @inline(__always) func setState(_ c: Connection, _ state: TCPState, _ cause: StateCause) {
        let old = c.state
        guard old != state else { return }
        c.state = state
        if state == .close, old == .established || old == .closeWait { count(.EstabResets) }
        emit(.stateChanged(socket: c.id, tuple: c.tuple, from: old, to: state, cause: cause))
    }

    /// The TCP timestamp clock (ms, TCP_TS_HZ = 1000) plus a connection's offset.
    @inline(__always) func tsNow(offset: UInt32) -> UInt32 {
        UInt32(truncatingIfNeeded: now.milliseconds) &+ offset
    }

    /// The raw millisecond clock without offset (`tcp_time_stamp_ts`).
    @inline(__always) var tsClock: UInt32 { UInt32(truncatingIfNeeded: now.milliseconds) }

    // MARK: Inspection

    /// A socket's state (`LISTEN` for listeners, TIME_WAIT or FIN_WAIT2 for a closed socket's timewait
    /// socket); nil for an unknown id. An id that is neither a socket nor a listener is looked for among
    /// the timewait sockets one by one, as `ss` walks them: for inspection, not for a per-segment loop.
    public func state(of id: SocketID) -> TCPState? {
        if let c = connections[id] { return c.state }
        if listeners[id] != nil { return .listen }
        return timeWaitSock(id: id)?.substate
    }

    /// A socket's pending error (`SO_ERROR`).
    public func error(of id: SocketID) -> SocketError? { connections[id]?.error }

    /// A connection's 4-tuple.
    public func tuple(of id: SocketID) -> FourTuple? { connections[id]?.tuple }

    /// A snapshot of a connection's sequence variables, for tests and reports.
    public func info(of id: SocketID) -> ConnectionInfo? {
        guard let c = connections[id] else { return nil }
        return ConnectionInfo(state: c.state, tuple: c.tuple, iss: c.iss, irs: c.irs, sndUna: c.sndUna, sndNxt: c.sndNxt,
                              sndWnd: c.sndWnd, rcvNxt: c.rcvNxt, rcvWnd: c.rcvWnd, sndWscale: c.sndWscale,
                              rcvWscale: c.rcvWscale, mss: c.mssCache, advmss: c.advmss, timestamps: c.timestampsOK,
                              sack: c.sackOK, rto: c.rto, srtt: c.srtt, cwnd: Int(c.cwnd), retransmits: c.retransmits,
                              bytesToRead: c.receiveQueue.count, bytesUnsent: c.unsentBytes, ack: c.ack,
                              ssthresh: c.ssthresh == .max ? Int.max : Int(c.ssthresh), packetsOut: Int(c.packetsOut),
                              probesOut: c.probesOut, backoff: c.backoff, rttvar: c.rttvar,
                              windowClamp: c.windowClamp, bytesAcked: c.bytesAcked)
    }

    /// Queue lengths of a listener.
    public func listenerInfo(of id: SocketID) -> ListenerSnapshot? {
        listeners[id].map(snapshot)
    }

    /// Number of request socks on this host (all listeners).
    public var requestCount: Int { requests.count }
    /// Number of full sockets (connections) on this host.
    public var connectionCount: Int { connections.count }
}

/// A read-only view of a connection's variables.
public struct ConnectionInfo: Hashable, Sendable {
    public var state: TCPState
    public var tuple: FourTuple
    public var iss, irs, sndUna, sndNxt: SequenceNumber
    public var sndWnd: Int
    public var rcvNxt: SequenceNumber
    public var rcvWnd: Int
    public var sndWscale, rcvWscale: UInt8
    public var mss, advmss: Int
    public var timestamps, sack: Bool
    public var rto: Interval
    public var srtt: Interval?
    public var cwnd: Int
    public var retransmits: Int
    public var bytesToRead: Int
    public var bytesUnsent: Int
    public var ack: AckState
    /// `snd_ssthresh` in packets (Int.max: infinite), `packets_out`, `icsk_probes_out`, `icsk_backoff`.
    public var ssthresh: Int
    public var packetsOut: Int
    public var probesOut: Int
    public var backoff: Int
    /// `rttvar_us` as an interval (nil before the first RTT sample), `window_clamp`, `bytes_acked`.
    public var rttvar: Interval?
    public var windowClamp: Int
    public var bytesAcked: UInt64
}

extension Connection {
    /// The smoothed RTT (nil before the first sample).
    var srtt: Interval? { srttUs == 0 ? nil : .microseconds(srttUs >> 3) }
    var rttvar: Interval? { srttUs == 0 ? nil : .microseconds(rttvarUs) }
}

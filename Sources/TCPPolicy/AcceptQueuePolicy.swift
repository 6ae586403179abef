import TCPWire

/// What the engine tells the accept-queue policy about a listener at the moment of a decision.
public struct ListenerSnapshot: Hashable, Sendable {
    /// Requests in the SYN queue (`reqsk_queue_len`).
    public var synQueueLength: Int
    /// Requests that never timed out (`qlen_young`).
    public var youngCount: Int
    /// Children waiting for accept() (`sk_ack_backlog`).
    public var acceptQueueLength: Int
    /// The listen() backlog after the somaxconn clamp (`sk_max_ack_backlog`): the limit of both queues.
    public var backlog: Int
    /// `tcp_max_syn_backlog`.
    public var maxSynBacklog: Int
    /// `tcp_syncookies` (0, 1 or 2).
    public var syncookies: Int
    /// `tcp_abort_on_overflow`.
    public var abortOnOverflow: Bool

    public init(synQueueLength: Int, youngCount: Int, acceptQueueLength: Int, backlog: Int, maxSynBacklog: Int,
                syncookies: Int, abortOnOverflow: Bool) {
        self.synQueueLength = synQueueLength
        self.youngCount = youngCount
        self.acceptQueueLength = acceptQueueLength
        self.backlog = backlog
        self.maxSynBacklog = maxSynBacklog
        self.syncookies = syncookies
        self.abortOnOverflow = abortOnOverflow
    }

    /// `sk_acceptq_is_full`: strictly more than the backlog, so a backlog of N holds N + 1.
    public var acceptQueueIsFull: Bool { acceptQueueLength > backlog }
    /// `inet_csk_reqsk_queue_is_full`: `>` since 3479c7549fb1 (Jan 2025), as on this machine's kernel.
    public var synQueueIsFull: Bool { synQueueLength > backlog }
}

/// Facts about an arriving SYN.
public struct SynFacts: Hashable, Sendable {
    public var tuple: FourTuple
    public var now: Instant
    /// The SYN reopened a TIME_WAIT connection (`tcp_tw_isn` handed over), which skips the SYN-queue check.
    public var reopensTimeWait: Bool
    /// The peer is "proven" (Linux: has a tcp_metrics entry with a timestamp); matters only for the
    /// `tcp_max_syn_backlog` reserve when syncookies are off.
    public var peerIsProven: Bool
    /// Requests already in the SYN queue from the same source address (0 unless the policy asks for it
    /// through `wantsPerSourceCounts`).
    public var requestsFromSource: Int

    public init(tuple: FourTuple, now: Instant, reopensTimeWait: Bool = false, peerIsProven: Bool = false,
                requestsFromSource: Int = 0) {
        self.tuple = tuple
        self.now = now
        self.reopensTimeWait = reopensTimeWait
        self.peerIsProven = peerIsProven
        self.requestsFromSource = requestsFromSource
    }
}

/// What to do with a SYN at a listener.
public enum SynVerdict: Hashable, Sendable {
    /// Create a request sock in the SYN queue and send a SYN-ACK.
    case queue
    /// Answer with a SYN cookie and keep no state.
    case cookie
    /// Drop the SYN silently, counting it under `reason`.
    case drop(DropReason)
    /// Answer with a RST (not Linux's behaviour; for policies that refuse peers).
    case reset
}

/// What to do with a completed handshake when `isAcceptQueueFull` says there is no room.
public enum OverflowVerdict: Hashable, Sendable {
    /// `tcp_abort_on_overflow` = 0: drop the third ACK, keep the request (`req->acked`), let the SYN-ACK
    /// timer and the client's retransmissions complete it later.
    case dropAndKeepRequest
    /// `tcp_abort_on_overflow` = 1: answer with a RST and forget the request.
    case reset
}

/// A child waiting in the accept queue, as the policy sees it.
public struct QueuedChild: Hashable, Sendable {
    public var tuple: FourTuple
    /// When the handshake completed.
    public var establishedAt: Instant
    public init(tuple: FourTuple, establishedAt: Instant) {
        self.tuple = tuple
        self.establishedAt = establishedAt
    }
}

/// The accept-queue policy seam: what happens to a SYN, to a completed handshake when the accept queue
/// is full, and which child accept() returns. The engine calls `onSyn` once per SYN that reaches a
/// listener in LISTEN (not for retransmitted SYNs that match a request sock), `onAcceptQueueFull` once
/// per completing segment that finds the queue full, and `selectChild` once per successful accept().
public protocol AcceptQueuePolicy: AnyObject {
    var name: String { get }
    /// Whether the engine should count requests per source address for `SynFacts.requestsFromSource`.
    var wantsPerSourceCounts: Bool { get }
    func onSyn(_ syn: SynFacts, listener: ListenerSnapshot) -> SynVerdict
    func onAcceptQueueFull(_ tuple: FourTuple, listener: ListenerSnapshot) -> OverflowVerdict
    /// The index in `queue` (oldest first, never empty) of the child accept() returns.
    func selectChild(_ queue: some Collection<QueuedChild>) -> Int
}

/// Linux's accept-queue behaviour (`tcp_conn_request`, `tcp_check_req`, `inet_csk_accept`).
public final class LinuxAcceptQueue: AcceptQueuePolicy {
    public let name = "linux"
    public let wantsPerSourceCounts = false

    public init() {}

    public func onSyn(_ syn: SynFacts, listener q: ListenerSnapshot) -> SynVerdict {
        // tcp_conn_request: syncookies = 2, or a full SYN queue, means a cookie (or a drop when off)...
        if (q.syncookies == 2 || q.synQueueIsFull) && !syn.reopensTimeWait {
            if q.syncookies == 0 { return .drop(.synQueueFull) }
            // ...but the accept-queue check below still applies to cookies.
            if q.acceptQueueIsFull { return .drop(.acceptQueueFull) }
            return .cookie
        }
        if q.acceptQueueIsFull { return .drop(.acceptQueueFull) }
        // Without cookies the last quarter of tcp_max_syn_backlog is kept for proven peers.
        if q.syncookies == 0, !syn.peerIsProven, q.maxSynBacklog - q.synQueueLength < q.maxSynBacklog >> 2 {
            return .drop(.synBacklogReserve)
        }
        return .queue
    }

    public func onAcceptQueueFull(_ tuple: FourTuple, listener: ListenerSnapshot) -> OverflowVerdict {
        listener.abortOnOverflow ? .reset : .dropAndKeepRequest
    }

    public func selectChild(_ queue: some Collection<QueuedChild>) -> Int { 0 }  // FIFO: reqsk_queue_remove takes the head
}

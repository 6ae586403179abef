import TCPPolicy
import TCPWire

/// A full TCP socket (`struct tcp_sock`): everything from SYN_SENT or SYN_RECV to TIME_WAIT, where a
/// `TimeWaitSock` takes over.
/// Field names follow the kernel's so a reader of the seeds recognises them.
final class Connection {
    // The fields are grouped by size (8-, 4-, 2-, 1-byte) so that an idle connection stays small; within
    // each group they follow the kernel's order: identity, send and receive sequence space, RTT and
    // retransmission, congestion control, buffers, timers.

    // MARK: 8-byte fields

    var tuple: FourTuple
    var interface: Int
    /// The socket options, shared with the listener (or the defaults) until changed (copy on write):
    /// a hundred thousand children of one listener hold one copy.
    private var optionsBox: OptionsBox
    /// `bytes_acked` (RFC 4898 tcpEStatsAppHCThruOctetsAcked): bounds the RFC 5961 §5.2 old-ACK check.
    var bytesAcked: UInt64 = 0
    /// The peer's window in bytes (already scaled), the largest it offered, and `tw_rcv_wnd`.
    var sndWnd = 0
    var maxWindow = 0
    /// The window last advertised (bytes), the most it may be (`window_clamp`), and `rcv_ssthresh`.
    var rcvWnd = 0
    var windowClamp = 0
    var rcvSsthresh = 0
    // MSS: ours (`advmss`), the peer's (`mss_clamp`) and the payload size we send (`mss_cache`).
    var advmss = 1460
    var mssClamp = 536
    var mssCache = 536
    var tsRecentStamp: Instant?
    /// When the first SYN left (the SYN's RTT sample, if it is not retransmitted).
    var synSentAt: Instant = .zero
    // RTT estimator (`tcp_rtt_estimator`), in microseconds with the kernel's scaling: srtt × 8,
    // mdev × 4. Zero until the first sample. `rackRttUs`: RACK's RTT of the latest delivered segment.
    var srttUs: Int64 = 0
    var mdevUs: Int64 = 0
    var mdevMaxUs: Int64 = 0
    var rttvarUs: Int64 = 0
    var rackRttUs: Int64 = 0
    /// `icsk_rto`.
    var rto: Interval = .seconds(1)
    /// `icsk_retransmits`, `icsk_backoff`, `total_rto`, and the SYN retransmissions of the handshake
    /// (cwnd starts at 1 after more than one).
    var retransmits = 0
    var backoff = 0
    var totalRTO = 0
    var synRetransmissions = 0
    /// `retrans_stamp`: the first SYN, or the first retransmission of data (give-up times count from it).
    var retransStamp: Instant?
    /// `icsk_probes_out`: unanswered zero-window or keepalive probes; `icsk_probes_tstamp`: when the
    /// first zero-window probe of a run went out (TCP_USER_TIMEOUT).
    var probesOut = 0
    var probesStamp: Instant?
    /// `tcp_cwnd_validate`'s window start, `snd_cwnd_stamp`, `lsndtime` (last data sent) and
    /// `rcv_tstamp` (last acceptable ACK received).
    var cwndStamp: Instant = .zero
    var lsndtime: Instant = .zero
    var rcvTstamp: Instant = .zero
    // Buffers.
    /// Bytes from snd_una (or ISS + 1 before the SYN is acknowledged) to write_seq.
    var sendQueue = ByteQueue()
    /// Segments sent and not yet acknowledged (`tcp_rtx_queue`), oldest first.
    var rtx = SegmentQueue()
    var sendBufferLimit = 16384
    var receiveQueue = ByteQueue()
    var receiveBufferLimit = 131_072
    /// `out_of_order_queue`: sorted by sequence, no overlaps.
    var outOfOrder: [OutOfOrderSegment] = []
    var outOfOrderBytes = 0
    /// The SACK blocks we send (`selective_acks`), most recent first.
    var sackBlocks: [SACKBlock] = []
    // ACK machinery (owned by the delayed-ACK policy).
    var ack = AckState()
    /// RFC 5961 / out-of-window ACK rate limit (`last_oow_ack_time`).
    var lastOutOfWindowAck: Instant = .noOutOfWindowAck
    // Timers: when each is due (`.never`: not armed), and the entry the timer queue holds.
    var xmitTimer = TimerSlot()
    var delackTimer = TimerSlot()
    var keepaliveTimer = TimerSlot()
    /// The next hop's MAC, cached as Linux caches the socket's dst and neighbour; valid while the
    /// host's ARP table is at `routeGeneration`.
    var routeMAC = MACAddress.zero
    var routeGeneration = -1

    // MARK: 4-byte fields

    let id: SocketID
    /// The listener that made this child, until accept() hands it out.
    var parent: SocketID?
    // Send sequence space (RFC 9293 §3.3.1).
    var iss = SequenceNumber(0)
    var sndUna = SequenceNumber(0)
    /// The next new sequence number to send. As in Linux it never goes back: a timeout retransmits
    /// from the retransmit queue instead.
    var sndNxt = SequenceNumber(0)
    var sndWl1 = SequenceNumber(0)
    /// `write_seq`: the sequence number after the last byte (and FIN) the application gave us.
    var writeSeq = SequenceNumber(0)
    /// `snd_sml`: end of the last small segment sent (Minshall's Nagle).
    var sndSml = SequenceNumber(0)
    /// End of the latest write: the segment that carries it gets PSH (`tcp_mark_push`).
    var pushSeq = SequenceNumber(0)
    // Receive sequence space.
    var irs = SequenceNumber(0)
    var rcvNxt = SequenceNumber(0)
    /// `rcv_wup`: rcv_nxt when we last advertised a window.
    var rcvWup = SequenceNumber(0)
    var tsRecent: UInt32 = 0
    var tsOffset: UInt32 = 0
    /// TS clock value of the first SYN (`retrans_stamp`, for PAWS on the SYN-ACK).
    var synStampTS: UInt32 = 0
    var rttSeq = SequenceNumber(0)
    /// `tlp_high_seq` (nil: no loss probe outstanding).
    var tlpHighSeq: SequenceNumber?
    // Congestion control (`Ack.swift`): Linux's reno module, in packets.
    var cwnd: UInt32 = 10
    var ssthresh: UInt32 = .max
    var cwndCount: UInt32 = 0
    /// `high_seq`: snd_nxt when recovery or loss began.
    var highSeq = SequenceNumber(0)
    /// `sacked_out` of a Reno connection: duplicate ACKs counted as if they SACKed a segment each.
    var sackedOut: UInt32 = 0
    var lostOut: UInt32 = 0
    var retransOut: UInt32 = 0
    /// PRR: `prior_cwnd`, `prr_delivered`, `prr_out`.
    var priorCwnd: UInt32 = 0
    var prrDelivered: UInt32 = 0
    var prrOut: UInt32 = 0
    /// `tcp_cwnd_validate`'s memory: packets out at most, and where the window it measures ends.
    var maxPacketsOut: UInt32 = 0
    var cwndUsageSeq = SequenceNumber(0)
    /// A pending D-SACK block (RFC 2883), reported once.
    var dsack: SACKBlock?

    // MARK: 2- and 1-byte fields

    /// `inet_id`: IP ID of the next segment, random at creation, then one more per segment.
    var ipID: UInt16 = 0
    var state: TCPState = .close
    var sndWscale: UInt8 = 0
    var rcvWscale: UInt8 = 0
    /// What the retransmit timer is armed for (`icsk_pending`), and `icsk_ca_state`.
    var xmitPending: XmitTimer = .none
    var caState: CAState = .open
    var error: SocketError?
    /// `sk_err_soft`: an error that becomes the socket error if the connection times out.
    var softError: SocketError?
    /// close() was called (`SOCK_DEAD`): nobody will read or write any more.
    var orphan = false
    var accepted = false
    // Negotiated options.
    var timestampsOK = false
    var sackOK = false
    var windowScaleOK = false
    var ecnOK = false
    /// `tlp_retrans`: the outstanding loss probe was a retransmission.
    var tlpRetrans = false
    var isCwndLimited = false
    /// The user asked for a FIN (close or shutdown(SHUT_WR)); `finSent` once it went out.
    var finQueued = false
    var finSent = false
    var finReceived = false
    /// `RCV_SHUTDOWN`: a FIN arrived, or shutdown(SHUT_RD), or close().
    var shutdownRead = false
    /// A writer waits for the connection (`sk_write_pending`): send() before ESTABLISHED.
    var writePending = false
    /// A timewait socket (`TimeWaitSock`) took this socket's 4-tuple: it is out of the established hash,
    /// its timers and send buffers gone; the user may still hold it (in TIME_WAIT, CLOSE once the
    /// timewait socket goes).
    var isTimeWaitSock = false

    var options: SocketOptions {
        get { optionsBox.value }
        set {
            if isKnownUniquelyReferenced(&optionsBox) {
                optionsBox.value = newValue
            } else {
                optionsBox = OptionsBox(newValue)
            }
        }
    }

    init(id: SocketID, tuple: FourTuple, interface: Int, options: OptionsBox) {
        self.id = id
        self.tuple = tuple
        self.interface = interface
        self.optionsBox = options
    }

    /// The sequence number after the last byte of data (write_seq without the FIN).
    var dataEnd: SequenceNumber { finQueued ? writeSeq - 1 : writeSeq }
    /// Sequence number of the first byte in `sendQueue`.
    var sendQueueStart: SequenceNumber { state == .synSent || state == .synRecv ? iss + 1 : sndUna }
    /// Bytes of the send queue not yet sent.
    var unsentBytes: Int { max(0, sendQueue.count - (sndNxt - sendQueueStart)) }
    /// `packets_out`.
    var packetsOut: UInt32 { UInt32(rtx.count) }
    /// `tcp_packets_in_flight`: packets_out − (sacked_out + lost_out) + retrans_out.
    var packetsInFlight: UInt32 {
        let left = Int(packetsOut) - Int(sackedOut) - Int(lostOut) + Int(retransOut)
        return UInt32(max(left, 0))
    }
    /// `tcp_wnd_end`.
    var windowEnd: SequenceNumber { sndUna + sndWnd }
    /// TCP header length without SACK blocks (`tcp_header_len`).
    var tcpHeaderLength: Int { timestampsOK ? 32 : 20 }
    /// `tcp_send_head` exists: new data (or a FIN) waits to be sent.
    @inline(__always) var hasUnsent: Bool { unsentBytes > 0 || (finQueued && !finSent) }

    subscript(timer t: ConnectionTimer) -> TimerSlot {
        get {
            switch t {
            case .xmit: xmitTimer
            case .delack: delackTimer
            case .keepalive: keepaliveTimer
            }
        }
        set {
            switch t {
            case .xmit: xmitTimer = newValue
            case .delack: delackTimer = newValue
            case .keepalive: keepaliveTimer = newValue
            }
        }
    }
}

extension Connection {
    /// `tcp_receive_window`: what is left of the window last advertised.
    var receiveWindowRemaining: Int {
        let right: SequenceNumber = rcvWup + rcvWnd
        return max(0, right - rcvNxt)
    }
}

/// What the retransmit timer is armed for (`icsk_pending`).
enum XmitTimer: UInt8 {
    case none
    /// ICSK_TIME_RETRANS.
    case retransmit
    /// ICSK_TIME_LOSS_PROBE (a tail loss probe, RFC 8985 §7).
    case lossProbe
    /// ICSK_TIME_PROBE0 (a zero-window probe).
    case probe0

    var kind: TimerKind {
        switch self {
        case .none, .retransmit: .retransmit
        case .lossProbe: .lossProbe
        case .probe0: .probe
        }
    }
}

/// `icsk_ca_state`.
enum CAState: UInt8 {
    case open, disorder, recovery, loss
}

/// One timer of a connection: when it is due, and the entry the timer queue holds for it (its handle,
/// -1 for none). Re-arming later keeps the queued entry (it fires, sees the later deadline and
/// re-queues itself); only an earlier deadline needs a new entry (and cancels the old one).
struct TimerSlot {
    var deadline: Instant = .never
    var entry: Int32 = -1
}

/// A segment sent and not yet acknowledged: its place in sequence space, when it left, and what
/// loss recovery knows about it (`TCP_SKB_CB(skb)->sacked`).
struct SentSegment {
    var seq: SequenceNumber
    /// Payload bytes.
    var length: Int32
    var flags: Flags
    /// When it (last) left: the RTT sample of its ACK, and the RTO's start.
    var sentAt: Instant

    struct Flags: OptionSet {
        var rawValue: UInt8
        static let fin = Flags(rawValue: 1)
        static let psh = Flags(rawValue: 2)
        /// TCPCB_LOST: marked lost, to be retransmitted.
        static let lost = Flags(rawValue: 4)
        /// TCPCB_SACKED_RETRANS: a retransmission of it is in flight.
        static let retransmitted = Flags(rawValue: 8)
        /// TCPCB_EVER_RETRANS: no RTT sample from its ACK (Karn).
        static let everRetransmitted = Flags(rawValue: 16)
    }

    var end: SequenceNumber { seq + Int(length) + (flags.contains(.fin) ? 1 : 0) }
}

/// The retransmit queue: a FIFO of sent segments with cheap removal from the front.
struct SegmentQueue {
    private(set) var items: [SentSegment] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }
    var first: SentSegment? { isEmpty ? nil : items[head] }
    var last: SentSegment? { isEmpty ? nil : items[items.count - 1] }
    var indices: Range<Int> { head..<items.count }

    subscript(i: Int) -> SentSegment {
        get { items[i] }
        set { items[i] = newValue }
    }

    mutating func append(_ s: SentSegment) { items.append(s) }
    mutating func insert(_ s: SentSegment, at i: Int) { items.insert(s, at: i) }

    mutating func removeFirst() {
        head += 1
        if head == items.count {
            // Emptied, capacity kept. A lone segment (a FIN, a short write) goes by `removeLast`,
            // cheaper than the general `removeAll(keepingCapacity:)`.
            if head == 1 { items.removeLast() } else { items.removeAll(keepingCapacity: true) }
            head = 0
        } else if head > 256, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    /// Merges segment `i + 1` into segment `i` (`tcp_collapse_retrans`).
    mutating func mergeNext(_ i: Int) {
        let next = items[i + 1]
        items[i].length += next.length
        items[i].flags.formUnion(next.flags.intersection([.fin, .psh]))
        items.remove(at: i + 1)
    }

    mutating func removeAll() {
        // Only a real buffer is worth a release.
        if items.capacity > 0 { items = [] }
        head = 0
    }

    /// Empties the queue and hands its buffer over (nil: it has none), for another queue to reuse.
    mutating func takeBuffer() -> [SentSegment]? {
        guard items.capacity > 0 else { return nil }
        if !items.isEmpty { items.removeAll(keepingCapacity: true) }
        head = 0
        var buffer: [SentSegment] = []
        swap(&buffer, &items)
        return buffer
    }

    /// True when the queue has no buffer of its own yet (see `adopt`).
    var hasNoBuffer: Bool { items.capacity == 0 }

    /// Takes an empty buffer another queue gave up, instead of allocating one on the first append.
    mutating func adopt(_ buffer: inout [SentSegment]) {
        swap(&buffer, &items)
    }
}

/// A segment held in the out-of-order queue.
struct OutOfOrderSegment {
    var seq: SequenceNumber
    var data: [UInt8]
    var fin: Bool
    var end: SequenceNumber { seq + data.count + (fin ? 1 : 0) }
}

/// Socket options shared between connections until one changes them.
final class OptionsBox {
    var value: SocketOptions
    init(_ value: SocketOptions) { self.value = value }
}

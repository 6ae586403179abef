import TCPPolicy
import TCPWire

/// A full TCP socket (`struct tcp_sock`): everything from SYN_SENT or SYN_RECV to TIME_WAIT.
/// Field names follow the kernel's so a reader of the seeds recognises them.
final class Connection {
    let id: SocketID
    var state: TCPState = .close
    var tuple: FourTuple
    var interface: Int
    var options: SocketOptions
    /// The listener that made this child, until accept() hands it out.
    var parent: SocketID?
    /// close() was called: nobody will read or write any more.
    var orphan = false
    var accepted = false

    // Send sequence space (RFC 9293 §3.3.1).
    var iss = SequenceNumber(0)
    var sndUna = SequenceNumber(0)
    var sndNxt = SequenceNumber(0)
    /// Highest sequence ever sent (`snd_nxt` can go back on a timeout).
    var sndMax = SequenceNumber(0)
    /// The peer's window in bytes (already scaled).
    var sndWnd = 0
    var sndWl1 = SequenceNumber(0)
    var sndWl2 = SequenceNumber(0)
    var maxWindow = 0
    var sndWscale: UInt8 = 0
    // Receive sequence space.
    var irs = SequenceNumber(0)
    var rcvNxt = SequenceNumber(0)
    /// `rcv_wup`: rcv_nxt when we last advertised a window.
    var rcvWup = SequenceNumber(0)
    /// The window last advertised, in bytes.
    var rcvWnd = 0
    var rcvWscale: UInt8 = 0
    var windowClamp = 0
    var rcvSsthresh = 0
    // MSS: ours (`advmss`), the peer's (`mss_clamp`) and the payload size we send (`mss_cache`).
    var advmss = 1460
    var mssClamp = 536
    var mssCache = 536
    // Negotiated options.
    var timestampsOK = false
    var sackOK = false
    var windowScaleOK = false
    var ecnOK = false
    var tsRecent: UInt32 = 0
    var tsRecentStamp: Instant?
    var tsOffset: UInt32 = 0
    /// TS clock value of the first SYN (`retrans_stamp`, for PAWS on the SYN-ACK).
    var synStampTS: UInt32 = 0
    /// When the first unacknowledged transmission of the head segment went out (for give-up timing).
    var retransStamp: Instant?
    // Retransmission.
    var rto: Interval = .seconds(1)
    var srtt: Interval?
    var rttvar: Interval = .zero
    /// `icsk_retransmits`, `icsk_backoff`, `total_rto`.
    var retransmits = 0
    var backoff = 0
    var totalRTO = 0
    /// SYN retransmissions in the handshake (cwnd starts at 1 after more than one).
    var synRetransmissions = 0
    /// Send time of the segment being timed (Karn's rule: never a retransmitted one).
    var rttSeq: SequenceNumber?
    var rttStart: Instant = .zero
    // Congestion control: RFC 5681 slow start and halving on loss.
    var cwnd = 10
    var ssthresh = Int.max
    // Buffers.
    var sendQueue = ByteQueue()
    var sendBufferLimit = 16384
    var receiveQueue = ByteQueue()
    var receiveBufferLimit = 131_072
    var outOfOrder: [(seq: SequenceNumber, data: [UInt8], fin: Bool)] = []
    /// The user asked for a FIN (close or shutdown(SHUT_WR)); `finSent` once it has a sequence number.
    var finQueued = false
    var finSent = false
    var finReceived = false
    var shutdownRead = false
    /// A writer waits for the connection (`sk_write_pending`): send() before ESTABLISHED.
    var writePending = false
    var error: SocketError?
    /// `sk_err_soft`: an error that becomes the socket error if the connection times out.
    var softError: SocketError?
    // ACK machinery (owned by the delayed-ACK policy).
    var ack = AckState()
    /// RFC 5961 / out-of-window ACK rate limit (`last_oow_ack_time`).
    var lastOutOfWindowAck: Instant?
    // Timers (`.never` when not armed).
    var retransmitDeadline: Instant = .never
    var delayedAckDeadline: Instant = .never
    var keepaliveDeadline: Instant = .never
    var timeWaitDeadline: Instant = .never
    var keepaliveProbes = 0
    /// ACKed segments counted towards the next cwnd increase in congestion avoidance.
    var cwndCount = 0
    var lastReceived: Instant = .zero
    var establishedAt: Instant?
    /// `inet_id`: IP ID of the next segment, random at creation, then one more per segment.
    var ipID: UInt16 = 0

    init(id: SocketID, tuple: FourTuple, interface: Int, options: SocketOptions) {
        self.id = id
        self.tuple = tuple
        self.interface = interface
        self.options = options
    }

    /// Bytes sent and not yet acknowledged.
    var inFlight: Int { max(0, sndNxt - sndUna) }
    /// Sequence number of the first byte in `sendQueue` (after the SYN is acknowledged).
    var sendQueueStart: SequenceNumber { state == .synSent || state == .synRecv ? iss + 1 : sndUna }
    /// TCP header length without SACK blocks (`tcp_header_len`).
    var tcpHeaderLength: Int { timestampsOK ? 32 : 20 }

    func deadline(_ kind: TimerKind) -> Instant {
        switch kind {
        case .retransmit, .probe: retransmitDeadline
        case .delayedAck: delayedAckDeadline
        case .keepalive: keepaliveDeadline
        case .timeWait: timeWaitDeadline
        case .synAck, .arp: .never
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

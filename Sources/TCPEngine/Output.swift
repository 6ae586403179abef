import TCPPolicy
import TCPWire

extension Host {
    /// `tcp_syn_options` / `tcp_synack_options`: Linux's wire order — MSS, then SACK_PERM packed in
    /// front of TS (or NOP NOP before TS or SACK_PERM alone), then NOP + window scale. Putting SACK_PERM
    /// first "breaks middleboxes", as the kernel comments.
    static func synOptions(mss: Int, timestamps: (UInt32, UInt32)?, sack: Bool, windowScale: UInt8?) -> [TCPOption] {
        var options: [TCPOption] = [.maxSegmentSize(UInt16(clamping: mss))]
        options.reserveCapacity(6)
        if let (value, echo) = timestamps {
            if sack { options.append(.sackPermitted) } else { options += [.noOperation, .noOperation] }
            options.append(.timestamps(value: value, echoReply: echo))
        } else if sack {
            options += [.noOperation, .noOperation, .sackPermitted]
        }
        if let ws = windowScale { options += [.noOperation, .windowScale(ws)] }
        return options
    }

    /// `tcp_established_options`: timestamps (NOP NOP TS) when negotiated, then SACK blocks.
    func establishedOptions(_ c: Connection) -> [TCPOption] {
        var options: [TCPOption] = []
        if c.timestampsOK {
            options = [.noOperation, .noOperation, .timestamps(value: tsNow(offset: c.tsOffset), echoReply: c.tsRecent)]
        }
        if c.sackOK, !c.outOfOrder.isEmpty {
            // RFC 2018: the most recently received block first; at most 3 fit beside timestamps.
            let blocks = c.outOfOrder.suffix(c.timestampsOK ? 3 : 4).reversed().map {
                SACKBlock(left: $0.seq, right: $0.seq + $0.data.count)
            }
            options += [.noOperation, .noOperation, .sack(Array(blocks))]
        }
        return options
    }

    /// `__tcp_transmit_skb`: one segment of connection `c`.
    func transmit(_ c: Connection, flags: TCPFlags, seq: SequenceNumber, payload: [UInt8] = [], retransmission: Int = 0) {
        let options: [TCPOption]
        let window: UInt16
        if flags.contains(.syn) {
            // A SYN (or our SYN re-sent with ACK in a simultaneous open) carries the SYN options and an
            // unscaled window (RFC 7323 §2.2). `tcp_syn_options` goes by the sysctls alone, not by what
            // the peer offered: a crossed SYN-ACK offers TS (echoing ts_recent, 0 if none), SACK and our
            // window scale even to a peer whose SYN had none of them (as 23e89e8ee7be's packetdrill shows).
            options = Self.synOptions(
                mss: c.advmss,
                timestamps: sysctl.tcp_timestamps != 0 ? (tsNow(offset: c.tsOffset), c.tsRecent) : nil,
                sack: sysctl.tcp_sack != 0,
                windowScale: sysctl.tcp_window_scaling != 0 ? c.rcvWscale : nil)
            window = UInt16(min(c.rcvWnd, 65535))
        } else {
            options = establishedOptions(c)
            window = selectWindow(c)
        }
        if flags.contains(.ack) {
            // tcp_event_ack_sent: an ACK went out, so the delayed one is no longer owed.
            delayedAckPolicy.ackSent(&c.ack, facts: ackFacts(c))
            c.delayedAckDeadline = .never
        }
        if !payload.isEmpty { delayedAckPolicy.dataSent(&c.ack, facts: ackFacts(c)) }
        let header = TCPHeader(sourcePort: c.tuple.local.port, destinationPort: c.tuple.remote.port, sequenceNumber: seq,
                               acknowledgmentNumber: flags.contains(.ack) ? c.rcvNxt : SequenceNumber(0), flags: flags,
                               window: window, options: options)
        c.ipID &+= 1
        output(TCPSegment(ip: ipHeader(to: c.tuple.remote.address, from: c.tuple.local.address, id: c.ipID),
                          tcp: header, payload: payload),
               interface: c.interface, socket: c.id, retransmission: retransmission)
        if flags.contains(.rst) { count(.OutRsts) }
        if retransmission > 0 { count(.RetransSegs) }
    }

    /// `tcp_send_ack`: a pure ACK at snd_nxt.
    func sendAck(_ c: Connection) {
        transmit(c, flags: .ack, seq: c.sndNxt)
    }

    /// `tcp_send_active_reset`: RST|ACK at snd_nxt, as close() with linger 0 or unread data, or a listener
    /// closing with children queued, sends it.
    func sendActiveReset(_ c: Connection) {
        transmit(c, flags: [.rst, .ack], seq: c.sndNxt)
    }

    func ipHeader(to destination: IPv4Address, from source: IPv4Address, id: UInt16) -> IPv4Header {
        IPv4Header(identification: id, dontFragment: true, ttl: UInt8(clamping: sysctl.ip_default_ttl),
                   source: source, destination: destination)
    }

    /// Routes and sends a segment, and records it.
    func output(_ segment: TCPSegment, interface: Int, socket: SocketID?, retransmission: Int = 0) {
        var segment = segment
        segment.ip.totalLength = UInt16(segment.ip.headerLength + segment.tcp.headerLength + segment.payload.count)
        count(.OutSegs)
        count(.IpOutRequests)
        emit(.segmentSent(SegmentRecord(segment), socket: socket, retransmission: retransmission))
        guard let (ifc, nextHop) = route(to: segment.ip.destination) else {
            emit(.dropped(.noRoute, segment: SegmentRecord(segment), socket: socket))
            return
        }
        let frame = Frame(ethernet: EthernetHeader(destination: .zero, source: interfaces[ifc].mac, etherType: .ipv4),
                          payload: .tcp(segment))
        sendIPv4(frame, nextHop: nextHop, interface: interface < interfaces.count ? interface : ifc)
    }

    /// `tcp_v4_send_reset`: the answer to a segment no socket wants. Never sent in reply to a RST; with
    /// an ACK in the offending segment it is `<SEQ=SEG.ACK><CTL=RST>`, else
    /// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>` (RFC 9293 §3.10.7.1). No options, window 0, IP ID 0.
    func sendReset(replyingTo seg: TCPSegment, interface: Int) {
        guard !seg.tcp.flags.contains(.rst) else { return }
        let header: TCPHeader
        if seg.tcp.flags.contains(.ack) {
            header = TCPHeader(sourcePort: seg.tcp.destinationPort, destinationPort: seg.tcp.sourcePort,
                               sequenceNumber: seg.tcp.acknowledgmentNumber, flags: .rst, window: 0)
        } else {
            header = TCPHeader(sourcePort: seg.tcp.destinationPort, destinationPort: seg.tcp.sourcePort,
                               sequenceNumber: SequenceNumber(0),
                               acknowledgmentNumber: seg.tcp.sequenceNumber + seg.sequenceLength, flags: .rstAck, window: 0)
        }
        output(TCPSegment(ip: ipHeader(to: seg.ip.source, from: seg.ip.destination, id: 0), tcp: header),
               interface: interface, socket: nil)
        count(.OutRsts)
    }
}

import TCPPolicy
import TCPWire

extension Host {
    /// `tcp_syn_options` / `tcp_synack_options`: Linux's wire order — MSS, then SACK_PERM packed in
    /// front of TS (or NOP NOP before TS or SACK_PERM alone), then NOP + window scale. Putting SACK_PERM
    /// first "breaks middleboxes", as the kernel comments.
    @inline(__always) static func synOptions(mss: Int, timestamps: (UInt32, UInt32)?, sack: Bool, windowScale: UInt8?) -> TCPOptionList {
        var options = TCPOptionList()
        options.appendMaxSegmentSize(UInt16(clamping: mss))
        if let (value, echo) = timestamps {
            if sack {
                options.appendSackPermitted()
            } else {
                options.appendNoOperation()
                options.appendNoOperation()
            }
            options.appendTimestamps(value: value, echoReply: echo)
        } else if sack {
            options.appendNoOperation()
            options.appendNoOperation()
            options.appendSackPermitted()
        }
        if let ws = windowScale {
            options.appendNoOperation()
            options.appendWindowScale(ws)
        }
        return options
    }

    /// `tcp_established_options`: timestamps (NOP NOP TS) when negotiated, then the SACK blocks — a
    /// pending D-SACK block first (RFC 2883), then the most recent (RFC 2018) — as many as fit: 3 beside
    /// timestamps, else 4.
    @inline(__always) func establishedOptions(_ c: Connection) -> TCPOptionList {
        let ts = c.timestampsOK
        let sacks = c.sackOK ? c.sackBlocks.count + (c.dsack == nil ? 0 : 1) : 0
        if sacks == 0 {
            var options = TCPOptionList()
            if ts { options.appendAlignedTimestamps(value: tsNow(offset: c.tsOffset), echoReply: c.tsRecent) }
            return options
        }
        var options = TCPOptionList()
        if ts { options.appendAlignedTimestamps(value: tsNow(offset: c.tsOffset), echoReply: c.tsRecent) }
        if sacks > 0 {
            var blocks: [SACKBlock] = []
            let limit = ts ? 3 : 4
            blocks.reserveCapacity(min(sacks, limit))
            if let d = c.dsack { blocks.append(d) }
            for b in c.sackBlocks where blocks.count < limit { blocks.append(b) }
            // "tp->rx_opt.dsack = 0": a D-SACK block is reported once.
            c.dsack = nil
            options.append(.noOperation)
            options.append(.noOperation)
            options.append(.sack(blocks))
        }
        return options
    }

    /// `__tcp_transmit_skb`: one segment of connection `c`.
    /// - Parameter payload: taken over by the segment (no reference counting for it).
    func transmit(_ c: Connection, flags: TCPFlags, seq: SequenceNumber, payload: consuming [UInt8] = [], retransmission: Int = 0) {
        let options: TCPOptionList
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
        let payloadLength = payload.count
        if flags.contains(.ack) || payloadLength > 0 {
            let facts = ackFacts(c)
            if flags.contains(.ack) {
                // tcp_event_ack_sent: an ACK went out, so the delayed one is no longer owed.
                delayedAckPolicy.ackSent(&c.ack, facts: facts)
                cancel(c, .delack)
            }
            if payloadLength > 0 {
                // tcp_event_data_sent.
                c.lsndtime = now
                delayedAckPolicy.dataSent(&c.ack, facts: facts)
            }
        }
        let header = TCPHeader(sourcePort: c.tuple.local.port, destinationPort: c.tuple.remote.port, sequenceNumber: seq,
                               acknowledgmentNumber: flags.contains(.ack) ? c.rcvNxt : SequenceNumber(0), flags: flags,
                               window: window, options: options)
        c.ipID &+= 1
        var segment = TCPSegment(ip: ipHeader(to: c.tuple.remote.address, from: c.tuple.local.address, id: c.ipID),
                                 tcp: header, payload: consume payload)
        if flags.contains(.rst) { count(.OutRsts) }
        if retransmission > 0 { count(.RetransSegs) }
        if c.routeGeneration == arpGeneration {
            let mac = c.routeMAC
            // The socket's cached route and neighbour (`sk_dst_cache`).
            segment.ip.totalLength = UInt16(segment.ip.headerLength + header.headerLength + payloadLength)
            count(.OutSegs)
            count(.IpOutRequests)
            emitSent(segment, socket: c.id, retransmission: retransmission)
            outbox.append(OutgoingFrame(interface: c.interface, frame: Frame(
                ethernet: EthernetHeader(destination: mac, source: interfaces[c.interface].mac, etherType: .ipv4),
                payload: .tcp(consume segment))))
            return
        }
        // `output` has just looked the next hop up: if it was resolved, the one-entry neighbour cache
        // holds it at the current generation (any ARP table change moves the generation on), so the
        // socket caches it from there without routing and hashing again.
        if let nextHop = output(consume segment, interface: c.interface, socket: c.id, retransmission: retransmission) {
            primeRoute(c, interface: c.interface, nextHop: nextHop)
        }
    }

    /// A socket takes the next hop's MAC from the host's one-entry neighbour cache when that holds it
    /// and the route leaves by the socket's own interface: its next segment then goes the way of every
    /// later one, with the frame, counters and events `output` would have produced.
    func primeRoute(_ c: Connection, interface: Int, nextHop: IPv4Address) {
        guard interface == c.interface, nextHop == neighborCache.ip, neighborCache.generation == arpGeneration else { return }
        c.routeMAC = neighborCache.mac
        c.routeGeneration = arpGeneration
    }

    /// `tcp_acceptable_seq`: snd_nxt, unless the peer shrank its window below it (by more than
    /// what scaling can hide); then the window's right edge.
    func acceptableSeq(_ c: Connection) -> SequenceNumber {
        let end = c.windowEnd
        if !(end < c.sndNxt) || (c.windowScaleOK && c.sndNxt - end < 1 << Int(c.rcvWscale)) { return c.sndNxt }
        return end
    }

    /// `tcp_send_ack`: a pure ACK.
    func sendAck(_ c: Connection) {
        transmit(c, flags: .ack, seq: acceptableSeq(c))
    }

    /// `tcp_send_active_reset`: RST|ACK, as close() with linger 0 or unread data, a keepalive timeout,
    /// or a listener closing with children queued sends it.
    func sendActiveReset(_ c: Connection) {
        transmit(c, flags: [.rst, .ack], seq: acceptableSeq(c))
    }

    func ipHeader(to destination: IPv4Address, from source: IPv4Address, id: UInt16) -> IPv4Header {
        IPv4Header(identification: id, dontFragment: true, ttl: UInt8(clamping: sysctl.ip_default_ttl),
                   source: source, destination: destination)
    }

    /// Routes and sends a segment, and records it.
    /// - Returns: the next hop it went to (nil: no route).
    @discardableResult
    func output(_ seg: consuming TCPSegment, interface: Int, socket: SocketID?, retransmission: Int = 0) -> IPv4Address? {
        var segment = consume seg
        segment.ip.totalLength = UInt16(segment.ip.headerLength + segment.tcp.headerLength + segment.payload.count)
        count(.OutSegs)
        count(.IpOutRequests)
        emitSent(segment, socket: socket, retransmission: retransmission)
        guard let (ifc, nextHop) = route(to: segment.ip.destination) else {
            emitDropped(.noRoute, segment, socket: socket)
            return nil
        }
        let out = interface < interfaces.count ? interface : ifc
        if nextHop == neighborCache.ip, neighborCache.generation == arpGeneration {
            // `sendIPv4`'s first case, with the frame built in place.
            outbox.append(OutgoingFrame(interface: out, frame: Frame(
                ethernet: EthernetHeader(destination: neighborCache.mac, source: interfaces[ifc].mac, etherType: .ipv4),
                payload: .tcp(consume segment))))
            return nextHop
        }
        sendIPv4(Frame(ethernet: EthernetHeader(destination: .zero, source: interfaces[ifc].mac, etherType: .ipv4),
                       payload: .tcp(consume segment)),
                 nextHop: nextHop, interface: out)
        return nextHop
    }

    /// `tcp_v4_send_reset`: the answer to a segment no socket wants. Never sent in reply to a RST; with
    /// an ACK in the offending segment it is `<SEQ=SEG.ACK><CTL=RST>`, else
    /// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>` (RFC 9293 §3.10.7.1). No options, window 0, IP ID 0.
    func sendReset(replyingTo seg: borrowing TCPSegment, interface: Int) {
        guard !seg.tcp.flags.contains(.rst) else { return }
        let header: TCPHeader
        if seg.tcp.flags.contains(.ack) {
            header = TCPHeader(sourcePort: seg.tcp.destinationPort, destinationPort: seg.tcp.sourcePort,
                               sequenceNumber: seg.tcp.acknowledgmentNumber, flags: .rst, window: 0)
        } else {
            header = TCPHeader(sourcePort: seg.tcp.destinationPort, destinationPort: seg.tcp.sourcePort,
                               sequenceNumber: SequenceNumber(0),
                               acknowledgmentNumber: seg.tcp.sequenceNumber + seg.length, flags: .rstAck, window: 0)
        }
        output(TCPSegment(ip: ipHeader(to: seg.ip.source, from: seg.ip.destination, id: 0), tcp: header),
               interface: interface, socket: nil)
        count(.OutRsts)
    }
}

import TCPPolicy
import TCPWire

extension Host {
    /// `tcp_data_queue`: in-order data to the receive queue, out-of-order data aside (with SACK
    /// blocks), duplicates and out-of-window data answered at once (with D-SACK).
    func dataQueue(_ c: Connection, _ seg: borrowing TCPSegment) {
        let hasFin = seg.tcp.flags.contains(.fin)
        guard !seg.payload.isEmpty || hasFin else { return }
        let seq = seg.tcp.sequenceNumber
        let end = seq + seg.payload.count + (hasFin ? 1 : 0)
        let window = c.receiveWindowRemaining
        c.dsack = nil

        if seq == c.rcvNxt {
            if window == 0 && !(seg.payload.isEmpty && hasFin) {
                // "Some stacks are known to send bare FIN packets in a loop even if we send RWIN 0":
                // those are accepted; data into a zero window is not.
                count(.TCPZeroWindowDrop)
                emitDropped(.receiveBufferFull, seg, socket: c.id)
                outOfWindow(c)
                return
            }
            queueInOrder(c, seg.payload, fin: hasFin, headerLength: seg.tcp.headerLength, push: seg.tcp.flags.contains(.psh))
            return
        }
        if !(end > c.rcvNxt) {
            // A retransmission, "2nd most common case. Force an immediate ack."
            count(.DelayedACKLost)
            dsackSet(c, seq, end)
            emitDropped(.outOfWindow, seg, socket: c.id)
            outOfWindow(c)
            return
        }
        if !(seq < c.rcvNxt + window) {
            // Out of window (a zero-window probe, say).
            emitDropped(.outOfWindow, seg, socket: c.id)
            outOfWindow(c)
            return
        }
        if seq < c.rcvNxt {
            // Partial overlap: D-SACK the old part, keep the new one.
            dsackSet(c, seq, c.rcvNxt)
            if window == 0 {
                count(.TCPZeroWindowDrop)
                outOfWindow(c)
                return
            }
            let overlap = c.rcvNxt - seq
            queueInOrder(c, Array(seg.payload.dropFirst(overlap)), fin: hasFin, headerLength: seg.tcp.headerLength,
                         push: seg.tcp.flags.contains(.psh))
            return
        }
        dataQueueOutOfOrder(c, seg)
    }

    /// The "out_of_window" and "drop" paths: quick-ACK mode (16) and an ACK owed.
    private func outOfWindow(_ c: Connection) {
        delayedAckPolicy.enterQuickAck(&c.ack, credits: LinuxDelayedAck.maxQuickAcks, facts: ackFacts(c))
        c.ack.pending.insert(.scheduled)
    }

    /// The queue_and_out path of `tcp_data_queue`: receive queue, `tcp_event_data_recv`, `tcp_fin`, the
    /// out-of-order queue drained (an immediate ACK when that fills the hole, RFC 5681 §4.2).
    private func queueInOrder(_ c: Connection, _ data: [UInt8], fin: Bool, headerLength: Int, push: Bool) {
        if !data.isEmpty {
            // tcp_try_rmem_schedule: sk_rmem_alloc counts truesize, about twice the payload at the 50 %
            // scaling ratio, against sk_rcvbuf; in payload bytes that is the whole buffer against what is
            // queued (the window offered half of it).
            let free = c.receiveBufferLimit - c.receiveQueue.count - c.outOfOrderBytes
            if data.count > max(free, 0), !c.receiveQueue.isEmpty {
                // tcp_try_rmem_schedule failed: a zero window goes out at once (ICSK_ACK_NOMEM).
                count(.TCPRcvQDrop)
                c.ack.pending.formUnion([.scheduled, .now])
                return
            }
        }
        deliver(c, data, fin: fin, headerLength: headerLength, push: push)
        if !c.outOfOrder.isEmpty {
            ofoQueue(c)
            if c.outOfOrder.isEmpty { c.ack.pending.insert(.now) }
        }
        if !c.sackBlocks.isEmpty { sackRemove(c) }
    }

    private func deliver(_ c: Connection, _ data: [UInt8], fin: Bool, headerLength: Int, push: Bool) {
        if !data.isEmpty {
            c.receiveQueue.append(contentsOf: data)
            c.rcvNxt += data.count
            delayedAckPolicy.dataReceived(&c.ack, ReceivedData(length: data.count, headerLength: headerLength, push: push,
                                                                finUrgOrSyn: fin), facts: ackFacts(c))
            emit(.readable(c.id, bytes: c.receiveQueue.count))
        }
        if fin {
            c.rcvNxt += 1
            tcpFin(c)
        }
    }

    /// `tcp_ofo_queue`: move what the new data made contiguous to the receive queue.
    private func ofoQueue(_ c: Connection) {
        while let s = c.outOfOrder.first, !(s.seq > c.rcvNxt) {
            c.outOfOrder.removeFirst()
            c.outOfOrderBytes -= s.data.count
            // Entirely old: dropped.
            guard s.end > c.rcvNxt else { continue }
            let overlap = c.rcvNxt - s.seq
            if overlap > 0 { dsackExtend(c, s.seq, c.rcvNxt) }
            deliver(c, overlap > 0 ? Array(s.data.dropFirst(overlap)) : s.data, fin: s.fin, headerLength: 20, push: false)
        }
    }

    /// `tcp_data_queue_ofo`: keep the segment aside, sorted and without overlaps, and record a SACK block.
    private func dataQueueOutOfOrder(_ c: Connection, _ seg: borrowing TCPSegment) {
        let free = c.receiveBufferLimit - c.receiveQueue.count - c.outOfOrderBytes
        if seg.payload.count > max(free, 0) {
            count(.TCPOFODrop)
            emitDropped(.outOfOrderQueueFull, seg, socket: c.id)
            return
        }
        c.ack.pending.insert(.scheduled)
        count(.TCPOFOQueue)
        var new = OutOfOrderSegment(seq: seg.tcp.sequenceNumber, data: seg.payload, fin: seg.tcp.flags.contains(.fin))
        let seq = new.seq, end = new.end
        // The first queued segment that ends after our start.
        var i = c.outOfOrder.firstIndex { $0.end > seq } ?? c.outOfOrder.endIndex
        if i < c.outOfOrder.endIndex, !(c.outOfOrder[i].seq > seq) {
            let old = c.outOfOrder[i]
            if !(end > old.end) {
                // "All the bits are present. Drop."
                dsackSet(c, seq, end)
                emitDropped(.outOfWindow, seg, socket: c.id)
                if c.sackOK { sackNewOfo(c, seq, end) }
                return
            }
            if old.seq == seq {
                // The new segment covers the old one: it replaces it.
                dsackSet(c, seq, old.end)
                c.outOfOrderBytes -= old.data.count
                c.outOfOrder.remove(at: i)
            } else {
                // Keep the old bytes; the new segment starts where they end.
                dsackSet(c, seq, old.end)
                new.data.removeFirst(old.end - seq - (old.fin ? 1 : 0))
                new.seq = old.end
                i += 1
            }
        }
        // Drop queued segments the new one covers; cut it short of one it overlaps.
        while i < c.outOfOrder.endIndex, !(c.outOfOrder[i].seq >= new.end) {
            let next = c.outOfOrder[i]
            if !(next.end > new.end) {
                dsackExtend(c, next.seq, next.end)
                c.outOfOrderBytes -= next.data.count
                c.outOfOrder.remove(at: i)
            } else {
                dsackExtend(c, next.seq, new.end)
                new.data.removeLast(new.end - next.seq - (new.fin ? 1 : 0))
                new.fin = false
                break
            }
        }
        c.outOfOrderBytes += new.data.count
        c.outOfOrder.insert(new, at: i)
        if c.sackOK { sackNewOfo(c, seq, end) }
    }

    /// `tcp_fin`.
    private func tcpFin(_ c: Connection) {
        c.ack.pending.insert(.scheduled)
        c.shutdownRead = true
        c.finReceived = true
        emit(.readable(c.id, bytes: c.receiveQueue.count))
        switch c.state {
        case .synRecv, .established:
            setState(c, .closeWait, .finReceived)
            // The application will answer soon: delay the ACK so it can ride on our FIN.
            c.ack.pingpong = UInt8(clamping: sysctl.tcp_pingpong_thresh)
        case .finWait1:
            // A simultaneous close: ACK the FIN and wait for ours to be acknowledged.
            sendAck(c)
            setState(c, .closing, .finReceived)
        case .finWait2:
            sendAck(c)
            timeWait(c, substate: .timeWait, cause: .finReceived)
        default:
            break
        }
        // "It _is_ possible, that we have something out-of-order _after_ FIN. Probably, we should reset
        // in this case. For now drop them."
        if c.outOfOrder.capacity > 0 { c.outOfOrder.removeAll() }
        c.outOfOrderBytes = 0
        if c.sackBlocks.capacity > 0 { c.sackBlocks.removeAll() }
    }

    // MARK: SACK blocks we send (RFC 2018, RFC 2883)

    /// `tcp_dsack_set`: the next ACK reports a duplicate range first (RFC 2883).
    func dsackSet(_ c: Connection, _ seq: SequenceNumber, _ end: SequenceNumber) {
        guard c.sackOK, sysctl.tcp_dsack != 0 else { return }
        count(seq < c.rcvNxt ? .TCPDSACKOldSent : .TCPDSACKOfoSent)
        c.dsack = SACKBlock(left: seq, right: end)
    }

    /// `tcp_dsack_extend`.
    private func dsackExtend(_ c: Connection, _ seq: SequenceNumber, _ end: SequenceNumber) {
        guard var d = c.dsack else {
            dsackSet(c, seq, end)
            return
        }
        if !(seq > d.right) && !(d.left > end) {
            d.left = SequenceNumber.min(d.left, seq)
            d.right = SequenceNumber.max(d.right, end)
            c.dsack = d
        }
    }

    /// `tcp_sack_new_ofo_skb`: the newest block first, merged with any it touches; at most 4.
    private func sackNewOfo(_ c: Connection, _ seq: SequenceNumber, _ end: SequenceNumber) {
        for i in c.sackBlocks.indices {
            let b = c.sackBlocks[i]
            if !(seq > b.right) && !(b.left > end) {
                var merged = SACKBlock(left: SequenceNumber.min(b.left, seq), right: SequenceNumber.max(b.right, end))
                c.sackBlocks.remove(at: i)
                // tcp_sack_maybe_coalesce: the grown block may now touch others.
                var j = 0
                while j < c.sackBlocks.count {
                    let o = c.sackBlocks[j]
                    if !(merged.left > o.right) && !(o.left > merged.right) {
                        merged = SACKBlock(left: SequenceNumber.min(merged.left, o.left), right: SequenceNumber.max(merged.right, o.right))
                        c.sackBlocks.remove(at: j)
                    } else {
                        j += 1
                    }
                }
                c.sackBlocks.insert(merged, at: 0)
                return
            }
        }
        if c.sackBlocks.count >= 4 { c.sackBlocks.removeLast() }
        c.sackBlocks.insert(SACKBlock(left: seq, right: end), at: 0)
    }

    /// `tcp_sack_remove`: blocks rcv_nxt has reached are gone.
    private func sackRemove(_ c: Connection) {
        if c.outOfOrder.isEmpty {
            c.sackBlocks.removeAll()
            return
        }
        c.sackBlocks.removeAll { !(c.rcvNxt < $0.left) }
    }
}

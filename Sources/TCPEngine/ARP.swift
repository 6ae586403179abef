import TCPPolicy
import TCPWire

/// Frames waiting for an address to resolve (Linux's `arp_queue`), and the retry state.
struct ARPPending {
    var interface: Int
    var frames: [Frame] = []
    /// Requests sent so far (`mcast_solicit` is 3).
    var attempts = 0
    var deadline: Instant
}

extension Host {
    /// ARP requests before giving up (`mcast_solicit`).
    static let arpAttempts = 3
    /// Spacing of ARP requests (`retrans_time`).
    static let arpRetransTime = Interval.seconds(1)
    /// Frames held per unresolved address (`unres_qlen` default 101 via unres_qlen_bytes).
    static let arpQueueLimit = 101

    /// Handles an ARP packet: learn the sender if the packet is for us (RFC 826's merge rule), answer requests.
    func arpInput(_ arp: ARPPacket, on interface: Int) {
        let ifc = interfaces[interface]
        guard arp.targetIP == ifc.address.address else { return }
        arpLearn(arp.senderIP, arp.senderMAC)
        if arp.operation == .request {
            let reply = ARPPacket(operation: .reply, senderMAC: ifc.mac, senderIP: ifc.address.address,
                                  targetMAC: arp.senderMAC, targetIP: arp.senderIP)
            outbox.append(OutgoingFrame(interface: interface, frame: Frame(
                ethernet: EthernetHeader(destination: arp.senderMAC, source: ifc.mac, etherType: .arp), payload: .arp(reply))))
            count(.ArpRepliesSent)
        }
    }

    func arpLearn(_ ip: IPv4Address, _ mac: MACAddress) {
        let known = arpTable[ip]
        arpTable[ip] = mac
        if known != mac { emit(.arpResolved(ip, mac)) }
        if let pending = arpPending.removeValue(forKey: ip) {
            for var frame in pending.frames {
                frame.ethernet.destination = mac
                outbox.append(OutgoingFrame(interface: pending.interface, frame: frame))
            }
        }
    }

    /// Adds a static neighbour entry (as `ip neigh add … nud permanent`).
    public func addNeighbor(_ ip: IPv4Address, _ mac: MACAddress) { arpTable[ip] = mac }

    /// Sends `frame` to `nextHop`, resolving its MAC first if needed.
    func sendIPv4(_ frame: consuming Frame, nextHop: IPv4Address, interface: Int) {
        if nextHop == neighborCache.ip, neighborCache.generation == arpGeneration {
            frame.ethernet.destination = neighborCache.mac
            outbox.append(OutgoingFrame(interface: interface, frame: frame))
            return
        }
        if let mac = arpTable[nextHop] {
            neighborCache = (nextHop, mac, arpGeneration)
            frame.ethernet.destination = mac
            outbox.append(OutgoingFrame(interface: interface, frame: frame))
            return
        }
        if var pending = arpPending[nextHop] {
            if pending.frames.count < Self.arpQueueLimit {
                pending.frames.append(frame)
            } else {
                emit(.dropped(.arpQueueFull, segment: frame.tcpSegment.map(SegmentRecord.init), socket: nil))
            }
            arpPending[nextHop] = pending
            return
        }
        arpPending[nextHop] = ARPPending(interface: interface, frames: [frame], deadline: now)
        arpSolicit(nextHop)
    }

    private func arpSolicit(_ ip: IPv4Address) {
        guard var pending = arpPending[ip] else { return }
        let ifc = interfaces[pending.interface]
        let request = ARPPacket(operation: .request, senderMAC: ifc.mac, senderIP: ifc.address.address,
                                targetMAC: .zero, targetIP: ip)
        outbox.append(OutgoingFrame(interface: pending.interface, frame: Frame(
            ethernet: EthernetHeader(destination: .broadcast, source: ifc.mac, etherType: .arp), payload: .arp(request))))
        count(.ArpRequestsSent)
        emit(.arpRequest(target: ip))
        pending.attempts += 1
        pending.deadline = now + Self.arpRetransTime
        arpPending[ip] = pending
        timers.push(pending.deadline, .arp(ip))
    }

    /// The ARP retry timer: another request, or give up after three and fail what waited.
    func arpTimer(_ ip: IPv4Address) {
        guard let pending = arpPending[ip] else { return }
        if pending.attempts < Self.arpAttempts {
            arpSolicit(ip)
            return
        }
        arpPending[ip] = nil
        count(.ArpFailed)
        emit(.arpFailed(ip))
        // neigh_invalidate → arp_error_report → ipv4_link_failure: the sender gets ICMP host
        // unreachable, which fails a connect in SYN_SENT at once (tcp_v4_err) and is a soft error otherwise.
        for frame in pending.frames {
            guard let seg = frame.tcpSegment else { continue }
            emitDropped(.arpGaveUp, seg, socket: nil)
            let tuple = FourTuple(local: seg.from, remote: seg.to)
            if let c = established[tuple] { hostUnreachable(c) }
        }
    }
}

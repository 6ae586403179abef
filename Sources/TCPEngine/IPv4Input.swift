import TCPPolicy
import TCPWire

extension Host {
    /// Feeds a frame received on `interface` at `time` (raw bytes, as read from a packet socket).
    /// Malformed frames and bad checksums are counted and dropped, never fatal.
    public func receive(bytes: [UInt8], on interface: Int, at time: Instant) {
        bytes.withUnsafeBytes { receive(raw: $0, on: interface, at: time) }
    }

    /// Feeds a frame straight from a receive buffer (no copy before parsing).
    public func receive(raw: UnsafeRawBufferPointer, on interface: Int, at time: Instant) {
        advance(time)
        do {
            let frame = try Frame.parse(raw)
            input(frame, on: interface)
        } catch {
            if case .badChecksum(let layer, _, _) = error, layer == .tcp { count(.InCsumErrors) }
            count(.InMalformed)
            emit(.dropped(error.isChecksum ? .badChecksum : .malformed, segment: nil, socket: nil))
        }
    }

    /// Feeds an already parsed (and checksum-verified, or simulated) frame.
    public func receive(frame: Frame, on interface: Int, at time: Instant) {
        advance(time)
        input(frame, on: interface)
    }

    func input(_ frame: borrowing Frame, on interface: Int) {
        guard interfaces.indices.contains(interface) else { return }
        let dst = frame.ethernet.destination
        guard dst == interfaces[interface].mac || dst.isBroadcast else {
            // Not ours (promiscuous capture): Linux drops PACKET_OTHERHOST frames silently.
            return
        }
        switch frame.payload {
        case let .arp(arp):
            arpInput(arp, on: interface)
        case let .tcp(segment):
            count(.IpInReceives)
            guard segment.ip.destination == interfaces[interface].address.address else {
                count(.IpInAddrErrors)
                emitDropped(.notForUs, segment, socket: nil)
                return
            }
            tcpV4Receive(segment, interface: interface, linkBroadcast: dst.isBroadcast)
        case .ipv4, .other:
            return
        }
    }

    /// The interface and next hop for `destination` (`ip_route_output`).
    @inline(__always) func route(to destination: IPv4Address) -> (interface: Int, nextHop: IPv4Address)? {
        if let i = interfaces.firstIndex(where: { $0.address.contains(destination) }) { return (i, destination) }
        if let gw = gateway, let i = interfaces.firstIndex(where: { $0.address.contains(gw) }) { return (i, gw) }
        return nil
    }
}

extension WireError {
    var isChecksum: Bool {
        if case .badChecksum = self { return true }
        return false
    }
}

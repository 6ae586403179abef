/// What an Ethernet frame carries, as far as TCPLab looks into it.
public enum FramePayload: Hashable, Sendable {
    case arp(ARPPacket)
    /// An IPv4 packet carrying TCP.
    case tcp(TCPSegment)
    /// An IPv4 packet with another protocol; the IP payload is kept as it was.
    case ipv4(IPv4Header, payload: [UInt8])
    /// Any other EtherType, kept as it was.
    case other([UInt8])
}

/// A TCP segment with the IPv4 header that carried it.
public struct TCPSegment: Hashable, Sendable {
    public var ip: IPv4Header
    public var tcp: TCPHeader
    public var payload: [UInt8]

    public init(ip: IPv4Header, tcp: TCPHeader, payload: [UInt8] = []) {
        self.ip = ip
        self.tcp = tcp
        self.payload = payload
    }

    public var source: SocketAddress { SocketAddress(ip.source, tcp.sourcePort) }
    public var destination: SocketAddress { SocketAddress(ip.destination, tcp.destinationPort) }

    /// Sequence space taken: payload + SYN + FIN.
    public var sequenceLength: UInt32 { tcp.sequenceLength(payloadLength: payload.count) }

    /// Appends the IPv4 header (total length and both checksums recomputed) and the TCP segment.
    public func write(into out: inout [UInt8]) {
        var ip = self.ip
        ip.totalLength = UInt16(ip.headerLength + tcp.headerLength + payload.count)
        ip.proto = .tcp
        ip.write(into: &out)
        tcp.write(into: &out, payload: payload, source: ip.source, destination: ip.destination)
    }
}

/// An Ethernet II frame, parsed down to TCP where it carries TCP.
public struct Frame: Hashable, Sendable {
    public var ethernet: EthernetHeader
    public var payload: FramePayload
    /// Bytes after the IP packet's total length or the ARP packet (Ethernet minimum-size padding).
    public var trailer: [UInt8]

    public init(ethernet: EthernetHeader, payload: FramePayload, trailer: [UInt8] = []) {
        self.ethernet = ethernet
        self.payload = payload
        self.trailer = trailer
    }

    /// Parses a whole frame.
    /// - Parameter verifyChecksums: when true (the default), a wrong IPv4 or TCP checksum is an error.
    public static func parse(_ bytes: [UInt8], verifyChecksums: Bool = true) throws(WireError) -> Frame {
        // withUnsafeBytes is not typed-throws; carry the typed error out in a Result.
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(WireError) in try parse(raw, verifyChecksums: verifyChecksums) }
        }
        return try result.get()
    }

    /// Parses a whole frame from raw memory.
    public static func parse(_ raw: UnsafeRawBufferPointer, verifyChecksums: Bool = true) throws(WireError) -> Frame {
        let ethernet = try EthernetHeader.parse(raw)
        let body = UnsafeRawBufferPointer(rebasing: raw[EthernetHeader.length...])
        switch ethernet.etherType {
        case .arp:
            let arp = try ARPPacket.parse(body)
            return Frame(ethernet: ethernet, payload: .arp(arp), trailer: body.bytes(ARPPacket.length..<body.count))
        case .ipv4:
            let (ip, range) = try IPv4Header.parse(body, verifyChecksum: verifyChecksums)
            let trailer = range.upperBound < body.count ? body.bytes(range.upperBound..<body.count) : []
            let ipPayload = UnsafeRawBufferPointer(rebasing: body[range])
            guard ip.proto == .tcp, ip.fragmentOffset == 0, !ip.moreFragments else {
                return Frame(ethernet: ethernet, payload: .ipv4(ip, payload: Array(ipPayload)), trailer: trailer)
            }
            let (tcp, dataRange) = try TCPHeader.parse(
                ipPayload, pseudoHeader: verifyChecksums ? (ip.source, ip.destination) : nil)
            let data = dataRange.isEmpty ? [] : ipPayload.bytes(dataRange)
            return Frame(ethernet: ethernet, payload: .tcp(TCPSegment(ip: ip, tcp: tcp, payload: data)), trailer: trailer)
        default:
            return Frame(ethernet: ethernet, payload: .other(Array(body)))
        }
    }

    /// The frame's bytes, with IPv4 and TCP checksums and the IPv4 total length computed afresh.
    public func serialize() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimatedLength)
        ethernet.write(into: &out)
        switch payload {
        case let .arp(arp): arp.write(into: &out)
        case let .tcp(segment): segment.write(into: &out)
        case let .ipv4(ip, body):
            var ip = ip
            ip.totalLength = UInt16(ip.headerLength + body.count)
            ip.write(into: &out)
            out.append(contentsOf: body)
        case let .other(body): out.append(contentsOf: body)
        }
        out.append(contentsOf: trailer)
        return out
    }

    private var estimatedLength: Int {
        switch payload {
        case .arp: 14 + 28 + trailer.count
        case let .tcp(s): 14 + s.ip.headerLength + s.tcp.headerLength + s.payload.count + trailer.count
        case let .ipv4(ip, body): 14 + ip.headerLength + body.count + trailer.count
        case let .other(body): 14 + body.count
        }
    }

    /// The TCP segment, when the frame carries one.
    public var tcpSegment: TCPSegment? {
        if case let .tcp(s) = payload { return s }
        return nil
    }

    /// The ARP packet, when the frame carries one.
    public var arp: ARPPacket? {
        if case let .arp(a) = payload { return a }
        return nil
    }
}

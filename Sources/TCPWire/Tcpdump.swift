// tcpdump's dialect: segments described exactly as `tcpdump -nn -S` prints them (print-tcp.c), because
// that is what every network engineer reads. Reports, expectations and tests speak it.

extension TCPOption {
    /// The option as tcpdump prints it inside `options [...]`: `mss 1460`, `sackOK`, `TS val 1 ecr 0`,
    /// `nop`, `wscale 10`, `sack 1 {5:9}`, `tfo cookiereq`, `exp-tfo cookie 0102…`, `unknown-99 0102`.
    public var tcpdumpString: String {
        switch self {
        case .endOfList: "eol"
        case .noOperation: "nop"
        case let .maxSegmentSize(mss): "mss \(mss)"
        case let .windowScale(shift): "wscale \(shift)"
        case .sackPermitted: "sackOK"
        case let .sack(blocks): "sack \(blocks.count) " + blocks.map { "{\($0.left):\($0.right)}" }.joined()
        case let .timestamps(value, echo): "TS val \(value) ecr \(echo)"
        case let .fastOpen(cookie): "tfo" + Self.fastOpenCookieText(cookie)
        case let .fastOpenExperimental(cookie): "exp-tfo" + Self.fastOpenCookieText(cookie)
        case let .unknown(kind, data): Self.unknownName(kind) + (data.isEmpty ? "" : " " + hexString(data))
        }
    }

    private static func fastOpenCookieText(_ cookie: [UInt8]) -> String {
        if cookie.isEmpty { return " cookiereq" }
        if cookie.count % 2 != 0 || cookie.count < 4 || cookie.count > 16 { return " invalid" }
        return " cookie " + hexString(cookie)
    }

    /// tcpdump names a few kinds we keep raw (md5, mptcp…); the rest are `unknown-<kind>`.
    private static func unknownName(_ kind: UInt8) -> String {
        switch kind {
        case 6: "echo"
        case 7: "echoreply"
        case 11: "cc"
        case 12: "ccnew"
        case 19: "md5"
        case 20: "scps"
        case 28: "uto"
        case 29: "tcp-ao"
        case 30: "mptcp"
        case 254: "exp"
        default: "unknown-\(kind)"
        }
    }
}

extension TCPHeader {
    /// The segment described as tcpdump prints it after the addresses, e.g.
    /// `Flags [S.], seq 1665001598, ack 3166551445, win 65160, options [mss 1460,sackOK,TS val 3671336539 ecr 1772976598,nop,wscale 10], length 0`.
    /// Sequence numbers are absolute (`tcpdump -S`).
    public func tcpdumpDescription(payloadLength: Int) -> String {
        var s = "Flags [\(flags.tcpdumpString)]"
        // print-tcp.c prints seq only when the segment occupies sequence space or carries RST.
        if payloadLength > 0 {
            s += ", seq \(sequenceNumber):\(sequenceNumber + payloadLength)"
        } else if !flags.isDisjoint(with: [.syn, .fin, .rst]) {
            s += ", seq \(sequenceNumber)"
        }
        if flags.contains(.ack) { s += ", ack \(acknowledgmentNumber)" }
        s += ", win \(window)"
        if flags.contains(.urg) { s += ", urg \(urgentPointer)" }
        if !options.isEmpty {
            var printed: [String] = []
            for option in options {
                printed.append(option.tcpdumpString)
                if case .endOfList = option { break }  // tcpdump stops at EOL
            }
            s += ", options [\(printed.joined(separator: ","))]"
        }
        s += ", length \(payloadLength)"
        return s
    }
}

extension TCPSegment {
    /// `Flags [...], seq ..., length N`: the part of tcpdump's line after the addresses.
    public var tcpdumpDescription: String { tcp.tcpdumpDescription(payloadLength: payload.count) }

    /// `IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [S], ...`: tcpdump's whole line without the time.
    public var tcpdumpLine: String {
        "IP \(ip.source).\(tcp.sourcePort) > \(ip.destination).\(tcp.destinationPort): \(tcpdumpDescription)"
    }
}

extension ARPPacket {
    /// `ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28` (tcpdump -nn).
    public var tcpdumpLine: String {
        switch operation {
        case .request: "ARP, Request who-has \(targetIP) tell \(senderIP), length \(ARPPacket.length)"
        case .reply: "ARP, Reply \(senderIP) is-at \(senderMAC), length \(ARPPacket.length)"
        }
    }
}

extension Frame {
    /// tcpdump's line for the frame without the timestamp (`tcpdump -nn -S`).
    public var tcpdumpLine: String {
        switch payload {
        case let .tcp(segment): segment.tcpdumpLine
        case let .arp(arp): arp.tcpdumpLine
        case let .ipv4(ip, body): "IP \(ip.source) > \(ip.destination): ip-proto-\(ip.proto.rawValue) \(body.count)"
        case let .other(body): "ethertype \(ethernet.etherType) (0x\(String(ethernet.etherType.rawValue, radix: 16))), length \(14 + body.count)"
        }
    }
}

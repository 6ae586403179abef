// tcpdump's dialect: segments described exactly as `tcpdump -nn -S` prints them (print-tcp.c), because
// that is what every network engineer reads. Reports, expectations and tests speak it.

extension TCPOption {
    /// The option as tcpdump 4.99 prints it inside `options [...]`: `mss 1460`, `sackOK`, `TS val 1 ecr 0`,
    /// `nop`, `wscale 10`, `sack 1 {5:9}`, `tfo  cookiereq`, `exp-tfo cookie 0102…`, `unknown-99 0x0102`.
    ///
    /// Two things are not reproduced: MPTCP (tcpdump dissects it; here it is `mptcp 0x…`), and a
    /// fixed-size kind at another size (an MSS of 3 bytes), where tcpdump reads the fixed size whatever
    /// the length byte says and loses step with the options after it; here it is `mss 0x05[len 3]`.
    public var tcpdumpString: String {
        switch self {
        case .endOfList: "eol"
        case .noOperation: "nop"
        case let .maxSegmentSize(mss): "mss \(mss)"
        case let .windowScale(shift): "wscale \(shift)"
        case .sackPermitted: "sackOK"
        case let .sack(blocks): "sack \(blocks.count) " + blocks.map { "{\($0.left):\($0.right)}" }.joined()
        case let .timestamps(value, echo): "TS val \(value) ecr \(echo)"
        // print-tcp.c prints a space before kind 34's cookie text, which has a space of its own.
        case let .fastOpen(cookie): "tfo " + Self.fastOpenCookieText(cookie)
        case let .fastOpenExperimental(cookie): "exp-tfo" + Self.fastOpenCookieText(cookie)
        case let .unknown(kind, data): Self.uninterpretedText(kind: kind, data: data)
        }
    }

    private static func fastOpenCookieText(_ cookie: [UInt8]) -> String {
        if cookie.isEmpty { return " cookiereq" }
        if cookie.count % 2 != 0 || cookie.count < 4 || cookie.count > 16 { return " (invalid)" }
        return " cookie " + hexString(cookie)
    }

    /// Options TCPLab keeps raw, printed by print-tcp.c's case for their kind.
    private static func uninterpretedText(kind: UInt8, data: [UInt8]) -> String {
        let name = optionName(kind)
        func u16(_ i: Int) -> UInt16 { UInt16(data[i]) << 8 | UInt16(data[i + 1]) }
        switch (kind, data.count) {
        case (5, 0): return "sack 0 "  // a block count, then no blocks
        case let (5, n) where n % 8 != 0: return "sack invalid sack"
        case (6, 4), (7, 4), (11, 4), (12, 4), (13, 4):
            return name + " \(UInt32(u16(0)) << 16 | UInt32(u16(2)))"
        case (19, 16):
            // What Debian's tcpdump (built with libcrypto) says without `-M secret`.
            return name + " shared secret not supplied with -M, can't check - " + hexString(data)
        case (20, 2): return name + " cap " + hex2(data[0]) + " id \(data[1])"
        case (28, 2):
            // RFC 5482: the low bit says minutes (1) or seconds (0).
            let raw = u16(0)
            return name + " 0x" + String(raw, radix: 16) + " \(raw & 1 == 1 ? (raw >> 1) * 60 : raw >> 1)"
        case (29, 0..<2): return name + " (invalid)"
        case (29, _):
            let mac = data.count > 2 ? " mac 0x" + hexString(data[2...]) : ""
            return name + " keyid \(data[0]) rnextkeyid \(data[1])" + mac
        case (254, 2...):
            // RFC 6994: an experiment id tcpdump does not know is printed alone, without the data after it.
            return name + "-" + hex2(data[0]) + hex2(data[1])
        default:
            let fixedSize: Int? = switch kind {
            case 2, 20, 28: 4
            case 3: 3
            case 4: 2
            case 6, 7, 11, 12, 13: 6
            case 8: 10
            case 19: 18
            default: nil
            }
            let hex = data.isEmpty ? "" : " 0x" + hexString(data)
            return name + hex + (fixedSize.map { $0 != 2 + data.count ? "[len \(2 + data.count)]" : "" } ?? "")
        }
    }

    /// print-tcp.c's `tcp_option_values`; kind 13 (CC.ECHO) really has an empty name there.
    private static func optionName(_ kind: UInt8) -> String {
        switch kind {
        case 0: "eol"
        case 1: "nop"
        case 2: "mss"
        case 3: "wscale"
        case 4: "sackOK"
        case 5: "sack"
        case 6: "echo"
        case 7: "echoreply"
        case 8: "TS"
        case 11: "cc"
        case 12: "ccnew"
        case 13: ""
        case 19: "md5"
        case 20: "scps"
        case 28: "uto"
        case 29: "tcp-ao"
        case 30: "mptcp"
        case 34: "tfo"
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
    /// `Flags [...], seq ..., length N`: the part of tcpdump's line after the addresses, with what
    /// tcpdump's HTTP printer adds on ports 80 and 8080 (`length 5: HTTP`).
    public var tcpdumpDescription: String { tcp.tcpdumpDescription(payloadLength: payload.count) + tcpdumpApplicationSuffix }

    /// `IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [S], ...`: tcpdump's whole line without the time.
    public var tcpdumpLine: String {
        "IP \(ip.source).\(tcp.sourcePort) > \(ip.destination).\(tcp.destinationPort): \(tcpdumpDescription)"
    }
}

extension ARPPacket {
    /// `ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28` (tcpdump -nn), for an unpadded packet.
    public var tcpdumpLine: String { tcpdumpLine(length: Self.length) }

    /// - Parameter length: what tcpdump calls the ARP packet's length: everything after the Ethernet
    ///   header, padding included (46 for a minimum-size frame).
    func tcpdumpLine(length: Int) -> String {
        switch operation {
        case .request:
            // print-arp.c names the target's MAC when a request carries one (unicast probes do).
            let known = targetMAC == .zero ? "" : " (\(targetMAC))"
            return "ARP, Request who-has \(targetIP)\(known) tell \(senderIP), length \(length)"
        case .reply:
            return "ARP, Reply \(senderIP) is-at \(senderMAC), length \(length)"
        }
    }
}

extension Frame {
    /// tcpdump's line for the frame without the timestamp (`tcpdump -nn -S`). Exact for TCP and ARP; other
    /// IPv4 protocols and EtherTypes get a one-line summary in tcpdump's style, where tcpdump itself would
    /// decode UDP, ICMP, fragments and the rest further.
    public var tcpdumpLine: String {
        switch payload {
        case let .tcp(segment): segment.tcpdumpLine
        case let .arp(arp): arp.tcpdumpLine(length: ARPPacket.length + trailer.count)
        case let .ipv4(ip, body): "IP \(ip.source) > \(ip.destination): ip-proto-\(ip.proto.rawValue) \(body.count)"
        case let .other(body): "ethertype \(ethernet.etherType) (0x\(String(ethernet.etherType.rawValue, radix: 16))), length \(14 + body.count)"
        }
    }
}

import TCPWire

/// Random frames for property tests, in three flavours.
///
/// - `exact`: anything the parser must hand back unchanged: all twelve flag bits, arbitrary IPv4 option
///   bytes, known option kinds at sizes the kernel does not interpret (kept as `.unknown`), random bytes
///   after EOL, fragments of TCP packets.
/// - `printable`: frames whose every oddity tcpdump defines, to hold `tcpdumpLine` against it: well-formed
///   IPv4 options, zero padding after EOL, ports no tcpdump printer claims but HTTP's, window scale at most
///   14. Still varied: every flag combination, SACK, TFO and its experimental form, unknown kinds, cookies
///   of invalid length, near-HTTP text, Ethernet padding.
/// - `plausible`: what a TCP stack could send, which tshark must read without a word: MSS on every SYN
///   and nowhere else, no ACK number without ACK nor urgent pointer without URG, never four NOPs in a
///   row, real HTTP on ports 80 and 8080, one MAC per IPv4 address.
///
/// Every frame comes back with the fields `Frame.serialize()` computes (IPv4 total length, both checksums)
/// already filled in, so `Frame.parse(frame.serialize()) == frame` is the whole round-trip property.
struct FrameGenerator {
    enum Flavour { case exact, printable, plausible }

    var rng: SplitMix64
    let flavour: Flavour

    init(seed: UInt64, flavour: Flavour) {
        rng = SplitMix64(seed: seed)
        self.flavour = flavour
    }

    // MARK: - TCP options

    /// Option kinds neither tcpdump nor Wireshark give a meaning to, printed by both as raw bytes.
    static let uninterpretedKinds: [UInt8] = Array(40...68) + Array(70...171) + Array(175...252)

    /// Whether the parser turns `kind` with these bytes after the length into a named case
    /// (RFC 9293, 7323, 2018, 7413, 6994 sizes) rather than `.unknown`.
    static func isInterpreted(kind: UInt8, data: [UInt8]) -> Bool {
        switch (kind, data.count) {
        case (0, _), (1, _), (2, 2), (3, 1), (4, 0), (8, 8), (34, _): true
        case let (5, n): n > 0 && n % 8 == 0
        case let (254, n): n >= 2 && data[0] == 0xF9 && data[1] == 0x89
        default: false
        }
    }

    /// One option of at most `room` bytes; nil when `room` is 0.
    mutating func option(room: Int) -> TCPOption? {
        guard room > 0 else { return nil }
        while true {
            let candidate: TCPOption
            switch Int.random(in: 0..<11, using: &rng) {
            case 0: candidate = .noOperation
            case 1: candidate = .maxSegmentSize(.random(in: 0 ... .max, using: &rng))
            case 2: candidate = .windowScale(flavour == .exact ? .random(in: 0 ... .max, using: &rng) : .random(in: 0...14, using: &rng))
            case 3: candidate = .sackPermitted
            case 4:
                let count = Int.random(in: 1...4, using: &rng)
                candidate = .sack((0..<count).map { _ in
                    SACKBlock(left: SequenceNumber(.random(in: 0 ... .max, using: &rng)),
                              right: SequenceNumber(.random(in: 0 ... .max, using: &rng)))
                })
            case 5: candidate = .timestamps(value: .random(in: 0 ... .max, using: &rng), echoReply: .random(in: 0 ... .max, using: &rng))
            case 6: candidate = .fastOpen(cookie: rng.bytes(cookieLength()))
            case 7: candidate = .fastOpenExperimental(cookie: rng.bytes(cookieLength()))
            case 8, 9: candidate = unknownOption()
            default: candidate = .maxSegmentSize(1460)  // the common case deserves weight
            }
            if candidate.encodedLength <= room { return candidate }
            if room == 1 || rng.chance(0.3) { return .noOperation }
        }
    }

    /// Mostly RFC 7413's valid cookie sizes (0 = request, 4...16 even), sometimes an invalid one.
    private mutating func cookieLength() -> Int {
        if rng.chance(0.2) { return [1, 2, 3, 5, 15, 17, 18].randomElement(using: &rng)! }
        return [0, 4, 6, 8, 10, 12, 14, 16].randomElement(using: &rng)!
    }

    private mutating func unknownOption() -> TCPOption {
        switch flavour {
        case .printable, .plausible:
            let kind = Self.uninterpretedKinds.randomElement(using: &rng)!
            return .unknown(kind: kind, data: rng.bytes(.random(in: 0...8, using: &rng)))
        case .exact:
            while true {
                // Half the time a known kind at a size the parser must not interpret.
                let kind: UInt8 = rng.chance(0.5)
                    ? [2, 3, 4, 5, 8, 254].randomElement(using: &rng)!
                    : .random(in: 2 ... .max, using: &rng)
                let data = rng.bytes(.random(in: 0...12, using: &rng))
                if !Self.isInterpreted(kind: kind, data: data) { return .unknown(kind: kind, data: data) }
            }
        }
    }

    /// An option list whose encoded length is a multiple of 4 and at most 40, so that the header's zero
    /// padding never shows up as an extra `.endOfList` on parse.
    mutating func options() -> [TCPOption] {
        if rng.chance(0.1) { return [] }
        if rng.chance(0.1) {
            // Linux's SYN.
            return [.maxSegmentSize(1460), .sackPermitted,
                    .timestamps(value: .random(in: 0 ... .max, using: &rng), echoReply: 0), .noOperation, .windowScale(7)]
        }
        var list: [TCPOption] = []
        var used = 0
        let target = Int.random(in: 1...40, using: &rng)
        while used < target, let option = option(room: 40 - used) {
            list.append(option)
            used += option.encodedLength
        }
        var pad = (4 - used % 4) % 4
        if pad == 0, used + 4 <= 40, rng.chance(0.2) { pad = 4 }
        guard pad > 0 else { return list }
        if rng.chance(0.5) {
            list += Array(repeating: .noOperation, count: pad)
        } else {
            // EOL, then its padding, sometimes a few more words of it.
            let extraWords = Int.random(in: 0...(40 - used - pad) / 4, using: &rng)
            let trailing = pad - 1 + 4 * extraWords
            list.append(.endOfList(trailing: flavour == .exact ? rng.bytes(trailing) : Array(repeating: 0, count: trailing)))
        }
        return list
    }

    // MARK: - Headers

    mutating func port() -> UInt16 {
        switch flavour {
        case .exact: return .random(in: 0 ... .max, using: &rng)
        case .printable, .plausible:
            // tcpdump picks application printers by port. Above 30000 none claims the data; 80 and 8080
            // are HTTP, the one printer tcpdumpLine reproduces.
            return rng.chance(0.1) ? [80, 8080].randomElement(using: &rng)! : .random(in: 30000...65000, using: &rng)
        }
    }

    static let commonFlags: [TCPFlags] = [
        .syn, .synAck, .ack, .pshAck, .finAck, .rst, .rstAck, [.syn, .ece, .cwr], [.synAck, .ece], [.ack, .ece], [.pshAck, .cwr],
        [.pshAck, .urg], [.finAck, .psh],
    ]

    mutating func flags() -> TCPFlags {
        if flavour == .plausible || rng.chance(0.3) { return Self.commonFlags.randomElement(using: &rng)! }
        return TCPFlags(rawValue: .random(in: 0...0xFFF, using: &rng))
    }

    mutating func tcpHeader() -> TCPHeader {
        let flags = flags()
        let plausible = flavour == .plausible
        return TCPHeader(
            sourcePort: port(), destinationPort: port(),
            sequenceNumber: SequenceNumber(.random(in: 0 ... .max, using: &rng)),
            acknowledgmentNumber: plausible && !flags.contains(.ack) ? SequenceNumber(0) : SequenceNumber(.random(in: 0 ... .max, using: &rng)),
            flags: flags, window: .random(in: 0 ... .max, using: &rng),
            urgentPointer: rng.chance(0.5) || plausible && !flags.contains(.urg) ? 0 : .random(in: 1 ... .max, using: &rng),
            options: TCPOptionList(plausible ? plausibleOptions(syn: flags.contains(.syn)) : options()))
    }

    /// Options as stacks lay them out: blocks that each start with at most three NOPs of padding and end
    /// in a real option, MSS first in every SYN.
    mutating func plausibleOptions(syn: Bool) -> [TCPOption] {
        func aligned(_ option: TCPOption) -> [TCPOption] {
            Array(repeating: .noOperation, count: (4 - option.encodedLength % 4) % 4) + [option]
        }
        var blocks: [[TCPOption]] = [
            aligned(.timestamps(value: .random(in: 0 ... .max, using: &rng), echoReply: .random(in: 0 ... .max, using: &rng))),
            aligned(.unknown(kind: Self.uninterpretedKinds.randomElement(using: &rng)!, data: rng.bytes(.random(in: 0...6, using: &rng)))),
        ]
        if syn {
            blocks += [
                [.sackPermitted, .timestamps(value: .random(in: 0 ... .max, using: &rng), echoReply: 0)],
                aligned(.sackPermitted),
                aligned(.windowScale(.random(in: 0...14, using: &rng))),
                aligned(.fastOpen(cookie: rng.bytes([0, 4, 6, 8, 10, 12, 14, 16].randomElement(using: &rng)!))),
                aligned(.fastOpenExperimental(cookie: rng.bytes([0, 4, 6, 8].randomElement(using: &rng)!))),
            ]
        } else {
            let blockCount = Int.random(in: 1...3, using: &rng)
            blocks.append(aligned(.sack((0..<blockCount).map { _ in
                let left = UInt32.random(in: 0 ... .max, using: &rng)
                return SACKBlock(left: SequenceNumber(left), right: SequenceNumber(left &+ .random(in: 1...65535, using: &rng)))
            })))
        }
        var list: [TCPOption] = syn ? [.maxSegmentSize(.random(in: 536...9000, using: &rng))] : []
        for block in blocks.shuffled(using: &rng) where rng.chance(0.5) && (list + block).encodedLength <= 40 {
            list += block
        }
        if list.encodedLength <= 36, rng.chance(0.1) { list.append(.endOfList(trailing: [0, 0, 0])) }
        return list
    }

    mutating func ipOptions() -> [UInt8] {
        guard rng.chance(0.2) else { return [] }
        switch flavour {
        case .exact:
            return rng.bytes(4 * Int.random(in: 1...10, using: &rng))
        case .printable, .plausible:
            return [
                flavour == .plausible ? [1, 1, 1, 0] : [1, 1, 1, 1],  // NOPs (four in a row make tshark suspect a router)
                [0, 0, 0, 0],  // EOL and padding
                [148, 4, 0, 0],  // router alert (RFC 2113)
                [7, 7, 4, 0, 0, 0, 0, 0],  // record route with one empty slot, then EOL
            ].randomElement(using: &rng)!
        }
    }

    mutating func address() -> IPv4Address {
        flavour == .exact ? IPv4Address(rawValue: .random(in: 0 ... .max, using: &rng))
            : IPv4Address(198, 18, .random(in: 0...1, using: &rng), .random(in: 1...254, using: &rng))
    }

    mutating func mac() -> MACAddress {
        // Locally administered unicast, as the lab uses.
        MACAddress(rawValue: .random(in: 0 ... .max, using: &rng) & 0xFEFF_FFFF_FFFF | 0x0200_0000_0000)
    }

    mutating func ipv4Header(proto: IPProtocol = .tcp) -> IPv4Header {
        IPv4Header(
            tos: .random(in: 0 ... .max, using: &rng),
            identification: .random(in: 0 ... .max, using: &rng),
            dontFragment: rng.chance(0.8),
            reservedFlag: flavour == .exact && rng.chance(0.1),
            ttl: rng.chance(0.5) ? 64 : .random(in: 1 ... .max, using: &rng),
            proto: proto,
            source: address(), destination: address(),
            options: ipOptions())
    }

    // MARK: - Frames

    mutating func payload(ports: [UInt16] = []) -> [UInt8] {
        if rng.chance(0.5) { return [] }
        if flavour == .printable, rng.chance(0.2) { return httpLikeText() }
        if flavour == .plausible, ports.contains(80) || ports.contains(8080) {
            return Array(["GET / HTTP/1.1\r\nHost: lab\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n", "hello"].randomElement(using: &rng)!.utf8)
        }
        if rng.chance(0.05) { return rng.bytes(1400) }
        return rng.bytes(.random(in: 1...64, using: &rng))
    }

    /// Text that is, or nearly is, an HTTP request or response line, for tcpdump's HTTP printer.
    mutating func httpLikeText() -> [UInt8] {
        let first = ["GET", "post", "HEAD", "PROPFIND", "FOO", "HTTP/1.1", "", String(repeating: "A", count: 130)]
        let second = ["/", "/index.html", "200", "404", "2000", "20x", ""]
        let end = ["\r\n", "\n", "\r", "", "\rX", "\u{7}\r\n", "\t x\r\n"]
        let text = first.randomElement(using: &rng)! + [" ", "  ", "\t"].randomElement(using: &rng)! + second.randomElement(using: &rng)!
            + end.randomElement(using: &rng)! + ["", "Host: lab\r\n\r\n"].randomElement(using: &rng)!
        return Array(text.utf8)
    }

    /// Zero bytes up to Ethernet's 60-byte minimum (sometimes), or for `exact` anything at all.
    mutating func trailer(frameLength: Int) -> [UInt8] {
        guard rng.chance(0.3) else { return [] }
        switch flavour {
        case .exact: return rng.bytes(.random(in: 1...20, using: &rng))
        case .printable, .plausible: return Array(repeating: 0, count: max(0, 60 - frameLength))
        }
    }

    mutating func tcpFrame() -> Frame {
        let tcp = tcpHeader()
        var payload = payload(ports: [tcp.sourcePort, tcp.destinationPort])
        if flavour == .plausible, tcp.flags.contains(.rst) { payload = [] }
        let segment = TCPSegment(ip: ipv4Header(), tcp: tcp, payload: payload)
        let length = 14 + segment.ip.headerLength + segment.tcp.headerLength + segment.payload.count
        let ethernet = EthernetHeader(destination: mac(), source: mac(), etherType: .ipv4)
        return Frame(ethernet: ethernet, payload: .tcp(segment), trailer: trailer(frameLength: length)).withWireFields()
    }

    mutating func arpFrame() -> Frame {
        let request = rng.chance(0.5)
        let senderIP = address(), targetIP = address()
        // Plausible hosts keep one MAC per address, or tshark reports a duplicate address.
        let senderMAC = flavour == .plausible ? MACAddress(rawValue: 0x0200_0000_0000 | UInt64(senderIP.rawValue)) : mac()
        let targetMAC = flavour == .plausible ? MACAddress(rawValue: 0x0200_0000_0000 | UInt64(targetIP.rawValue)) : mac()
        let arp = ARPPacket(
            operation: request ? .request : .reply, senderMAC: senderMAC, senderIP: senderIP,
            targetMAC: request && rng.chance(0.7) ? .zero : targetMAC, targetIP: targetIP)
        let ethernet = EthernetHeader(destination: request ? .broadcast : mac(), source: arp.senderMAC, etherType: .arp)
        return Frame(ethernet: ethernet, payload: .arp(arp), trailer: trailer(frameLength: 42))
    }

    /// IPv4 that `Frame` keeps opaque: another protocol, or a fragment of a TCP packet.
    mutating func opaqueIPv4Frame() -> Frame {
        let fragment = rng.chance(0.3)
        var ip = ipv4Header(proto: fragment ? .tcp : IPProtocol(rawValue: [1, 17, 47, 132, 253].randomElement(using: &rng)!))
        if fragment {
            ip.dontFragment = false
            ip.moreFragments = rng.chance(0.5)
            ip.fragmentOffset = ip.moreFragments ? .random(in: 0...0x1FFF, using: &rng) : .random(in: 1...0x1FFF, using: &rng)
        }
        let body = payload()
        let ethernet = EthernetHeader(destination: mac(), source: mac(), etherType: .ipv4)
        return Frame(ethernet: ethernet, payload: .ipv4(ip, payload: body),
                     trailer: trailer(frameLength: 14 + ip.headerLength + body.count)).withWireFields()
    }

    mutating func otherFrame() -> Frame {
        let type = EtherType(rawValue: [0x86DD, 0x88CC, 0x9000, 0x0842, 0x1234].randomElement(using: &rng)!)
        return Frame(ethernet: EthernetHeader(destination: mac(), source: mac(), etherType: type),
                     payload: .other(rng.bytes(.random(in: 0...80, using: &rng))))
    }

    /// Any kind of frame, mostly TCP.
    mutating func frame() -> Frame {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: arpFrame()
        case 1: flavour == .exact ? opaqueIPv4Frame() : tcpFrame()
        case 2: flavour == .exact ? otherFrame() : tcpFrame()
        default: tcpFrame()
        }
    }
}

extension Frame {
    /// The frame with the fields `serialize()` computes filled in as a parser would find them:
    /// IPv4 total length and header checksum, TCP checksum. Computed here from the RFC definitions
    /// (pseudo-header plus segment with a zero checksum field), not with `serialize()` itself.
    func withWireFields() -> Frame {
        var frame = self
        switch payload {
        case var .tcp(segment):
            segment.ip.totalLength = UInt16(segment.ip.headerLength + segment.tcp.headerLength + segment.payload.count)
            segment.ip.checksum = segment.ip.computedChecksum()
            segment.tcp.checksum = 0
            var bytes: [UInt8] = []
            segment.tcp.writeVerbatim(into: &bytes)
            bytes += segment.payload
            segment.tcp.checksum = bytes.withUnsafeBytes {
                InternetChecksum.tcp(source: segment.ip.source, destination: segment.ip.destination, segment: $0)
            }
            frame.payload = .tcp(segment)
        case .ipv4(var ip, let body):
            ip.totalLength = UInt16(ip.headerLength + body.count)
            ip.checksum = ip.computedChecksum()
            frame.payload = .ipv4(ip, payload: body)
        case .arp, .other:
            break
        }
        return frame
    }
}

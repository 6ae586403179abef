import Testing
import TCPWire

/// Parsing and serializing are exact inverses, over thousands of seeded random frames, headers and
/// option lists. A failure prints the case's bytes; the seed makes it replay.
@Suite("Round trips")
struct RoundTripTests {
    static let cases = 10_000

    @Test func framesSerializeThenParseToTheSameValue() throws {
        var generator = FrameGenerator(seed: 0xF4A3E, flavour: .exact)
        for i in 0..<Self.cases {
            let frame = generator.frame()
            let bytes = frame.serialize()
            let parsed = try Frame.parse(bytes)
            #expect(parsed == frame, "case \(i): \(hexString(bytes))")
            #expect(parsed.serialize() == bytes, "case \(i): \(hexString(bytes))")
        }
    }

    @Test func tcpHeadersRoundTripWithAnyChecksum() throws {
        var generator = FrameGenerator(seed: 0x7C9, flavour: .exact)
        for i in 0..<Self.cases {
            var header = generator.tcpHeader()
            header.checksum = .random(in: 0 ... .max, using: &generator.rng)
            let payload = generator.payload()
            var bytes: [UInt8] = []
            header.writeVerbatim(into: &bytes)
            #expect(bytes.count == header.headerLength && bytes.count == Int(header.dataOffset) * 4, "case \(i)")
            bytes += payload
            let (parsed, range) = try bytes.withUnsafeBytes { try TCPHeader.parse($0) }
            #expect(parsed == header, "case \(i): \(hexString(bytes))")
            #expect(Array(bytes[range]) == payload, "case \(i)")
            var again: [UInt8] = []
            parsed.writeVerbatim(into: &again)
            #expect(again + payload == bytes, "case \(i)")
        }
    }

    @Test func ipv4HeadersRoundTripWithAnyChecksum() throws {
        var generator = FrameGenerator(seed: 0x1F4, flavour: .exact)
        for i in 0..<Self.cases {
            var header = generator.ipv4Header(proto: IPProtocol(rawValue: .random(in: 0 ... .max, using: &generator.rng)))
            header.moreFragments = generator.rng.chance(0.2)
            header.fragmentOffset = .random(in: 0...0x1FFF, using: &generator.rng)
            header.checksum = .random(in: 0 ... .max, using: &generator.rng)
            let body = generator.payload()
            header.totalLength = UInt16(header.headerLength + body.count)
            var bytes: [UInt8] = []
            header.writeVerbatim(into: &bytes)
            bytes += body
            let (parsed, range) = try bytes.withUnsafeBytes { try IPv4Header.parse($0, verifyChecksum: false) }
            #expect(parsed == header, "case \(i): \(hexString(bytes))")
            #expect(Array(bytes[range]) == body, "case \(i)")
            var again: [UInt8] = []
            parsed.writeVerbatim(into: &again)
            #expect(again + body == bytes, "case \(i)")
        }
    }

    /// Options areas built byte by byte (any kind, any legal length, anything after EOL), not by our
    /// serializer: whatever parses must serialize back to the same bytes.
    @Test func rawOptionBytesParseThenSerializeToTheSameBytes() throws {
        var rng = SplitMix64(seed: 0x0B7)
        for i in 0..<Self.cases {
            let area = Self.randomOptionsArea(using: &rng)
            let options = try area.withUnsafeBytes { try TCPOption.parseList($0) }
            var bytes: [UInt8] = []
            for option in options { option.write(into: &bytes) }
            #expect(bytes == area, "case \(i): \(hexString(area)) parsed as \(options)")
            #expect(options.encodedLength == area.count, "case \(i)")
        }
    }

    static func randomOptionsArea(using rng: inout SplitMix64) -> [UInt8] {
        let size = 4 * Int.random(in: 0...10, using: &rng)
        var area: [UInt8] = []
        while area.count < size {
            let room = size - area.count
            let kind: UInt8 = rng.chance(0.5) ? [0, 1, 2, 3, 4, 5, 8, 34, 254].randomElement(using: &rng)! : .random(in: 0 ... .max, using: &rng)
            switch kind {
            case 0:
                area.append(0)
                area += rng.bytes(room - 1)
            case 1:
                area.append(1)
            default:
                guard room >= 2 else { area.append(1); continue }
                let length = Int.random(in: 2...min(room, 18), using: &rng)
                area += [kind, UInt8(length)]
                if kind == 254, length >= 4, rng.chance(0.5) { area += [0xF9, 0x89]; area += rng.bytes(length - 4) }
                else { area += rng.bytes(length - 2) }
            }
        }
        return area
    }

    @Test func everyFlagBitSurvives() throws {
        for bit in 0..<12 {
            let flags = TCPFlags(rawValue: 1 << bit)
            let frame = Self.segment(tcp: TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: SequenceNumber(3), flags: flags, window: 4))
            let parsed = try Frame.parse(frame.serialize())
            #expect(parsed.tcpSegment?.tcp.flags == flags, "bit \(bit)")
            #expect(parsed.tcpSegment?.tcp.flags.rawValue == 1 << bit, "bit \(bit)")
        }
        let all = TCPFlags(rawValue: 0xFFF)
        let frame = Self.segment(tcp: TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: SequenceNumber(3), flags: all, window: 4))
        let bytes = frame.serialize()
        #expect(bytes[14 + 20 + 12] == 0x5F && bytes[14 + 20 + 13] == 0xFF)  // data offset 5, then all 12 bits
        #expect(try Frame.parse(bytes).tcpSegment?.tcp.flags == all)
    }

    @Test(arguments: [ECN.notECT, .ect1, .ect0, .ce])
    func ecnAndDSCPSurvive(ecn: ECN) throws {
        var ip = IPv4Header(tos: 0xB8, source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 0, 2))  // DSCP EF
        ip.ecn = ecn
        #expect(ip.dscp == 46)
        let parsed = try #require(try Frame.parse(Self.segment(ip: ip).serialize()).tcpSegment)
        #expect(parsed.ip.ecn == ecn)
        #expect(parsed.ip.dscp == 46)
        #expect(parsed.ip.tos == 0xB8 | ecn.rawValue)
    }

    @Test(arguments: [(true, UInt8(64), UInt16(0)), (false, 1, 0xFFFF), (true, 255, 0x1234), (false, 0, 1)])
    func dontFragmentTTLAndIdentificationSurvive(df: Bool, ttl: UInt8, id: UInt16) throws {
        let ip = IPv4Header(identification: id, dontFragment: df, ttl: ttl, source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 0, 2))
        let bytes = Self.segment(ip: ip).serialize()
        #expect(bytes[14 + 6] == (df ? 0x40 : 0x00))
        #expect(bytes[14 + 8] == ttl)
        let parsed = try #require(try Frame.parse(bytes).tcpSegment)
        #expect(parsed.ip.dontFragment == df && parsed.ip.ttl == ttl && parsed.ip.identification == id)
    }

    @Test(arguments: [[UInt8](), [1, 1, 1, 1], [148, 4, 0, 0], Array(repeating: 0xA5, count: 40)])
    func ipv4OptionsSurvive(options: [UInt8]) throws {
        let ip = IPv4Header(source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 0, 2), options: options)
        let bytes = Self.segment(ip: ip).serialize()
        #expect(bytes[14] == 0x40 | UInt8(5 + options.count / 4))
        let parsed = try #require(try Frame.parse(bytes).tcpSegment)
        #expect(parsed.ip.options == options)
        #expect(parsed.ip.headerLength == 20 + options.count)
    }

    @Test(arguments: [
        // (options, their bytes)
        ([TCPOption.fastOpen(cookie: [])], [34, 2, 1, 1]),
        ([.fastOpen(cookie: [1, 2, 3, 4]), .noOperation, .noOperation], [34, 6, 1, 2, 3, 4, 1, 1]),
        ([.fastOpen(cookie: Array(1...16)), .noOperation, .noOperation], [34, 18] + Array(1...16) + [1, 1]),
        ([.fastOpenExperimental(cookie: [])], [254, 4, 0xF9, 0x89]),
        ([.fastOpenExperimental(cookie: Array(1...8))], [254, 12, 0xF9, 0x89] + Array(1...8)),
        ([.unknown(kind: 254, data: [0x12, 0x34, 0x56, 0x78])], [254, 6, 0x12, 0x34, 0x56, 0x78, 1, 1]),
        ([.unknown(kind: 99, data: [0xDE, 0xAD])], [99, 4, 0xDE, 0xAD]),
        ([.unknown(kind: 2, data: [5, 0xB4, 0])], [2, 5, 5, 0xB4, 0, 1, 1, 1]),  // MSS of the wrong size
        ([.unknown(kind: 5, data: [])], [5, 2, 1, 1]),  // SACK with no blocks
        ([.sack([SACKBlock(left: SequenceNumber(1), right: SequenceNumber(2)), SACKBlock(left: SequenceNumber(0xFFFF_FFFF), right: SequenceNumber(7))]), .noOperation, .noOperation],
         [5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 7, 1, 1]),
        ([.timestamps(value: 0x0102_0304, echoReply: 0xFFFF_FFFF), .endOfList(trailing: [0])], [8, 10, 1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0]),
        ([.maxSegmentSize(1460), .windowScale(14), .endOfList], [2, 4, 0x05, 0xB4, 3, 3, 14, 0]),
    ])
    func optionsHaveTheirRFCEncoding(options: [TCPOption], encoding: [UInt8]) throws {
        var options = options
        // Cases whose bytes end in NOP padding leave it out of the option list; add it back.
        if encoding.count > options.encodedLength {
            options += Array(repeating: .noOperation, count: encoding.count - options.encodedLength)
        }
        var bytes: [UInt8] = []
        for option in options { option.write(into: &bytes) }
        #expect(bytes == encoding)
        #expect(try encoding.withUnsafeBytes { try TCPOption.parseList($0) } == options)
    }

    @Test func headerPadsOptionsWithZeroBytesThatParseAsEndOfList() throws {
        let header = TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: SequenceNumber(3), flags: .syn, window: 4,
                               options: [.maxSegmentSize(1460), .windowScale(7)])
        #expect(header.headerLength == 28 && header.dataOffset == 7)
        var bytes: [UInt8] = []
        header.writeVerbatim(into: &bytes)
        #expect(Array(bytes[20...]) == [2, 4, 0x05, 0xB4, 3, 3, 7, 0])
        let parsed = try bytes.withUnsafeBytes { try TCPHeader.parse($0) }.header
        #expect(parsed.options == [.maxSegmentSize(1460), .windowScale(7), .endOfList])
    }

    /// The generator must actually produce what the issue lists, or the properties above prove little.
    @Test func generatorCoversTheInterestingCases() {
        var generator = FrameGenerator(seed: 0xF4A3E, flavour: .exact)
        var flagBits = Set<Int>(), ecn = Set<UInt8>(), optionKinds = Set<String>()
        var tfoCookieLengths = Set<Int>(), sackBlockCounts = Set<Int>()
        var dfBoth = Set<Bool>(), ipOptions = 0, trailers = 0, payloads = 0, arp = 0, opaque = 0, other = 0
        for _ in 0..<Self.cases {
            let frame = generator.frame()
            if !frame.trailer.isEmpty { trailers += 1 }
            switch frame.payload {
            case .arp: arp += 1
            case .ipv4: opaque += 1
            case .other: other += 1
            case let .tcp(segment):
                for bit in 0..<12 where segment.tcp.flags.rawValue & 1 << bit != 0 { flagBits.insert(bit) }
                ecn.insert(segment.ip.ecn.rawValue)
                dfBoth.insert(segment.ip.dontFragment)
                if !segment.ip.options.isEmpty { ipOptions += 1 }
                if !segment.payload.isEmpty { payloads += 1 }
                for option in segment.tcp.options {
                    switch option {
                    case .endOfList(let trailing): optionKinds.insert(trailing.isEmpty ? "eol" : "eol+trailing")
                    case .noOperation: optionKinds.insert("nop")
                    case .maxSegmentSize: optionKinds.insert("mss")
                    case .windowScale: optionKinds.insert("wscale")
                    case .sackPermitted: optionKinds.insert("sackOK")
                    case let .sack(blocks): optionKinds.insert("sack"); sackBlockCounts.insert(blocks.count)
                    case .timestamps: optionKinds.insert("ts")
                    case let .fastOpen(cookie): optionKinds.insert("tfo"); tfoCookieLengths.insert(cookie.count)
                    case .fastOpenExperimental: optionKinds.insert("exp-tfo")
                    case let .unknown(kind, _): optionKinds.insert([2, 3, 4, 5, 8, 254].contains(kind) ? "known-kind-odd-size" : "unknown")
                    }
                }
            }
        }
        #expect(flagBits == Set(0..<12))
        #expect(ecn == [0, 1, 2, 3])
        #expect(dfBoth == [true, false])
        #expect(optionKinds == ["eol", "eol+trailing", "nop", "mss", "wscale", "sackOK", "sack", "ts", "tfo", "exp-tfo", "unknown", "known-kind-odd-size"])
        #expect(tfoCookieLengths.isSuperset(of: [0, 4, 16]))
        #expect(sackBlockCounts == [1, 2, 3, 4])
        #expect(ipOptions > 100 && trailers > 100 && payloads > 100 && arp > 100 && opaque > 100 && other > 100)
    }

    static func segment(ip: IPv4Header = IPv4Header(source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 0, 2)),
                        tcp: TCPHeader = TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(1), flags: .syn, window: 64240)) -> Frame {
        Frame(ethernet: EthernetHeader(destination: MACAddress(2, 0, 0, 0, 0, 2), source: MACAddress(2, 0, 0, 0, 0, 1), etherType: .ipv4),
              payload: .tcp(TCPSegment(ip: ip, tcp: tcp)))
    }
}

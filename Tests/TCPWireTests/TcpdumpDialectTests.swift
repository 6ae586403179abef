import Foundation
import Testing
import TCPWire

/// `tcpdumpLine` is checked against the real tcpdump (`-nn -S`), which is the definition of the dialect:
/// the frames go into a pcap file, tcpdump reads it, and every line must match ours.
@Suite("tcpdump dialect")
struct TcpdumpDialectTests {
    static let client = IPv4Address(198, 18, 0, 1), server = IPv4Address(198, 18, 0, 2)

    static func tcp(_ flags: TCPFlags, seq: UInt32 = 1000, ack: UInt32 = 0, window: UInt16 = 64240, urgent: UInt16 = 0,
                    options: [TCPOption] = [], payload: [UInt8] = [], trailer: [UInt8] = [],
                    ports: (UInt16, UInt16) = (40000, 40001)) -> Frame {
        Frame(ethernet: EthernetHeader(destination: MACAddress(2, 0, 0, 0, 0, 2), source: MACAddress(2, 0, 0, 0, 0, 1), etherType: .ipv4),
              payload: .tcp(TCPSegment(
                  ip: IPv4Header(source: client, destination: server),
                  tcp: TCPHeader(sourcePort: ports.0, destinationPort: ports.1, sequenceNumber: SequenceNumber(seq),
                                 acknowledgmentNumber: SequenceNumber(ack), flags: flags, window: window, urgentPointer: urgent,
                                 options: TCPOptionList(options)),
                  payload: payload)),
              trailer: trailer)
    }

    static func arp(_ operation: ARPPacket.Operation, targetMAC: MACAddress = .zero, trailer: [UInt8] = []) -> Frame {
        let sender = MACAddress(2, 0, 0, 0, 0, 1)
        return Frame(ethernet: EthernetHeader(destination: .broadcast, source: sender, etherType: .arp),
                     payload: .arp(ARPPacket(operation: operation, senderMAC: sender, senderIP: client, targetMAC: targetMAC, targetIP: server)),
                     trailer: trailer)
    }

    struct NamedFrame {
        var name: String
        var frame: Frame
        init(_ name: String, _ frame: Frame) {
            self.name = name
            self.frame = frame
        }
    }

    static func blocks(_ edges: (UInt32, UInt32)...) -> [SACKBlock] {
        edges.map { SACKBlock(left: SequenceNumber($0.0), right: SequenceNumber($0.1)) }
    }

    /// Cases worth naming, each a corner of print-tcp.c or print-arp.c.
    static let namedCases: [NamedFrame] = {
        var cases: [NamedFrame] = []
        func add(_ name: String, _ frame: Frame) { cases.append(NamedFrame(name, frame)) }
        add("SYN", tcp(.syn, options: [.maxSegmentSize(1460), .sackPermitted, .timestamps(value: 1, echoReply: 0), .noOperation, .windowScale(7)]))
        add("SYN-ACK", tcp(.synAck, seq: 7, ack: 1001, window: 65160, options: [.maxSegmentSize(1460), .noOperation, .noOperation, .sackPermitted]))
        add("ACK without options", tcp(.ack, seq: 1001, ack: 8))
        add("ECN setup SYN", tcp([.syn, .ece, .cwr]))
        add("ECN setup SYN-ACK", tcp([.synAck, .ece], ack: 1))
        add("no flags", tcp([]))
        add("every classic flag", tcp(TCPFlags(rawValue: 0xFF), ack: 5, urgent: 3))
        add("AE bit", tcp([.ack, .ae], ack: 5))
        add("reserved bits", tcp(TCPFlags(rawValue: 0xE10), ack: 5))
        add("URG with pointer", tcp([.ack, .urg, .psh], ack: 5, urgent: 2, payload: [1, 2, 3]))
        add("pointer without URG", tcp(.ack, ack: 5, urgent: 99))
        add("data", tcp(.pshAck, ack: 5, payload: Array("hello".utf8)))
        add("data across the wrap", tcp(.pshAck, seq: 0xFFFF_FFFE, ack: 5, payload: [1, 2, 3, 4]))
        add("FIN", tcp(.finAck, ack: 5))
        add("RST", tcp(.rst, ack: 0, window: 0))
        add("RST-ACK", tcp(.rstAck, seq: 0, ack: 1001, window: 0))
        add("RST with data", tcp(.rst, payload: Array("reset reason".utf8)))
        add("SYN with data", tcp(.syn, options: [.fastOpen(cookie: [1, 2, 3, 4, 5, 6, 7, 8]), .noOperation, .noOperation], payload: [9, 9]))
        add("SACK", tcp(.ack, ack: 100, options: [.noOperation, .noOperation, .sack(blocks((200, 300)))]))
        add("SACK of 4 blocks", tcp(.ack, ack: 100, options: [.noOperation, .noOperation, .sack(blocks((200, 250), (300, 350), (400, 450), (500, 550)))]))
        add("SACK below ack", tcp(.ack, ack: 5000, options: [.noOperation, .noOperation, .sack(blocks((10, 20)))]))
        add("SACK with no blocks", tcp(.ack, ack: 5, options: [.unknown(kind: 5, data: []), .noOperation, .noOperation]))
        add("SACK of odd size", tcp(.ack, ack: 5, options: [.unknown(kind: 5, data: [1, 2, 3, 4]), .noOperation, .noOperation]))
        add("TFO cookie request", tcp(.syn, options: [.fastOpen(cookie: []), .noOperation, .noOperation]))
        add("TFO cookie", tcp(.synAck, ack: 1, options: [.fastOpen(cookie: Array(1...8)), .noOperation, .noOperation]))
        add("TFO 16-byte cookie", tcp(.syn, options: [.fastOpen(cookie: Array(1...16)), .noOperation, .noOperation]))
        add("TFO invalid cookie", tcp(.syn, options: [.fastOpen(cookie: [1, 2, 3]), .noOperation, .noOperation, .noOperation]))
        add("experimental TFO request", tcp(.syn, options: [.fastOpenExperimental(cookie: [])]))
        add("experimental TFO cookie", tcp(.syn, options: [.fastOpenExperimental(cookie: [0xAA, 0xBB, 0xCC, 0xDD])]))
        add("experiment with another id", tcp(.syn, options: [.unknown(kind: 254, data: [0x12, 0x34])]))
        add("experiment with another id and data", tcp(.syn, options: [.unknown(kind: 254, data: [0x12, 0x34, 0x56, 0x78]), .noOperation, .noOperation]))
        add("unknown kind", tcp(.ack, ack: 5, options: [.unknown(kind: 99, data: [0xDE, 0xAD])]))
        add("unknown kind, no data", tcp(.ack, ack: 5, options: [.unknown(kind: 200, data: []), .noOperation, .noOperation]))
        add("echo", tcp(.ack, ack: 5, options: [.unknown(kind: 6, data: [0, 0, 1, 0]), .noOperation, .noOperation]))
        add("echo reply", tcp(.ack, ack: 5, options: [.unknown(kind: 7, data: [0xFF, 0, 1, 0]), .noOperation, .noOperation]))
        add("cc", tcp(.ack, ack: 5, options: [.unknown(kind: 11, data: [0, 0, 1, 0]), .noOperation, .noOperation]))
        add("ccnew", tcp(.ack, ack: 5, options: [.unknown(kind: 12, data: [0, 0, 1, 0]), .noOperation, .noOperation]))
        add("ccecho", tcp(.ack, ack: 5, options: [.unknown(kind: 13, data: [0, 0, 1, 0]), .noOperation, .noOperation]))
        add("md5", tcp(.ack, ack: 5, options: [.unknown(kind: 19, data: Array(1...16)), .noOperation, .noOperation]))
        add("scps", tcp(.ack, ack: 5, options: [.unknown(kind: 20, data: [0xAB, 7])]))
        add("uto minutes", tcp(.ack, ack: 5, options: [.unknown(kind: 28, data: [0x00, 0x0B])]))
        add("uto seconds", tcp(.ack, ack: 5, options: [.unknown(kind: 28, data: [0x01, 0x2C])]))
        add("tcp-ao", tcp(.ack, ack: 5, options: [.unknown(kind: 29, data: [1, 2, 0xAA, 0xBB, 0xCC, 0xDD]), .noOperation, .noOperation]))
        add("tcp-ao short", tcp(.ack, ack: 5, options: [.unknown(kind: 29, data: [1, 2])]))
        add("tcp-ao invalid", tcp(.ack, ack: 5, options: [.unknown(kind: 29, data: [1]), .noOperation]))
        add("exp-tfo invalid", tcp(.syn, options: [.fastOpenExperimental(cookie: [1, 2, 3]), .noOperation]))
        add("EOL ends the list", tcp(.ack, ack: 5, options: [.maxSegmentSize(536), .endOfList(trailing: [0, 0, 0])]))
        add("EOL first", tcp(.ack, ack: 5, options: [.endOfList(trailing: [0, 0, 0])]))
        add("window scale 14", tcp(.syn, options: [.windowScale(14), .noOperation]))
        add("Ethernet padding", tcp(.ack, ack: 5, trailer: [0, 0, 0, 0, 0, 0]))
        add("HTTP port, no data", tcp(.synAck, ack: 1, ports: (80, 40000)))
        add("HTTP port, not HTTP", tcp(.pshAck, ack: 1, payload: Array("hello".utf8), ports: (40000, 8080)))
        add("HTTP port, binary", tcp(.pshAck, ack: 1, payload: [0, 1, 2, 0xFF], ports: (80, 40000)))
        add("HTTP request", tcp(.pshAck, ack: 1, payload: Array("GET /index.html HTTP/1.1\r\nHost: lab\r\n\r\n".utf8), ports: (40000, 80)))
        add("HTTP request, lowercase, LF", tcp(.pshAck, ack: 1, payload: Array("post  /form HTTP/1.0\nx".utf8), ports: (40000, 80)))
        add("HTTP request cut short", tcp(.pshAck, ack: 1, payload: Array("OPTIONS * HTTP/1.1".utf8), ports: (40000, 8080)))
        add("HTTP request with a bare CR", tcp(.pshAck, ack: 1, payload: Array("GET /\rx\r\n".utf8), ports: (40000, 80)))
        add("HTTP request with a tab", tcp(.pshAck, ack: 1, payload: Array("GET\t/ HTTP/1.1\r\n".utf8), ports: (40000, 80)))
        add("HTTP request, binary after the method", tcp(.pshAck, ack: 1, payload: Array("GET /\u{1}\r\n".utf8), ports: (40000, 80)))
        add("HTTP response", tcp(.pshAck, ack: 1, payload: Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8), ports: (8080, 40000)))
        add("HTTP-like, four-digit status", tcp(.pshAck, ack: 1, payload: Array("HTTP/1.1 2000 OK\r\n".utf8), ports: (8080, 40000)))
        add("HTTP method as a 128-byte token", tcp(.pshAck, ack: 1, payload: Array((String(repeating: "A", count: 128) + " 200\r\n").utf8), ports: (80, 40000)))
        add("HTTP method as a 129-byte token", tcp(.pshAck, ack: 1, payload: Array((String(repeating: "A", count: 129) + " 200\r\n").utf8), ports: (80, 40000)))
        add("ARP request", arp(.request))
        add("ARP request, padded", arp(.request, trailer: Array(repeating: 0, count: 18)))
        add("ARP request with a target MAC", arp(.request, targetMAC: MACAddress(2, 0, 0, 0, 0, 2)))
        add("ARP reply", arp(.reply, targetMAC: MACAddress(2, 0, 0, 0, 0, 1)))
        add("ARP reply, padded", arp(.reply, targetMAC: MACAddress(2, 0, 0, 0, 0, 1), trailer: Array(repeating: 0, count: 18)))
        return cases
    }()

    @Test func namedCornersMatchTcpdump() throws {
        let bytes = Self.namedCases.map { $0.frame.serialize() }
        let ours = try bytes.map { try Frame.parse($0).tcpdumpLine }
        let theirs = try Self.tcpdump(bytes)
        try #require(theirs.count == ours.count, "tcpdump printed \(theirs.count) lines for \(ours.count) frames:\n\(theirs.joined(separator: "\n"))")
        for (i, named) in Self.namedCases.enumerated() {
            #expect(ours[i] == theirs[i], "\(named.name):\n  ours:    \(ours[i])\n  tcpdump: \(theirs[i])")
        }
    }

    /// Where `tcpdumpLine` knowingly parts from tcpdump (see `TCPOption.tcpdumpString`). Recorded as known
    /// issues so that the day they match, this test says so.
    @Test func knownDivergences() throws {
        let cases = [
            NamedFrame("MPTCP", Self.tcp(.syn, options: [.unknown(kind: 30, data: [0x00, 0x81, 1, 2, 3, 4, 5, 6, 7, 8]), .noOperation, .noOperation])),
            NamedFrame("MSS of 3 bytes", Self.tcp(.syn, options: [.unknown(kind: 2, data: [5]), .noOperation, .maxSegmentSize(1460)])),
            NamedFrame("MSS of 6 bytes", Self.tcp(.syn, options: [.unknown(kind: 2, data: [5, 0xB4, 1, 1]), .maxSegmentSize(1460)])),
        ]
        let bytes = cases.map { $0.frame.serialize() }
        let theirs = try Self.tcpdump(bytes)
        try #require(theirs.count == cases.count)
        for (i, named) in cases.enumerated() {
            let ours = try Frame.parse(bytes[i]).tcpdumpLine
            withKnownIssue("\(named.name): not reproduced, see TCPOption.tcpdumpString") {
                #expect(ours == theirs[i], "\(named.name):\n  ours:    \(ours)\n  tcpdump: \(theirs[i])")
            }
        }
    }

    @Test(arguments: [FrameGenerator.Flavour.printable, .plausible])
    func randomFramesMatchTcpdump(flavour: FrameGenerator.Flavour) throws {
        var generator = FrameGenerator(seed: 0x7CD, flavour: flavour)
        let frames = (0..<2_000).map { _ in generator.frame() }
        let bytes = frames.map { $0.serialize() }
        let theirs = try Self.tcpdump(bytes)
        try #require(theirs.count == frames.count)
        var mismatches = 0
        for (i, frame) in frames.enumerated() {
            // The generator pads option lists itself, so the frame is what a parser finds.
            #expect(try Frame.parse(bytes[i]) == frame, "frame \(i)")
            guard frame.tcpdumpLine != theirs[i] else { continue }
            mismatches += 1
            if mismatches <= 10 {
                Issue.record("frame \(i): \(hexString(bytes[i]))\n  ours:    \(frame.tcpdumpLine)\n  tcpdump: \(theirs[i])")
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(frames.count) lines differ")
    }

    /// Runs tcpdump over `frames` written to a temporary pcap file.
    static func tcpdump(_ frames: [[UInt8]]) throws -> [String] {
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("dialect.pcap")
        try ExternalTools.writePcap(frames, to: file)
        return try ExternalTools.tcpdumpLines(file)
    }

    // MARK: Without tcpdump

    /// A few lines spelled out, each once checked against tcpdump by the tests above, for readers and
    /// for machines without tcpdump.
    @Test func optionsReadAsTcpdumpPrintsThem() {
        #expect(TCPOption.fastOpen(cookie: []).tcpdumpString == "tfo  cookiereq")  // two spaces, as print-tcp.c has it
        #expect(TCPOption.fastOpen(cookie: [1, 2, 3, 4]).tcpdumpString == "tfo  cookie 01020304")
        #expect(TCPOption.fastOpen(cookie: [1, 2, 3]).tcpdumpString == "tfo  (invalid)")
        #expect(TCPOption.fastOpenExperimental(cookie: []).tcpdumpString == "exp-tfo cookiereq")
        #expect(TCPOption.fastOpenExperimental(cookie: [0xAA, 0xBB, 0xCC, 0xDD]).tcpdumpString == "exp-tfo cookie aabbccdd")
        #expect(TCPOption.sack(Self.blocks((200, 300), (400, 500))).tcpdumpString == "sack 2 {200:300}{400:500}")
        #expect(TCPOption.unknown(kind: 5, data: []).tcpdumpString == "sack 0 ")
        #expect(TCPOption.unknown(kind: 99, data: [0xDE, 0xAD]).tcpdumpString == "unknown-99 0xdead")
        #expect(TCPOption.unknown(kind: 200, data: []).tcpdumpString == "unknown-200")
        #expect(TCPOption.unknown(kind: 254, data: [0x12, 0x34, 0x56, 0x78]).tcpdumpString == "exp-1234")
        #expect(TCPOption.unknown(kind: 28, data: [0x00, 0x0B]).tcpdumpString == "uto 0xb 300")
        #expect(TCPOption.timestamps(value: 1, echoReply: 0).tcpdumpString == "TS val 1 ecr 0")
        #expect(TCPOption.endOfList(trailing: [0, 0]).tcpdumpString == "eol")
    }

    @Test func linesReadAsTcpdumpPrintsThem() throws {
        let syn = try #require(Self.tcp([.syn, .ece, .cwr], options: [.maxSegmentSize(1460), .endOfList(trailing: [0, 0, 0])]).tcpSegment)
        #expect(syn.tcpdumpLine == "IP 198.18.0.1.40000 > 198.18.0.2.40001: Flags [SEW], seq 1000, win 64240, options [mss 1460,eol], length 0")
        let data = try #require(Self.tcp(.pshAck, ack: 1, payload: Array("hello".utf8), ports: (40000, 8080)).tcpSegment)
        #expect(data.tcpdumpDescription == "Flags [P.], seq 1000:1005, ack 1, win 64240, length 5: HTTP")
        let get = try #require(Self.tcp(.pshAck, ack: 1, payload: Array("GET / HTTP/1.1\r\n\r\n".utf8), ports: (40000, 80)).tcpSegment)
        #expect(get.tcpdumpDescription.hasSuffix("length 18: HTTP: GET / HTTP/1.1"))
        #expect(Self.arp(.request, trailer: Array(repeating: 0, count: 18)).tcpdumpLine == "ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 46")
        #expect(Self.arp(.request, targetMAC: MACAddress(2, 0, 0, 0, 0, 2)).tcpdumpLine
            == "ARP, Request who-has 198.18.0.2 (02:00:00:00:00:02) tell 198.18.0.1, length 28")
    }

    @Test func flagLettersFollowTcpdumpsTable() {
        #expect(TCPFlags.syn.tcpdumpString == "S")
        #expect(TCPFlags.synAck.tcpdumpString == "S.")
        #expect(TCPFlags.ack.tcpdumpString == ".")
        #expect(TCPFlags.pshAck.tcpdumpString == "P.")
        #expect(TCPFlags.finAck.tcpdumpString == "F.")
        #expect(TCPFlags.rstAck.tcpdumpString == "R.")
        #expect(TCPFlags([.syn, .ece, .cwr]).tcpdumpString == "SEW")
        #expect(TCPFlags().tcpdumpString == "none")
        #expect(TCPFlags([.ack, .ae]).tcpdumpString == ".")  // tcpdump 4.99 reads only the eight classic bits
        #expect(TCPFlags.ae.tcpdumpString == "none")
    }

    @Test func flagLettersParseBack() {
        for raw in UInt16(0)...0xFF {
            let flags = TCPFlags(rawValue: raw)
            #expect(TCPFlags(tcpdump: flags.tcpdumpString) == flags, "\(raw)")
        }
        #expect(TCPFlags(tcpdump: "S.") == .synAck)
        #expect(TCPFlags(tcpdump: ".e") == [.ack, .ae])  // later tcpdump versions print AE as "e"
        #expect(TCPFlags(tcpdump: "SX") == nil)
    }
}

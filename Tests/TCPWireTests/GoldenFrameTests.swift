import Foundation
import Testing
import TCPWire

extension GoldenFrame: CustomTestStringConvertible {
    var testDescription: String { name }
}

/// Frames the Linux kernel sent (see `GoldenFrames`): we must read them as tcpdump does and write them
/// back byte for byte.
@Suite("Golden frames")
struct GoldenFrameTests {
    static func bytes(_ golden: GoldenFrame) throws -> [UInt8] {
        let decoded = TCPWire.bytes(fromHex: golden.hex)
        return try #require(decoded, "\(golden.name): hex does not decode")
    }

    static func frame(_ golden: GoldenFrame) throws -> Frame { try Frame.parse(bytes(golden)) }

    static func segment(_ golden: GoldenFrame) throws -> TCPSegment {
        try #require(try frame(golden).tcpSegment, "\(golden.name) carries no TCP segment")
    }

    @Test(arguments: GoldenFrames.all)
    func parsesToTcpdumpsLine(_ golden: GoldenFrame) throws {
        let frame = try Self.frame(golden)
        #expect(frame.tcpdumpLine == golden.line)
        switch frame.payload {
        case let .tcp(segment): #expect(segment.tcpdumpDescription == golden.tcpdump)
        case .arp: #expect(frame.tcpdumpLine == "ARP, " + golden.tcpdump)
        default: Issue.record("\(golden.name) parsed as \(frame.payload)")
        }
    }

    @Test(arguments: GoldenFrames.all)
    func serializesToTheSameBytes(_ golden: GoldenFrame) throws {
        let bytes = try Self.bytes(golden)
        #expect(try Frame.parse(bytes).serialize() == bytes)
    }

    // MARK: Fields, frame by frame

    static let client = SocketAddress(IPv4Address(198, 18, 0, 1), 40000)
    static let server = SocketAddress(IPv4Address(198, 18, 0, 2), 8080)

    @Test func syn() throws {
        let frame = try Self.frame(GoldenFrames.syn)
        #expect(frame.ethernet == EthernetHeader(destination: MACAddress(2, 0, 0, 0, 0, 2), source: MACAddress(2, 0, 0, 0, 0, 1), etherType: .ipv4))
        let syn = try Self.segment(GoldenFrames.syn)
        #expect(syn.source == Self.client && syn.destination == Self.server)
        #expect(syn.tcp.flags == .syn)
        #expect(syn.tcp.acknowledgmentNumber == SequenceNumber(0))
        #expect(syn.tcp.window == 64240)  // 44 × 1460: tcp_select_initial_window's rounding
        #expect(syn.tcp.headerLength == 40 && syn.payload.isEmpty && syn.sequenceLength == 1)
        // Linux's SYN options, in tcp_options_write's order.
        #expect(syn.tcp.options.map(\.kind) == [2, 4, 8, 1, 3])
        let timestamps = try #require(syn.tcp.options.timestamps)
        #expect(syn.tcp.options == [.maxSegmentSize(1460), .sackPermitted, .timestamps(value: timestamps.value, echoReply: 0),
                                    .noOperation, .windowScale(10)])
        #expect(syn.tcp.options.maxSegmentSize == 1460 && syn.tcp.options.windowScale == 10 && syn.tcp.options.sackPermitted)
        #expect(syn.ip.ttl == 64 && syn.ip.dontFragment && !syn.ip.moreFragments && syn.ip.fragmentOffset == 0)
        #expect(syn.ip.ecn == .notECT && syn.ip.dscp == 0)  // tcp_ecn=2: no ECN unless the peer asks
        #expect(syn.ip.totalLength == 60 && syn.ip.headerLength == 20 && syn.ip.proto == .tcp)
        #expect(GoldenFrames.syn.line.contains("seq \(syn.tcp.sequenceNumber),"))
    }

    @Test func synAck() throws {
        let syn = try Self.segment(GoldenFrames.syn), synAck = try Self.segment(GoldenFrames.synAck)
        #expect(synAck.source == Self.server && synAck.destination == Self.client)
        #expect(synAck.tcp.flags == .synAck)
        #expect(synAck.tcp.acknowledgmentNumber == syn.tcp.sequenceNumber + 1)
        #expect(synAck.tcp.window == 65160)  // 45 × 1448 (MSS less the 12 bytes of timestamps)
        let timestamps = try #require(synAck.tcp.options.timestamps)
        #expect(timestamps.echoReply == syn.tcp.options.timestamps?.value)
        #expect(synAck.tcp.options == [.maxSegmentSize(1460), .sackPermitted, .timestamps(value: timestamps.value, echoReply: timestamps.echoReply),
                                       .noOperation, .windowScale(10)])
        // ip_build_and_send_pkt gives a DF packet IP ID 0.
        #expect(synAck.ip.identification == 0 && synAck.ip.dontFragment)
    }

    @Test func handshakeDataAndClose() throws {
        let syn = try Self.segment(GoldenFrames.syn), synAck = try Self.segment(GoldenFrames.synAck)
        let third = try Self.segment(GoldenFrames.thirdAck), data = try Self.segment(GoldenFrames.data)
        let dataAck = try Self.segment(GoldenFrames.dataAck), fin = try Self.segment(GoldenFrames.fin)
        let serverFin = try Self.segment(GoldenFrames.serverFin), lastAck = try Self.segment(GoldenFrames.lastAck)
        let clientISN = syn.tcp.sequenceNumber, serverISN = synAck.tcp.sequenceNumber

        #expect(third.tcp.flags == .ack)
        #expect(third.tcp.sequenceNumber == clientISN + 1 && third.tcp.acknowledgmentNumber == serverISN + 1)
        #expect(third.tcp.window == 63)  // in units of 2^10 from here on (RFC 7323 §2.2)
        #expect(third.tcp.options.map(\.kind) == [1, 1, 8])
        #expect(third.tcp.options.timestamps?.echoReply == synAck.tcp.options.timestamps?.value)

        #expect(data.tcp.flags == .pshAck)
        #expect(data.payload == Array("hello".utf8))
        #expect(data.tcp.sequenceNumber == clientISN + 1 && data.sequenceLength == 5)

        #expect(dataAck.tcp.flags == .ack && dataAck.tcp.acknowledgmentNumber == clientISN + 6)

        #expect(fin.tcp.flags == .finAck && fin.tcp.sequenceNumber == clientISN + 6 && fin.sequenceLength == 1)
        #expect(serverFin.tcp.flags == .finAck && serverFin.tcp.sequenceNumber == serverISN + 1)
        #expect(serverFin.tcp.acknowledgmentNumber == clientISN + 7)  // acknowledges the client's FIN too
        #expect(lastAck.tcp.flags == .ack && lastAck.tcp.acknowledgmentNumber == serverISN + 2)
        // Every segment after the SYNs carries timestamps behind two NOPs.
        for segment in [third, data, dataAck, fin, serverFin, lastAck] {
            #expect(segment.tcp.options.map(\.kind) == [1, 1, 8] && segment.tcp.headerLength == 32)
        }
    }

    @Test func refusedConnectionsReset() throws {
        let syn = try Self.segment(GoldenFrames.refusedSyn), rst = try Self.segment(GoldenFrames.rst)
        #expect(syn.tcp.destinationPort == 8081)
        #expect(rst.tcp.flags == .rstAck)
        // RFC 9293 §3.10.7.1: no ACK in the SYN, so the reset has seq 0 and acks the SYN.
        #expect(rst.tcp.sequenceNumber == SequenceNumber(0))
        #expect(rst.tcp.acknowledgmentNumber == syn.tcp.sequenceNumber + 1)
        #expect(rst.tcp.window == 0 && rst.tcp.options.isEmpty && rst.payload.isEmpty)
        #expect(try Self.bytes(GoldenFrames.rst).count == 54)  // veth does not pad to 60
        #expect(try Self.frame(GoldenFrames.rst).trailer.isEmpty)
    }

    @Test func abortiveCloseResets() throws {
        let rst = try Self.segment(GoldenFrames.lingerRst)
        #expect(rst.tcp.flags == .rstAck && rst.tcp.sourcePort == 40002)
        #expect(rst.tcp.window == 63 && rst.tcp.options.timestamps != nil)
    }

    @Test func arpRequestAndReply() throws {
        let request = try #require(try Self.frame(GoldenFrames.arpRequest).arp)
        #expect(try Self.frame(GoldenFrames.arpRequest).ethernet.destination == .broadcast)
        #expect(request == ARPPacket(operation: .request, senderMAC: MACAddress(2, 0, 0, 0, 0, 1), senderIP: IPv4Address(198, 18, 0, 1),
                                     targetMAC: .zero, targetIP: IPv4Address(198, 18, 0, 2)))
        let reply = try #require(try Self.frame(GoldenFrames.arpReply).arp)
        #expect(reply == ARPPacket(operation: .reply, senderMAC: MACAddress(2, 0, 0, 0, 0, 2), senderIP: IPv4Address(198, 18, 0, 2),
                                   targetMAC: MACAddress(2, 0, 0, 0, 0, 1), targetIP: IPv4Address(198, 18, 0, 1)))
        #expect(try Self.bytes(GoldenFrames.arpRequest).count == 42)
    }

    // MARK: The capture they came from

    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/linux-6.18-handshake.pcap")

    @Test func theCaptureHoldsEveryGoldenFrameInOrder() throws {
        let records = try PcapReader.read(Array(try Data(contentsOf: Self.fixture)))
        var remaining = records[...]
        for golden in GoldenFrames.all {
            let bytes = try Self.bytes(golden)
            guard let index = remaining.firstIndex(where: { $0.frame == bytes }) else {
                Issue.record("\(golden.name) is not in \(Self.fixture.lastPathComponent) (after the previous golden frame)")
                continue
            }
            #expect(records[index].originalLength == bytes.count)
            remaining = records[(index + 1)...]
        }
        #expect(zip(records, records.dropFirst()).allSatisfy { $0.nanoseconds <= $1.nanoseconds })
    }

    @Test func tcpdumpReadsTheCaptureAsTheGoldenLines() throws {
        let lines = try ExternalTools.tcpdumpLines(Self.fixture)
        for golden in GoldenFrames.all {
            #expect(lines.contains(golden.line), "\(golden.name)")
        }
    }
}

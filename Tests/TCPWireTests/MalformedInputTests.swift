import Testing
import TCPWire

/// Each way a frame can be wrong, reported as the specific `WireError`, never a trap.
///
/// The cases start from a well-formed SYN (Ethernet 14 + IPv4 20 + TCP 40 bytes, like Linux's) and
/// break one thing; where the break would also spoil the IPv4 checksum, the checksum is fixed so the
/// error under test is the one reported.
@Suite("Malformed input")
struct MalformedInputTests {
    static let ip = 14, tcp = 34, options = 54

    /// A 74-byte SYN with Linux's options.
    static let syn: [UInt8] = Frame(
        ethernet: EthernetHeader(destination: MACAddress(2, 0, 0, 0, 0, 2), source: MACAddress(2, 0, 0, 0, 0, 1), etherType: .ipv4),
        payload: .tcp(TCPSegment(
            ip: IPv4Header(identification: 0x1234, source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 0, 2)),
            tcp: TCPHeader(sourcePort: 40000, destinationPort: 8080, sequenceNumber: SequenceNumber(534_388_407), flags: .syn, window: 64240,
                           options: [.maxSegmentSize(1460), .sackPermitted, .timestamps(value: 2_484_526_422, echoReply: 0), .noOperation, .windowScale(10)])))
    ).serialize()

    static let arpRequest: [UInt8] = Frame(
        ethernet: EthernetHeader(destination: .broadcast, source: MACAddress(2, 0, 0, 0, 0, 1), etherType: .arp),
        payload: .arp(ARPPacket(operation: .request, senderMAC: MACAddress(2, 0, 0, 0, 0, 1), senderIP: IPv4Address(198, 18, 0, 1),
                                targetMAC: .zero, targetIP: IPv4Address(198, 18, 0, 2)))
    ).serialize()

    /// `syn` with `change` applied and both checksums made right again.
    static func synWith(_ change: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes = syn
        change(&bytes)
        fixChecksums(&bytes)
        return bytes
    }

    /// Recomputes the IPv4 header checksum and, when the header and total length allow, the TCP one.
    static func fixChecksums(_ bytes: inout [UInt8]) {
        let headerLength = Int(bytes[ip] & 0xF) * 4
        guard headerLength >= 20, bytes.count >= ip + headerLength else { return }
        bytes[ip + 10] = 0; bytes[ip + 11] = 0
        var c = InternetChecksum()
        c.add(bytes[ip..<ip + headerLength])
        bytes[ip + 10] = UInt8(c.value >> 8); bytes[ip + 11] = UInt8(c.value & 0xFF)
        let total = Int(bytes[ip + 2]) << 8 | Int(bytes[ip + 3])
        let segment = ip + headerLength
        guard total >= headerLength + 18, ip + total <= bytes.count else { return }
        bytes[segment + 16] = 0; bytes[segment + 17] = 0
        var t = InternetChecksum()
        t.add(bytes[ip + 12..<ip + 20])
        t.add(word: 6)
        t.add(word: UInt16(total - headerLength))
        t.add(bytes[segment..<ip + total])
        bytes[segment + 16] = UInt8(t.value >> 8); bytes[segment + 17] = UInt8(t.value & 0xFF)
    }

    static func setTotalLength(_ bytes: inout [UInt8], _ total: Int) {
        bytes[ip + 2] = UInt8(total >> 8); bytes[ip + 3] = UInt8(total & 0xFF)
    }

    @Test func theBaseFrameIsWellFormed() throws {
        #expect(Self.syn.count == 74)
        #expect(Self.synWith { _ in } == Self.syn)
        let frame = try Frame.parse(Self.syn)
        #expect(frame.tcpSegment?.tcp.options.count == 5)
        #expect(try Frame.parse(Self.arpRequest).arp?.operation == .request)
    }

    // MARK: Truncation

    @Test(arguments: [0, 1, 13])
    func truncatedEthernet(length: Int) {
        #expect(throws: WireError.truncated(layer: .ethernet, needed: 14, available: length)) {
            try Frame.parse(Array(Self.syn.prefix(length)))
        }
    }

    @Test(arguments: [14, 20, 41])
    func truncatedARP(length: Int) {
        #expect(throws: WireError.truncated(layer: .arp, needed: 28, available: length - 14)) {
            try Frame.parse(Array(Self.arpRequest.prefix(length)))
        }
    }

    @Test func arpForAnotherHardwareOrProtocol() {
        var bytes = Self.arpRequest
        bytes[14 + 1] = 6  // hardware type 6 (IEEE 802)
        #expect(throws: WireError.unsupportedARP(hardwareType: 6, protocolType: 0x0800)) { try Frame.parse(bytes) }
        bytes = Self.arpRequest
        bytes[14 + 2] = 0x86; bytes[14 + 3] = 0xDD
        #expect(throws: WireError.unsupportedARP(hardwareType: 1, protocolType: 0x86DD)) { try Frame.parse(bytes) }
        bytes = Self.arpRequest
        bytes[14 + 5] = 16  // IPv6-sized protocol addresses
        #expect(throws: WireError.unsupportedARP(hardwareType: 1, protocolType: 0x0800)) { try Frame.parse(bytes) }
    }

    @Test func arpWithAnUnknownOperation() {
        var bytes = Self.arpRequest
        bytes[14 + 7] = 3  // RARP request
        #expect(throws: WireError.unsupportedProtocol(layer: .arp, value: 3)) { try Frame.parse(bytes) }
    }

    @Test(arguments: [14, 15, 33])
    func truncatedIPv4(length: Int) {
        #expect(throws: WireError.truncated(layer: .ipv4, needed: 20, available: length - 14)) {
            try Frame.parse(Array(Self.syn.prefix(length)))
        }
    }

    @Test func ipv4OptionsCutShort() {
        // IHL 15 (60 bytes) in a 20-byte packet: the options are missing.
        var bytes = Array(Self.syn.prefix(Self.tcp))
        bytes[Self.ip] = 0x4F
        #expect(throws: WireError.truncated(layer: .ipv4, needed: 60, available: 20)) { try Frame.parse(bytes) }
    }

    @Test(arguments: [0, 1, 19])
    func truncatedTCP(segmentLength: Int) {
        let bytes = Self.synWith { bytes in
            bytes.removeLast(bytes.count - Self.tcp - segmentLength)
            Self.setTotalLength(&bytes, 20 + segmentLength)
        }
        #expect(throws: WireError.truncated(layer: .tcp, needed: 20, available: segmentLength)) { try Frame.parse(bytes) }
        #expect(throws: WireError.truncated(layer: .tcp, needed: 20, available: segmentLength)) {
            try Frame.parse(bytes, verifyChecksums: false)
        }
    }

    // MARK: IPv4 header fields

    @Test(arguments: [UInt8(0), 5, 6, 15])
    func ipv4VersionOtherThanFour(version: UInt8) {
        let bytes = Self.synWith { $0[Self.ip] = version << 4 | 5 }
        #expect(throws: WireError.badVersion(version)) { try Frame.parse(bytes) }
    }

    @Test(arguments: [UInt8(0), 1, 4])
    func ipv4HeaderLengthBelowFive(ihl: UInt8) {
        var bytes = Self.syn
        bytes[Self.ip] = 0x40 | ihl
        #expect(throws: WireError.badIHL(ihl)) { try Frame.parse(bytes) }
    }

    @Test(arguments: [61, 1000, 0xFFFF])
    func ipv4TotalLengthPastTheFrame(total: Int) {
        let bytes = Self.synWith { Self.setTotalLength(&$0, total) }
        #expect(throws: WireError.badTotalLength(UInt16(total), available: 60)) { try Frame.parse(bytes) }
    }

    @Test(arguments: [0, 1, 19])
    func ipv4TotalLengthShorterThanItsHeader(total: Int) {
        let bytes = Self.synWith { Self.setTotalLength(&$0, total) }
        #expect(throws: WireError.badTotalLength(UInt16(total), available: 60)) { try Frame.parse(bytes) }
    }

    @Test func ipv4TotalLengthShorterThanTheFrameLeavesATrailer() throws {
        // Ethernet pads short frames; the bytes past the total length are not TCP payload.
        let bytes = Self.syn + [0, 0, 0, 0]
        let frame = try Frame.parse(bytes)
        #expect(frame.trailer == [0, 0, 0, 0])
        #expect(frame.tcpSegment?.payload == [])
        #expect(frame.serialize() == bytes)
    }

    // MARK: TCP header fields

    @Test(arguments: [UInt8(0), 1, 4])
    func tcpDataOffsetBelowFive(offset: UInt8) {
        let bytes = Self.synWith { $0[Self.tcp + 12] = offset << 4 }
        #expect(throws: WireError.badDataOffset(offset, segmentLength: 40)) { try Frame.parse(bytes) }
    }

    @Test(arguments: [UInt8(11), 15])
    func tcpDataOffsetPastTheSegment(offset: UInt8) {
        let bytes = Self.synWith { $0[Self.tcp + 12] = offset << 4 }
        #expect(throws: WireError.badDataOffset(offset, segmentLength: 40)) { try Frame.parse(bytes) }
    }

    @Test(arguments: [0, 1])
    func tcpOptionLengthBelowTwo(length: UInt8) {
        let bytes = Self.synWith { $0[Self.options + 1] = length }  // the MSS option's length byte
        #expect(throws: WireError.badOptionLength(kind: 2, length: Int(length), offset: 0)) { try Frame.parse(bytes) }
    }

    @Test func tcpOptionRunningPastTheHeader() {
        // The timestamps option (at offset 6) claims 30 bytes; only 14 are left in the options area.
        let bytes = Self.synWith { $0[Self.options + 7] = 30 }
        #expect(throws: WireError.badOptionLength(kind: 8, length: 30, offset: 6)) { try Frame.parse(bytes) }
        // One byte too many is enough: window scale, the last option, claims 4 bytes of the 3 left.
        let wscale = Self.synWith { $0[Self.options + 18] = 4 }
        #expect(throws: WireError.badOptionLength(kind: 3, length: 4, offset: 17)) { try Frame.parse(wscale) }
    }

    @Test func tcpOptionKindWithNoLengthByte() {
        // Options area ends in NOP, NOP, NOP, MSS kind: the length byte would be past the header.
        let bytes = Self.synWith { bytes in
            bytes.replaceSubrange(Self.options + 16..<Self.options + 20, with: [1, 1, 1, 2])
        }
        #expect(throws: WireError.truncated(layer: .tcpOptions, needed: 21, available: 20)) { try Frame.parse(bytes) }
    }

    @Test func tcpOptionListErrorsWhenParsedAlone() {
        func parse(_ area: [UInt8]) throws(WireError) -> [TCPOption] {
            let result = area.withUnsafeBytes { raw in Result { () throws(WireError) in try TCPOption.parseList(raw) } }
            return try result.get()
        }
        #expect(throws: WireError.truncated(layer: .tcpOptions, needed: 2, available: 1)) { try parse([8]) }
        #expect(throws: WireError.badOptionLength(kind: 99, length: 0, offset: 1)) { try parse([1, 99, 0, 0]) }
        #expect(throws: WireError.badOptionLength(kind: 5, length: 10, offset: 0)) { try parse([5, 10, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: Never.self) { try parse([]) }
        #expect(throws: Never.self) { try parse([0, 99, 1, 7]) }  // nothing after EOL is parsed
    }

    // MARK: Checksums

    @Test func wrongIPv4ChecksumIsReportedWithTheRightValue() throws {
        let right = UInt16(Self.syn[Self.ip + 10]) << 8 | UInt16(Self.syn[Self.ip + 11])
        var bytes = Self.syn
        bytes[Self.ip + 11] ^= 0x01
        let wrong = right ^ 0x0001
        #expect(throws: WireError.badChecksum(layer: .ipv4, found: wrong, expected: right)) { try Frame.parse(bytes) }
        let frame = try Frame.parse(bytes, verifyChecksums: false)
        #expect(frame.tcpSegment?.ip.checksum == wrong)
        #expect(frame.serialize() == Self.syn)  // serializing computes the checksum afresh
    }

    @Test func wrongTCPChecksumIsReportedWithTheRightValue() throws {
        let right = UInt16(Self.syn[Self.tcp + 16]) << 8 | UInt16(Self.syn[Self.tcp + 17])
        var bytes = Self.syn
        bytes[Self.tcp + 16] = 0xBE; bytes[Self.tcp + 17] = 0xEF
        #expect(throws: WireError.badChecksum(layer: .tcp, found: 0xBEEF, expected: right)) { try Frame.parse(bytes) }
        let frame = try Frame.parse(bytes, verifyChecksums: false)
        #expect(frame.tcpSegment?.tcp.checksum == 0xBEEF)
        #expect(frame.serialize() == Self.syn)
    }

    @Test func corruptedPayloadFailsTheTCPChecksum() throws {
        var bytes = Self.syn
        bytes[Self.options + 10] ^= 0x80  // inside the TS value: the IPv4 header is intact
        let error = try #require(throws: WireError.self) { try Frame.parse(bytes) }
        guard case let .badChecksum(layer, found, expected) = error else {
            Issue.record("expected a TCP checksum error, got \(error)")
            return
        }
        #expect(layer == .tcp)
        #expect(found != expected)
        #expect(try Frame.parse(bytes, verifyChecksums: false).tcpSegment?.tcp.options.timestamps != nil)
    }

    @Test func errorsDescribeThemselves() {
        #expect(WireError.badChecksum(layer: .tcp, found: 0xbeef, expected: 0x1234).description == "bad TCP checksum 0xbeef (should be 0x1234)")
        #expect(WireError.truncated(layer: .ethernet, needed: 14, available: 3).description == "truncated Ethernet: needs 14 bytes, 3 available")
    }

    // MARK: Pcap files

    @Test func pcapFilesThatAreCutOrForeign() {
        let writer = PcapWriter()
        let file = writer.fileHeader() + writer.record(nanoseconds: 1, frame: Self.syn)
        #expect(throws: WireError.truncated(layer: .pcap, needed: 24, available: 23)) { try PcapReader.read(Array(file.prefix(23))) }
        #expect(throws: WireError.truncated(layer: .pcap, needed: 40, available: 30)) { try PcapReader.read(Array(file.prefix(30))) }
        #expect(throws: WireError.truncated(layer: .pcap, needed: 40 + 74, available: 100)) { try PcapReader.read(Array(file.prefix(100))) }
        var pcapng = file
        pcapng.replaceSubrange(0..<4, with: [0x0A, 0x0D, 0x0D, 0x0A])
        #expect(throws: WireError.unsupportedProtocol(layer: .pcap, value: 0x0D0A)) { try PcapReader.read(pcapng) }
        var linuxCooked = file
        linuxCooked[20] = 113  // LINKTYPE_LINUX_SLL
        #expect(throws: WireError.unsupportedProtocol(layer: .pcap, value: 113)) { try PcapReader.read(linuxCooked) }
    }
}

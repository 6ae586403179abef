import Testing
import TCPWire

/// `TCPOptionList` keeps the options area as its wire bytes: what goes in by `append` or `parse`
/// comes out the same through iteration, the in-place accessors and serialization.
@Suite("Option lists")
struct OptionListTests {
    /// The kernel's SYN options (golden frame): MSS, SACK-permitted, TS, NOP, WS.
    static let linuxSyn: [TCPOption] = [.maxSegmentSize(1460), .sackPermitted, .timestamps(value: 3671336539, echoReply: 0),
                                        .noOperation, .windowScale(10)]

    @Test func appendedOptionsIterateBackInOrder() {
        let list = TCPOptionList(Self.linuxSyn)
        #expect(Array(list) == Self.linuxSyn)
        #expect(list.count == 5 && list.encodedLength == 20)
        #expect(list[3] == .noOperation && list[4] == .windowScale(10))
        #expect(list == [.maxSegmentSize(1460), .sackPermitted, .timestamps(value: 3671336539, echoReply: 0), .noOperation, .windowScale(10)])
        #expect(list != TCPOptionList(Self.linuxSyn.dropLast()))
    }

    /// The typed appenders a SYN is built with write the bytes `append(TCPOption)` writes.
    @Test func typedAppendersWriteTheSameBytes() {
        var typed = TCPOptionList()
        typed.appendMaxSegmentSize(1460)
        typed.appendSackPermitted()
        typed.appendTimestamps(value: 3671336539, echoReply: 7)
        typed.appendNoOperation()
        typed.appendWindowScale(10)
        var enumerated = TCPOptionList(Self.linuxSyn.dropLast(3))
        enumerated.append(.timestamps(value: 3671336539, echoReply: 7))
        enumerated.append(.noOperation)
        enumerated.append(.windowScale(10))
        #expect(typed == enumerated)
        #expect(typed.bytes == enumerated.bytes && typed.encodedLength == 20)
        #expect(typed.negotiated.timestamps?.echoReply == 7 && typed.negotiated.windowScale == 10)
    }

    /// NOP NOP TS, as the first options or after others, are the bytes the typed options give, and read
    /// back by the timestamps fast path.
    @Test func alignedTimestampsWriteTheSameBytesFirstOrLater() {
        var first = TCPOptionList()
        first.appendAlignedTimestamps(value: 0x0102_0304, echoReply: 0xA0B0_C0D0)
        #expect(first == TCPOptionList([.noOperation, .noOperation, .timestamps(value: 0x0102_0304, echoReply: 0xA0B0_C0D0)]))
        #expect(first.bytes == [1, 1, 8, 10, 1, 2, 3, 4, 0xA0, 0xB0, 0xC0, 0xD0])
        #expect(first.timestamps?.value == 0x0102_0304 && first.timestamps?.echoReply == 0xA0B0_C0D0)
        var later = TCPOptionList([.maxSegmentSize(1460)])
        later.appendAlignedTimestamps(value: 5, echoReply: 6)
        #expect(later == TCPOptionList([.maxSegmentSize(1460), .noOperation, .noOperation, .timestamps(value: 5, echoReply: 6)]))
        #expect(later.timestamps?.value == 5 && later.timestamps?.echoReply == 6)
    }

    /// Linux's SYN layout is read at fixed offsets; a list of the same length laid out otherwise (no
    /// SACK_PERM: NOP NOP in its place) is walked, with the same answers a walk gives.
    @Test func theLinuxSynLayoutAndItsLookalikesNegotiateAlike() {
        let fast = TCPOptionList(Self.linuxSyn).negotiated
        #expect(fast.maxSegmentSize == 1460 && fast.sackPermitted && fast.windowScale == 10)
        #expect(fast.timestamps?.value == 3671336539 && fast.timestamps?.echoReply == 0)
        let noSack = TCPOptionList([.maxSegmentSize(536), .noOperation, .noOperation, .timestamps(value: 7, echoReply: 9),
                                    .noOperation, .windowScale(14)])
        #expect(noSack.encodedLength == 20)
        let walked = noSack.negotiated
        #expect(walked.maxSegmentSize == 536 && !walked.sackPermitted && walked.windowScale == 14)
        #expect(walked.timestamps?.value == 7 && walked.timestamps?.echoReply == 9)
    }

    @Test func accessorsReadTheBytesInPlace() {
        let list = TCPOptionList(Self.linuxSyn)
        #expect(list.maxSegmentSize == 1460)
        #expect(list.windowScale == 10)
        #expect(list.sackPermitted)
        #expect(list.timestamps?.value == 3671336539 && list.timestamps?.echoReply == 0)
        let n = list.negotiated
        #expect(n.maxSegmentSize == 1460 && n.windowScale == 10 && n.sackPermitted && n.timestamps?.value == 3671336539)
        let empty = TCPOptionList()
        #expect(empty.isEmpty && empty.timestamps == nil && empty.maxSegmentSize == nil && !empty.sackPermitted)
    }

    /// `tcp_parse_options` reads a known kind only at its RFC size: a 3-byte MSS is not an MSS.
    @Test func knownKindsOfTheWrongSizeAreNotNegotiated() throws {
        let bytes: [UInt8] = [2, 3, 5, 1, 3, 3, 7, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]
        let list = try bytes.withUnsafeBytes { try TCPOptionList.parse($0) }
        #expect(list.maxSegmentSize == nil)
        #expect(list.windowScale == 7)
        #expect(list.timestamps?.value == 1 && list.timestamps?.echoReply == 2)
        #expect(Array(list) == [.unknown(kind: 2, data: [5]), .noOperation, .windowScale(7), .timestamps(value: 1, echoReply: 2)])
        #expect(list.bytes == bytes)
    }

    /// NOP NOP TS, written straight into the bytes, is the same as appending the three options.
    @Test func alignedTimestampsAreNopNopTS() {
        var fast = TCPOptionList()
        fast.appendAlignedTimestamps(value: 0x01020304, echoReply: 0xA0B0C0D0)
        let slow: TCPOptionList = [.noOperation, .noOperation, .timestamps(value: 0x01020304, echoReply: 0xA0B0C0D0)]
        #expect(fast == slow)
        #expect(fast.bytes == [1, 1, 8, 10, 1, 2, 3, 4, 0xA0, 0xB0, 0xC0, 0xD0])
        // Read back by the fast path (NOP NOP TS first) and by the walk (TS after another option).
        #expect(fast.timestamps?.value == 0x01020304 && fast.timestamps?.echoReply == 0xA0B0C0D0)
        var later: TCPOptionList = [.maxSegmentSize(1460)]
        later.appendAlignedTimestamps(value: 7, echoReply: 9)
        #expect(later.timestamps?.value == 7 && later.timestamps?.echoReply == 9)
    }

    /// EOL keeps its trailing bytes, so a parsed area serializes back to the same bytes.
    @Test func endOfListKeepsItsTrailingBytes() throws {
        let bytes: [UInt8] = [2, 4, 5, 0xB4, 0, 0, 9, 0]
        let list = try bytes.withUnsafeBytes { try TCPOptionList.parse($0) }
        #expect(Array(list) == [.maxSegmentSize(1460), .endOfList(trailing: [0, 9, 0])])
        #expect(list.bytes == bytes)
        #expect(TCPOptionList(Array(list)) == list)
    }

    @Test func badLengthsAreRejected() {
        #expect(throws: WireError.self) { try [UInt8]([2, 0, 1, 1]).withUnsafeBytes { try TCPOptionList.parse($0) } }
        #expect(throws: WireError.self) { try [UInt8]([8, 10, 0, 0]).withUnsafeBytes { try TCPOptionList.parse($0) } }
        #expect(throws: WireError.self) { try [UInt8]([1, 1, 3]).withUnsafeBytes { try TCPOptionList.parse($0) } }
    }

    /// Forty bytes fit (the most a data offset of 15 leaves); the header says so in its data offset.
    @Test func fortyBytesFitInAHeader() {
        let sack = TCPOption.sack((0..<4).map { SACKBlock(left: SequenceNumber(UInt32($0 * 100)), right: SequenceNumber(UInt32($0 * 100 + 50))) })
        let list: TCPOptionList = [.noOperation, .noOperation, sack, .noOperation, .noOperation, .noOperation, .noOperation]
        #expect(list.encodedLength == 40)
        #expect(list.sackBlocks?.count == 4)
        let header = TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: SequenceNumber(1), flags: .ack, window: 1, options: list)
        #expect(header.headerLength == 60 && header.dataOffset == 15)
    }
}

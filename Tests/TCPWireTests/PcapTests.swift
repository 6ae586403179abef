import Foundation
import Testing
import TCPWire

/// Pcap files we write are read back by `PcapReader` unchanged, and by tshark without a complaint.
@Suite("Pcap")
struct PcapTests {
    static func goldenFrames() throws -> [[UInt8]] {
        try GoldenFrames.all.map { try GoldenFrameTests.bytes($0) }
    }

    static func plausibleFrames(count: Int, seed: UInt64) -> [[UInt8]] {
        var generator = FrameGenerator(seed: seed, flavour: .plausible)
        return (0..<count).map { _ in generator.frame().serialize() }
    }

    // MARK: PcapReader and PcapWriter

    @Test func readerReturnsTheWrittenFramesAndNanosecondTimestamps() throws {
        let frames = try Self.goldenFrames() + Self.plausibleFrames(count: 200, seed: 0x9CA9)
        var rng = SplitMix64(seed: 0xCA9)
        var time: UInt64 = 1_763_730_236_482_975_123
        let writer = PcapWriter()
        var file = writer.fileHeader()
        var times: [UInt64] = []
        for frame in frames {
            time += .random(in: 0...2_000_000_000, using: &rng)
            times.append(time)
            file += writer.record(nanoseconds: time, frame: frame)
        }
        #expect(Array(file.prefix(4)) == [0x4D, 0x3C, 0xB2, 0xA1])  // nanosecond magic, little-endian
        let records = try PcapReader.read(file)
        #expect(records.map(\.frame) == frames)
        #expect(records.map(\.nanoseconds) == times)
        #expect(records.map(\.originalLength) == frames.map(\.count))
    }

    @Test func recordLayoutFollowsTheFormat() {
        let record = PcapWriter().record(nanoseconds: 3_000_000_007, frame: [0xAA, 0xBB])
        // seconds, nanoseconds, captured length, original length, then the bytes.
        #expect(record == [3, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0xAA, 0xBB])
        let header = PcapWriter().fileHeader()
        #expect(header.count == 24)
        #expect(Array(header[4..<8]) == [2, 0, 4, 0])  // version 2.4
        #expect(Array(header[16..<24]) == [0x00, 0x00, 0x04, 0x00, 1, 0, 0, 0])  // snap length 262144, Ethernet
    }

    @Test func snapLengthCutsTheCaptureButKeepsTheOriginalLength() throws {
        let writer = PcapWriter(snapLength: 64)
        let frame = Array(repeating: UInt8(0x5A), count: 100)
        let records = try PcapReader.read(writer.fileHeader() + writer.record(nanoseconds: 1, frame: frame))
        #expect(records.count == 1)
        #expect(records.first?.frame == Array(frame.prefix(64)))
        #expect(records.first?.originalLength == 100)
    }

    /// Files from other writers: microsecond magic (tcpdump's default) and big-endian headers.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func readerTakesEitherByteOrderAndEitherResolution(bigEndian: Bool, microseconds: Bool) throws {
        func u32(_ v: UInt32) -> [UInt8] {
            let le = [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
            return bigEndian ? le.reversed() : le
        }
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        let magic = microseconds ? PcapWriter.magicMicroseconds : PcapWriter.magicNanoseconds
        let frame = try GoldenFrameTests.bytes(GoldenFrames.syn)
        let file = u32(magic) + u16(2) + u16(4) + u32(0) + u32(0) + u32(65535) + u32(1)
            + u32(1_763_730_237) + u32(226_804) + u32(UInt32(frame.count)) + u32(UInt32(frame.count)) + frame
        let records = try PcapReader.read(file)
        #expect(records.count == 1)
        #expect(records.first?.frame == frame)
        #expect(records.first?.nanoseconds == 1_763_730_237_000_000_000 + (microseconds ? 226_804_000 : 226_804))
    }

    @Test func readerReadsTheKernelCapture() throws {
        let records = try PcapReader.read(Array(try Data(contentsOf: GoldenFrameTests.fixture)))
        let lines = try ExternalTools.tcpdumpLines(GoldenFrameTests.fixture)
        #expect(records.count == lines.count)
        for record in records {
            #expect(throws: Never.self) { try Frame.parse(record.frame) }
        }
    }

    // MARK: tshark

    /// Writes `frames` to a temporary pcap and returns tshark's complaints about them, each once: expert
    /// infos other than conversation bookkeeping, and malformed or incorrect fields in the full dissection.
    static func tsharkComplaints(_ frames: [[UInt8]]) throws -> [String] {
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("tshark.pcap")
        try ExternalTools.writePcap(frames, to: file)
        var complaints = try ExternalTools.tsharkExpertInfo(file).filter { !$0.isSequenceAnalysis }.map(\.description)
        var seen = Set<Substring>()
        for raw in try ExternalTools.tsharkVerbose(file).split(separator: "\n") {
            let line = raw.drop { $0 == " " }
            let flagged = ["Malformed", "[incorrect", "Bad checksum", "[Expert Info (Error", "[Expert Info (Warning"].contains(where: line.contains)
            if flagged, !line.contains("/Sequence)"), seen.insert(line).inserted { complaints.append(String(line)) }
        }
        return complaints
    }

    @Test func tsharkAcceptsReserializedGoldenFrames() throws {
        let frames = try Self.goldenFrames().map { try Frame.parse($0).serialize() }
        let complaints = try Self.tsharkComplaints(frames)
        #expect(complaints.isEmpty, "\(complaints.joined(separator: "\n"))")
    }

    @Test func tsharkAcceptsGeneratedFrames() throws {
        let complaints = try Self.tsharkComplaints(Self.plausibleFrames(count: 1_500, seed: 0x75A4))
        #expect(complaints.isEmpty, "\(complaints.prefix(20).joined(separator: "\n"))")
    }

    /// Frames built to probe tcpdump's corners (a SACK with no blocks, SYNs without MSS, runs of NOPs) draw
    /// remarks from tshark, some of them "malformed" by design; their checksums must still be right by
    /// tshark's own arithmetic, odd lengths, IPv4 options and Ethernet padding included.
    @Test func tsharkFindsOddFramesChecksummedRight() throws {
        var generator = FrameGenerator(seed: 0x0DD, flavour: .printable)
        let frames = (0..<1_500).map { _ in generator.frame().serialize() } + TcpdumpDialectTests.namedCases.map { $0.frame.serialize() }
        let complaints = try Self.tsharkComplaints(frames).filter { $0.contains("hecksum") || $0.contains("[incorrect") }
        #expect(complaints.isEmpty, "\(complaints.prefix(20).joined(separator: "\n"))")
    }

    /// The check above must be able to fail: a wrong TCP checksum and a cut option are reported.
    @Test func tsharkComplaintsAreNoticed() throws {
        var badChecksum = try GoldenFrameTests.bytes(GoldenFrames.syn)
        badChecksum[14 + 20 + 17] ^= 0xFF
        #expect(try Self.tsharkComplaints([badChecksum]).contains { $0.contains("Bad checksum") || $0.contains("[incorrect") })
        var badOption = try GoldenFrameTests.bytes(GoldenFrames.syn)
        badOption[14 + 20 + 20 + 1] = 0  // MSS length 0
        #expect(!(try Self.tsharkComplaints([badOption]).isEmpty))
    }
}

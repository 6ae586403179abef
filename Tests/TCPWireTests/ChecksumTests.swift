import Testing
import TCPWire

/// The Internet checksum (RFC 1071).
@Suite("InternetChecksum")
struct ChecksumTests {
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var c = InternetChecksum()
        c.add(bytes)
        return c.value
    }

    /// A straightforward reference: sum 16-bit big-endian words (odd byte padded with zero), fold, invert.
    static func reference(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i < bytes.count {
            sum += UInt32(bytes[i]) << 8 | (i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0)
            sum = (sum & 0xFFFF) + (sum >> 16)
            i += 2
        }
        return ~UInt16(sum)
    }

    @Test func rfc1071Example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement), checksum ~ddf2.
        #expect(Self.checksum([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]) == ~UInt16(0xDDF2))
    }

    @Test func emptyDataChecksumsToAllOnes() {
        #expect(Self.checksum([]) == 0xFFFF)
    }

    @Test func oddLengthPadsTheLastByteWithZero() {
        #expect(Self.checksum([0x01]) == ~UInt16(0x0100))
        #expect(Self.checksum([0x00, 0x01, 0xF2]) == ~UInt16(0xF201))
        #expect(Self.checksum([0x00, 0x01, 0xF2]) == Self.checksum([0x00, 0x01, 0xF2, 0x00]))
    }

    @Test func carriesFoldBackIn() {
        // 0xFFFF + 0x0001 = 0x1_0000, folded to 0x0001.
        #expect(Self.checksum([0xFF, 0xFF, 0x00, 0x01]) == ~UInt16(0x0001))
        #expect(Self.checksum(Array(repeating: 0xFF, count: 100_001)) == Self.reference(Array(repeating: 0xFF, count: 100_001)))
    }

    @Test func dataWithItsChecksumVerifiesToZero() {
        var data: [UInt8] = [0x45, 0x00, 0x00, 0x3C, 0x1C, 0x46, 0x40, 0x00, 0x40, 0x06, 0, 0, 0xAC, 0x10, 0x0A, 0x63, 0xAC, 0x10, 0x0A, 0x0C]
        let sum = Self.checksum(data)
        #expect(sum == 0xB1E6)  // the classic worked IPv4 example
        data[10] = UInt8(sum >> 8)
        data[11] = UInt8(sum & 0xFF)
        #expect(Self.checksum(data) == 0)
    }

    @Test func piecesEqualAllAtOnce() {
        var rng = SplitMix64(seed: 1071)
        for _ in 0..<2_000 {
            let data = rng.bytes(.random(in: 0...200, using: &rng))
            var pieces = InternetChecksum()
            var start = 0
            while start < data.count {
                let end = min(data.count, start + .random(in: 0...9, using: &rng))  // empty and odd pieces too
                pieces.add(data[start..<end])
                start = end
            }
            #expect(pieces.value == Self.checksum(data), "\(hexString(data))")
            #expect(pieces.value == Self.reference(data), "\(hexString(data))")
        }
    }

    @Test func wordsEqualTheirBytes() {
        var words = InternetChecksum()
        words.add(word32: 0xC612_0001)
        words.add(word: 0x0006)
        words.add([0xAB, 0xCD, 0xEF])
        #expect(words.value == Self.checksum([0xC6, 0x12, 0x00, 0x01, 0x00, 0x06, 0xAB, 0xCD, 0xEF]))
    }

    @Test func tcpIncludesThePseudoHeader() {
        let source = IPv4Address(198, 18, 0, 1), destination = IPv4Address(198, 18, 0, 2)
        let segment: [UInt8] = [0x9C, 0x40, 0x1F, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xFF, 0xFF, 0, 0, 0, 0, 0x68]
        let expected = Self.reference(
            [0xC6, 0x12, 0x00, 0x01, 0xC6, 0x12, 0x00, 0x02, 0x00, 0x06, 0x00, UInt8(segment.count)] + segment)
        let found = segment.withUnsafeBytes { InternetChecksum.tcp(source: source, destination: destination, segment: $0) }
        #expect(found == expected)
    }
}

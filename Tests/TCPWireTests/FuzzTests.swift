import Testing
import TCPWire

/// Random damage to real frames: the parsers either throw a `WireError` or return a frame, never trap,
/// and whatever they accept they can write out and read back.
@Suite("Fuzz")
struct FuzzTests {
    static let rounds = 6_000

    /// Golden frames plus generated ones, so that damage also lands in SACK, TFO and IPv4 options.
    static func seeds() throws -> [[UInt8]] {
        var generator = FrameGenerator(seed: 0xF022, flavour: .exact)
        return try GoldenFrames.all.map { try GoldenFrameTests.bytes($0) } + (0..<50).map { _ in generator.frame().serialize() }
    }

    enum Damage: CaseIterable { case flipBits, setBytes, truncate, extend, insert, delete, fixChecksumsAfterFlips }

    static func damage(_ frame: [UInt8], _ kind: Damage, using rng: inout SplitMix64) -> [UInt8] {
        var bytes = frame
        switch kind {
        case .flipBits, .fixChecksumsAfterFlips:
            for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            }
            // With the checksums made right again, damage gets past verification into the deeper layers.
            if kind == .fixChecksumsAfterFlips, bytes.count >= 34, bytes[12] == 0x08, bytes[13] == 0x00 {
                MalformedInputTests.fixChecksums(&bytes)
            }
        case .setBytes:
            // Header-field positions get interesting values: 0, 0xFF, tiny lengths.
            for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<min(bytes.count, 80), using: &rng)] = [0, 1, 2, 4, 5, 0x0F, 0x45, 0x50, 0xF0, 0xFF].randomElement(using: &rng)!
            }
        case .truncate:
            bytes.removeLast(Int.random(in: 0...bytes.count, using: &rng))
        case .extend:
            bytes += rng.bytes(.random(in: 1...64, using: &rng))
        case .insert:
            bytes.insert(contentsOf: rng.bytes(.random(in: 1...8, using: &rng)), at: .random(in: 0...bytes.count, using: &rng))
        case .delete:
            let start = Int.random(in: 0..<bytes.count, using: &rng)
            bytes.removeSubrange(start..<min(bytes.count, start + .random(in: 1...8, using: &rng)))
        }
        return bytes
    }

    @Test func damagedFramesNeverTrap() throws {
        let seeds = try Self.seeds()
        var rng = SplitMix64(seed: 0xDA3A9E)
        var accepted = 0, rejected = 0
        for i in 0..<Self.rounds {
            let kind = Damage.allCases.randomElement(using: &rng)!
            let bytes = Self.damage(seeds.randomElement(using: &rng)!, kind, using: &rng)
            for verify in [true, false] {
                do {
                    let frame = try Frame.parse(bytes, verifyChecksums: verify)
                    accepted += 1
                    // Whatever we accept we can print, write, and read back as the same frame.
                    _ = frame.tcpdumpLine
                    let written = frame.serialize()
                    let reread = try Frame.parse(written)
                    #expect(reread == frame.withWireFields(), "case \(i) (\(kind), verify \(verify)): \(hexString(bytes))")
                    #expect(reread.serialize() == written, "case \(i): \(hexString(bytes))")
                } catch {
                    rejected += 1
                }
            }
        }
        // The damage must be neither too gentle nor too harsh for the test to mean something.
        #expect(accepted > Self.rounds / 4 && rejected > Self.rounds / 4, "accepted \(accepted), rejected \(rejected)")
    }

    @Test func damagedHeadersNeverTrapWhenParsedAlone() {
        var rng = SplitMix64(seed: 0x4EAD)
        for _ in 0..<Self.rounds {
            let bytes = rng.bytes(.random(in: 0...80, using: &rng))
            bytes.withUnsafeBytes { raw in
                _ = try? EthernetHeader.parse(raw)
                _ = try? ARPPacket.parse(raw)
                _ = try? IPv4Header.parse(raw)
                _ = try? IPv4Header.parse(raw, verifyChecksum: false)
                _ = try? TCPHeader.parse(raw)
                _ = try? TCPHeader.parse(raw, pseudoHeader: (IPv4Address(198, 18, 0, 1), IPv4Address(198, 18, 0, 2)))
                _ = try? TCPOption.parseList(raw)
            }
            _ = try? PcapReader.read(bytes)
            _ = try? PcapReader.read(PcapWriter().fileHeader() + bytes)
        }
    }

    /// Every byte of an options area with a forced data offset: all 256 kinds at each position.
    @Test func everyOptionKindAtEveryPosition() throws {
        let syn = MalformedInputTests.syn
        for position in 0..<20 {
            for kind in UInt8.min...UInt8.max {
                let bytes = MalformedInputTests.synWith { $0[MalformedInputTests.options + position] = kind }
                if let frame = try? Frame.parse(bytes) {
                    #expect(frame.serialize() == bytes, "kind \(kind) at \(position)")
                }
            }
        }
        #expect(try Frame.parse(syn).serialize() == syn)
    }
}

import Testing
@testable import TCPEngine
import TCPPolicy
import TCPWire

/// The request table packs its values and moves the last one into a removed one's place: after any
/// sequence of inserts, updates and removals it must agree with a plain Dictionary.
@Suite("Dense table")
struct DenseTableTests {
    @Test func agreesWithADictionaryOverRandomOperations() {
        var table = DenseTable<FourTuple, Int>(seed: 7)
        var reference: [FourTuple: Int] = [:]
        var rng = SplitMix64(seed: 42)
        func tuple(_ n: UInt64) -> FourTuple {
            FourTuple(local: SocketAddress(IPv4Address(198, 18, 0, 2), 80),
                      remote: SocketAddress(IPv4Address(198, 19, 0, UInt8(n % 7)), UInt16(1024 + n / 7)))
        }
        for step in 0..<50_000 {
            let key = tuple(rng.next() % 3_000)
            switch rng.next() % 3 {
            case 0:
                table[key] = step
                reference[key] = step
            case 1:
                #expect(table.removeValue(forKey: key) == reference.removeValue(forKey: key), "step \(step)")
            default:
                table[key] = nil
                reference[key] = nil
            }
            #expect(table.count == reference.count)
        }
        for n in 0..<3_000 as Range<UInt64> {
            #expect(table[tuple(n)] == reference[tuple(n)])
        }
    }
}

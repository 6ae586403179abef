import Testing
import TCPWire

/// Serial-number arithmetic (RFC 1982) as the kernel's `before()`, `after()` and `between()` do it.
@Suite("SequenceNumber")
struct SequenceNumberTests {
    let nearWrap = SequenceNumber(0xFFFF_FFF0)
    let pastWrap = SequenceNumber(0x10)

    @Test func ordersAcrossTheWrap() {
        #expect(nearWrap < pastWrap)
        #expect(pastWrap > nearWrap)
        #expect(!(pastWrap < nearWrap))
        #expect(nearWrap <= pastWrap)
        #expect(pastWrap >= nearWrap)
        #expect(SequenceNumber(0xFFFF_FFFF) < SequenceNumber(0))
    }

    @Test func ordersWithoutWrap() {
        #expect(SequenceNumber(1) < SequenceNumber(2))
        #expect(SequenceNumber(2) > SequenceNumber(1))
        #expect(SequenceNumber(5) <= SequenceNumber(5))
        #expect(SequenceNumber(5) >= SequenceNumber(5))
        #expect(!(SequenceNumber(5) < SequenceNumber(5)))
    }

    @Test func halfACircleApartFlipsTheOrder() {
        // 2^31 - 1 ahead is "after"; 2^31 ahead is "before" (the distance reads as -2^31).
        let a = SequenceNumber(1000)
        #expect(a < a + UInt32(0x7FFF_FFFF))
        #expect(a + UInt32(0x8000_0000) < a)
    }

    @Test func addsAndSubtractsWithWrap() {
        #expect(nearWrap + UInt32(0x20) == pastWrap)
        #expect(nearWrap + 0x20 == pastWrap)
        #expect(pastWrap - UInt32(0x20) == nearWrap)
        #expect(pastWrap + -0x20 == nearWrap)
        var s = nearWrap
        s += UInt32(0x10)
        #expect(s == SequenceNumber(0))
        s += 5
        #expect(s == SequenceNumber(5))
    }

    @Test func distanceIsSignedAcrossTheWrap() {
        #expect(pastWrap - nearWrap == 0x20)
        #expect(nearWrap - pastWrap == -0x20)
        #expect(SequenceNumber(7) - SequenceNumber(7) == 0)
        #expect(SequenceNumber(0) - SequenceNumber(0xFFFF_FFFF) == 1)
    }

    @Test func isBetweenIsInclusiveAndGoesRoundTheCircle() {
        #expect(SequenceNumber(5).isBetween(SequenceNumber(5), SequenceNumber(9)))
        #expect(SequenceNumber(9).isBetween(SequenceNumber(5), SequenceNumber(9)))
        #expect(!SequenceNumber(10).isBetween(SequenceNumber(5), SequenceNumber(9)))
        #expect(!SequenceNumber(4).isBetween(SequenceNumber(5), SequenceNumber(9)))
        // low = 0xFFFFFFF0, high = 0x10: the window straddles zero.
        #expect(SequenceNumber(0xFFFF_FFFF).isBetween(nearWrap, pastWrap))
        #expect(SequenceNumber(0).isBetween(nearWrap, pastWrap))
        #expect(SequenceNumber(0x10).isBetween(nearWrap, pastWrap))
        #expect(!SequenceNumber(0x11).isBetween(nearWrap, pastWrap))
        #expect(!SequenceNumber(0xFFFF_FFEF).isBetween(nearWrap, pastWrap))
        #expect(!SequenceNumber(0x8000_0000).isBetween(nearWrap, pastWrap))
    }

    @Test func maxAndMinFollowSerialOrder() {
        #expect(SequenceNumber.max(nearWrap, pastWrap) == pastWrap)
        #expect(SequenceNumber.max(pastWrap, nearWrap) == pastWrap)
        #expect(SequenceNumber.min(nearWrap, pastWrap) == nearWrap)
        #expect(SequenceNumber.min(pastWrap, nearWrap) == nearWrap)
        #expect(SequenceNumber.max(SequenceNumber(3), SequenceNumber(3)) == SequenceNumber(3))
    }

    @Test func agreesWithTheKernelDefinitionOnRandomPairs() {
        var rng = SplitMix64(seed: 0x5E0)
        for _ in 0..<10_000 {
            let a = UInt32.random(in: 0 ... .max, using: &rng), b = UInt32.random(in: 0 ... .max, using: &rng)
            // include/net/tcp.h: before(seq1, seq2) is (__s32)(seq1 - seq2) < 0.
            let before = Int32(bitPattern: a &- b) < 0
            #expect((SequenceNumber(a) < SequenceNumber(b)) == before, "a=\(a) b=\(b)")
            #expect((SequenceNumber(b) > SequenceNumber(a)) == before, "a=\(a) b=\(b)")
            #expect(SequenceNumber(a) + (SequenceNumber(b) - SequenceNumber(a)) == SequenceNumber(b), "a=\(a) b=\(b)")
        }
    }

    @Test func printsAsADecimalNumber() {
        #expect(SequenceNumber(4_294_967_295).description == "4294967295")
        #expect(SequenceNumber(rawValue: 0).description == "0")
    }
}

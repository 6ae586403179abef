/// SipHash-2-4 with a 128-bit key (Aumasson & Bernstein), the keyed hash Linux uses for ISNs
/// (`secure_tcp_seq`), timestamp offsets and SYN cookies (`cookie_hash`).
public struct SipHashKey: Hashable, Sendable {
    public var k0: UInt64
    public var k1: UInt64
    public init(k0: UInt64, k1: UInt64) {
        self.k0 = k0
        self.k1 = k1
    }
}

public enum SipHash {
    @inline(__always)
    private static func round(_ v0: inout UInt64, _ v1: inout UInt64, _ v2: inout UInt64, _ v3: inout UInt64) {
        v0 &+= v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
        v2 &+= v3; v3 = rotl(v3, 16); v3 ^= v2
        v0 &+= v3; v3 = rotl(v3, 21); v3 ^= v0
        v2 &+= v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }

    /// SipHash-2-4 over little-endian 64-bit words `words` followed by a final partial word `tail` of
    /// `tailBytes` bytes, for a message of `8 * words.count + tailBytes` bytes, exactly as the kernel's
    /// `siphash_3u32` / `siphash_4u32` lay out their arguments.
    @inline(__always)
    static func hash(key: SipHashKey, words: (UInt64, UInt64?), tail: UInt64, length: Int) -> UInt64 {
        var v0: UInt64 = 0x736f6d6570736575 ^ key.k0
        var v1: UInt64 = 0x646f72616e646f6d ^ key.k1
        var v2: UInt64 = 0x6c7967656e657261 ^ key.k0
        var v3: UInt64 = 0x7465646279746573 ^ key.k1
        func absorb(_ m: UInt64) {
            v3 ^= m
            round(&v0, &v1, &v2, &v3); round(&v0, &v1, &v2, &v3)
            v0 ^= m
        }
        absorb(words.0)
        if let w = words.1 { absorb(w) }
        let b = UInt64(length) << 56 | tail
        absorb(b)
        v2 ^= 0xff
        for _ in 0..<4 { round(&v0, &v1, &v2, &v3) }
        return v0 ^ v1 ^ v2 ^ v3
    }

    /// The kernel's `siphash_3u32(first, second, third, key)`: 12 bytes.
    public static func hash3(_ a: UInt32, _ b: UInt32, _ c: UInt32, key: SipHashKey) -> UInt64 {
        hash(key: key, words: (UInt64(b) << 32 | UInt64(a), nil), tail: UInt64(c), length: 12)
    }

    /// The kernel's `siphash_4u32(first, second, third, forth, key)`: 16 bytes.
    public static func hash4(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, key: SipHashKey) -> UInt64 {
        hash(key: key, words: (UInt64(b) << 32 | UInt64(a), UInt64(d) << 32 | UInt64(c)), tail: 0, length: 16)
    }

    /// SipHash-2-4 of arbitrary bytes (for test vectors and keys derived from text).
    public static func hash(_ bytes: [UInt8], key: SipHashKey) -> UInt64 {
        var v0: UInt64 = 0x736f6d6570736575 ^ key.k0
        var v1: UInt64 = 0x646f72616e646f6d ^ key.k1
        var v2: UInt64 = 0x6c7967656e657261 ^ key.k0
        var v3: UInt64 = 0x7465646279746573 ^ key.k1
        var i = 0
        while i + 8 <= bytes.count {
            var m: UInt64 = 0
            for j in 0..<8 { m |= UInt64(bytes[i + j]) << (8 * UInt64(j)) }
            v3 ^= m
            round(&v0, &v1, &v2, &v3); round(&v0, &v1, &v2, &v3)
            v0 ^= m
            i += 8
        }
        var b = UInt64(bytes.count) << 56
        for j in 0..<(bytes.count - i) { b |= UInt64(bytes[i + j]) << (8 * UInt64(j)) }
        v3 ^= b
        round(&v0, &v1, &v2, &v3); round(&v0, &v1, &v2, &v3)
        v0 ^= b
        v2 ^= 0xff
        for _ in 0..<4 { round(&v0, &v1, &v2, &v3) }
        return v0 ^ v1 ^ v2 ^ v3
    }
}

/// A small, fast, seedable generator (SplitMix64) for keys and simulated randomness. The engine never
/// reaches for system randomness: a seed goes in, so a run repeats exactly.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

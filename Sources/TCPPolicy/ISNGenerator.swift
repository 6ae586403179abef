import TCPWire

/// The ISN policy seam: chooses the initial sequence number of every connection this host opens or
/// accepts (`tcp_v4_init_seq`), and the per-connection TCP timestamp offset (`tcp_v4_init_ts_off`).
///
/// The engine calls it once per active open (in `connect`) and once per SYN that creates a request
/// sock or a SYN cookie is *not* being sent (a cookie *is* the ISN). Calls happen on the engine's thread.
public protocol ISNGenerator: AnyObject {
    /// A short name shown in events and reports (`linux`, `counter`…).
    var name: String { get }
    /// The ISN for a connection identified by `tuple` (local = this host) at `now`.
    func initialSequenceNumber(for tuple: FourTuple, at now: Instant) -> SequenceNumber
    /// The offset added to this host's millisecond clock in the TS option (RFC 7323 §5.4 recommends
    /// a per-connection random offset).
    func timestampOffset(for tuple: FourTuple, at now: Instant) -> UInt32
}

/// Linux's ISN (net/core/secure_seq.c): a keyed SipHash over the 4-tuple plus a 64 ns clock, so ISNs
/// of one 4-tuple grow with time (RFC 6528) and other 4-tuples' ISNs cannot be predicted. Since
/// 165573e41f2f the TS offset is the upper 32 bits of the same hash.
public final class LinuxISN: ISNGenerator {
    public let name = "linux"
    /// `net_secret`, random at boot in Linux; injected (and seedable) here.
    public let key: SipHashKey
    /// `tcp_timestamps`: 1 gives a per-connection offset, 2 gives none.
    public var timestampsMode: Int

    public init(key: SipHashKey, timestampsMode: Int = 1) {
        self.key = key
        self.timestampsMode = timestampsMode
    }

    /// A key drawn from `seed`: the same seed gives the same ISNs.
    public convenience init(seed: UInt64, timestampsMode: Int = 1) {
        var rng = SplitMix64(seed: seed ^ 0x15A_15A)
        self.init(key: SipHashKey(k0: rng.next(), k1: rng.next()), timestampsMode: timestampsMode)
    }

    /// The last 4-tuple hashed and its hash: the engine asks for a connection's ISN and its TS offset
    /// one after the other, and both come from the same hash.
    private var lastTuple = FourTuple(local: SocketAddress(.any, 0), remote: SocketAddress(.any, 0))
    private var lastHash: UInt64?

    @inline(__always) private func hash(_ t: FourTuple) -> UInt64 {
        if let h = lastHash, t == lastTuple { return h }
        // The kernel hashes the raw big-endian fields as a little-endian CPU loads them.
        let h = SipHash.hash3(t.local.address.rawValue.byteSwapped, t.remote.address.rawValue.byteSwapped,
                              UInt32(t.local.port.byteSwapped) << 16 | UInt32(t.remote.port.byteSwapped), key: key)
        lastTuple = t
        lastHash = h
        return h
    }

    public func initialSequenceNumber(for tuple: FourTuple, at now: Instant) -> SequenceNumber {
        // seq_scale(): + ktime_get_real_ns() >> 6, a 64 ns clock that wraps every ~274.9 s.
        SequenceNumber(UInt32(truncatingIfNeeded: hash(tuple)) &+ UInt32(truncatingIfNeeded: now.nanoseconds >> 6))
    }

    public func timestampOffset(for tuple: FourTuple, at now: Instant) -> UInt32 {
        timestampsMode == 1 ? UInt32(truncatingIfNeeded: hash(tuple) >> 32) : 0
    }
}

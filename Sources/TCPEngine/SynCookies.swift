import TCPPolicy
import TCPWire

/// SYN cookies exactly as net/ipv4/syncookies.c builds and checks them: the ISN is
/// `hash(secret0, 4-tuple) + peer ISN + (minute << 24) + ((hash(secret1, 4-tuple, minute) + mss index) mod 2^24)`,
/// so the third ACK alone proves the handshake and carries the MSS, and no state is kept.
enum SynCookie {
    /// `msstab`: the MSS values a cookie can carry (2 bits).
    static let mssTable: [UInt16] = [536, 1300, 1440, 1460]
    static let cookieBits: UInt32 = 24
    static let cookieMask: UInt32 = (1 << 24) - 1
    /// MAX_SYNCOOKIE_AGE: a cookie is good for the minute it was made and the one after.
    static let maxAge: UInt32 = 2
    /// TCP_SYNCOOKIE_VALID: cookies are only looked for within 2 minutes of a SYN-queue overflow.
    static let validWindow = Interval.seconds(120)
    // Options encoded in the low 6 bits of the SYN-ACK's TSval (cookie_init_timestamp).
    static let tsBits: UInt32 = 6
    static let tsWscaleMask: UInt32 = 0xF
    static let tsSack: UInt32 = 1 << 4
    static let tsECN: UInt32 = 1 << 5

    /// `tcp_cookie_time`: minutes since the start (jiffies / (60 HZ)).
    static func counter(_ now: Instant) -> UInt32 { UInt32(truncatingIfNeeded: now.nanoseconds / 60_000_000_000) }

    static func hash(_ t: FourTuple, count: UInt32, secret: SipHashKey) -> UInt32 {
        // cookie_hash(saddr, daddr, sport, dport, count, c): the SYN's source is the peer.
        UInt32(truncatingIfNeeded: SipHash.hash4(
            t.remote.address.rawValue.byteSwapped, t.local.address.rawValue.byteSwapped,
            UInt32(t.remote.port.byteSwapped) << 16 | UInt32(t.local.port.byteSwapped), count, key: secret))
    }

    /// `__cookie_v4_init_sequence`: the cookie ISN for a SYN with peer ISN `seq` and MSS option `mss`;
    /// also returns the MSS the cookie encodes (the largest table entry not above `mss`).
    static func make(_ t: FourTuple, seq: SequenceNumber, mss: UInt16, now: Instant, secrets: (SipHashKey, SipHashKey))
        -> (isn: SequenceNumber, mss: UInt16)
    {
        var index = mssTable.count - 1
        while index > 0 && mss < mssTable[index] { index -= 1 }
        let count = counter(now)
        let value = hash(t, count: 0, secret: secrets.0) &+ seq.rawValue &+ (count << cookieBits)
            &+ ((hash(t, count: count, secret: secrets.1) &+ UInt32(index)) & cookieMask)
        return (SequenceNumber(value), mssTable[index])
    }

    /// `__cookie_v4_check`: the MSS a third ACK's cookie encodes, or nil if the cookie is not ours or too old.
    static func check(_ t: FourTuple, ack: SequenceNumber, seq: SequenceNumber, now: Instant,
                      secrets: (SipHashKey, SipHashKey)) -> UInt16?
    {
        let cookie = (ack - 1).rawValue
        let peerISN = (seq - 1).rawValue
        let count = counter(now)
        let stripped = cookie &- (hash(t, count: 0, secret: secrets.0) &+ peerISN)
        let diff = (count &- (stripped >> cookieBits)) & (UInt32.max >> cookieBits)
        guard diff < maxAge else { return nil }
        let index = (stripped &- hash(t, count: count &- diff, secret: secrets.1)) & cookieMask
        return index < UInt32(mssTable.count) ? mssTable[Int(index)] : nil
    }

    /// `cookie_init_timestamp`: a TSval not above the clock whose low 6 bits carry wscale, SACK and ECN.
    static func timestamp(clock: UInt32, windowScale: UInt8?, sack: Bool, ecn: Bool) -> UInt32 {
        var options = windowScale.map { UInt32($0) } ?? tsWscaleMask
        if sack { options |= tsSack }
        if ecn { options |= tsECN }
        var ts = (clock >> tsBits) << tsBits | options
        if ts > clock { ts &-= 1 << tsBits }
        return ts
    }

    /// `cookie_timestamp_decode`: the options the echoed TSval carried back; nil when they contradict
    /// the sysctls (the ACK is then not a valid cookie).
    static func decode(echo: UInt32, sysctl: Sysctls) -> (windowScale: UInt8?, sack: Bool)? {
        guard sysctl.tcp_timestamps != 0 else { return nil }
        let sack = echo & tsSack != 0
        if sack && sysctl.tcp_sack == 0 { return nil }
        if echo & tsWscaleMask == tsWscaleMask { return (nil, sack) }
        guard sysctl.tcp_window_scaling != 0 else { return nil }
        return (UInt8(echo & tsWscaleMask), sack)
    }
}

/// SNMP and netstat MIB counters, named as `nstat` prints them (`TcpActiveOpens` is `ActiveOpens`
/// here; the `TcpExt` ones keep their names).
public enum MIB: Int, CaseIterable, Sendable {
    // Tcp (RFC 4022)
    case ActiveOpens, PassiveOpens, AttemptFails, EstabResets, InSegs, OutSegs, RetransSegs, InErrs, OutRsts, InCsumErrors
    // TcpExt: listener
    case ListenOverflows, ListenDrops, TCPReqQFullDoCookies, TCPReqQFullDrop
    case SyncookiesSent, SyncookiesRecv, SyncookiesFailed, EmbryonicRsts, TCPDeferAcceptDrop
    // TcpExt: timestamps and validation
    case PAWSActive, PAWSEstab, TSEcrRejected, TCPACKSkippedSynRecv, TCPACKSkippedPAWS, TCPACKSkippedSeq
    case TCPChallengeACK, TCPSYNChallenge, TCPACKSkippedChallenge, BeyondWindow, PAWSTimewait
    case TCPACKSkippedFinWait2, TCPACKSkippedTimeWait
    // TcpExt: timers and retransmission
    case TCPTimeouts, TCPSynRetrans, TCPAbortOnTimeout, TCPAbortOnData, TCPAbortOnClose, TCPAbortOnLinger
    case DelayedACKs, DelayedACKLocked, DelayedACKLost, TCPKeepAlive, TCPLossProbes
    /// Not a Linux MIB: a timeout past `tcp_retries1`, where Linux re-validates the route
    /// (`dst_negative_advice`) and probes for a PMTU black hole.
    case TCPRouteRecheck
    case TCPRenoRecovery, TCPFastRetrans, TCPSlowStartRetrans, TCPLossFailures, TCPRenoFailures
    case TCPDSACKOldSent, TCPDSACKOfoSent, TCPAckCompressed
    // TcpExt: TIME_WAIT
    case TW, TWRecycled, TWKilled, TCPTimeWaitOverflow
    // TcpExt: data
    case TCPPureAcks, TCPHPAcks, TCPOFOQueue, TCPOFODrop, TCPRcvQDrop, TCPZeroWindowDrop, TCPWinProbe, TCPOrigDataSent
    case TCPWantZeroWindowAdv, TCPToZeroWindowAdv, TCPFromZeroWindowAdv
    // IpExt / ARP (not Linux MIB names, but kept alongside)
    case ArpRequestsSent, ArpRepliesSent, ArpFailed, IpInReceives, IpOutRequests, IpInAddrErrors, InMalformed

    /// The counter's name as nstat prints it (without the Tcp/TcpExt prefix).
    public var name: String { String(describing: self) }
}

/// The counters of one host, read by name: `host.counters[.ListenOverflows]`.
public struct Counters: Hashable, Sendable {
    /// Inline storage: counting is an add at an offset, with no copy-on-write check.
    private var values = InlineArray<128, Int>(repeating: 0)

    public init() {
        precondition(MIB.allCases.count <= 128, "Counters holds 128 MIBs; raise its InlineArray size")
    }

    public subscript(_ counter: MIB) -> Int {
        get { values[counter.rawValue] }
        set { values[counter.rawValue] = newValue }
    }

    public static func == (a: Counters, b: Counters) -> Bool {
        MIB.allCases.allSatisfy { a[$0] == b[$0] }
    }

    public func hash(into hasher: inout Hasher) {
        for m in MIB.allCases { hasher.combine(self[m]) }
    }

    /// The counter named `name` (`ListenOverflows`, `TcpExtListenOverflows`, `TcpActiveOpens`).
    public subscript(name name: String) -> Int? {
        var n = name
        for prefix in ["TcpExt", "Tcp", "IpExt"] where n.hasPrefix(prefix) && MIB(name: n) == nil {
            n = String(n.dropFirst(prefix.count))
        }
        return MIB(name: n).map { self[$0] }
    }

    /// Every non-zero counter, in MIB order.
    public var nonZero: [(MIB, Int)] { MIB.allCases.compactMap { values[$0.rawValue] != 0 ? ($0, values[$0.rawValue]) : nil } }
}

extension MIB {
    /// The counter with this exact name.
    public init?(name: String) {
        guard let c = MIB.allCases.first(where: { $0.name == name }) else { return nil }
        self = c
    }
}

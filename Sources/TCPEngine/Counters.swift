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
    case TCPChallengeACK, TCPSYNChallenge, TCPACKSkippedChallenge
    // TcpExt: timers and retransmission
    case TCPTimeouts, TCPSynRetrans, TCPAbortOnTimeout, TCPAbortOnData, TCPAbortOnClose, TCPAbortOnLinger
    case DelayedACKs, DelayedACKLocked, TCPKeepAlive, TCPLossProbes
    // TcpExt: TIME_WAIT
    case TW, TWRecycled, TWKilled, TCPTimeWaitOverflow
    // TcpExt: data
    case TCPPureAcks, TCPHPAcks, TCPOFOQueue, TCPRcvQDrop, TCPZeroWindowDrop, TCPWantZeroWindowAdv, TCPWinProbe
    // IpExt / ARP (not Linux MIB names, but kept alongside)
    case ArpRequestsSent, ArpRepliesSent, ArpFailed, IpInReceives, IpOutRequests, IpInAddrErrors, InMalformed

    /// The counter's name as nstat prints it (without the Tcp/TcpExt prefix).
    public var name: String { String(describing: self) }
}

/// The counters of one host, read by name: `host.counters[.ListenOverflows]`.
public struct Counters: Hashable, Sendable {
    private var values = [Int](repeating: 0, count: MIB.allCases.count)

    public init() {}

    public subscript(_ counter: MIB) -> Int {
        get { values[counter.rawValue] }
        set { values[counter.rawValue] = newValue }
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

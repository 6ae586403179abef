import TCPPolicy
import TCPWire

/// What happened to a frame.
public enum ImpairDecision: Hashable, Sendable {
    /// Deliver these bytes at this time (several entries when duplicated).
    case deliver(at: Instant, bytes: [UInt8], note: String?)
    /// Dropped, and why (a rule's description, or "loss").
    case drop(reason: String)
}

/// Applies an `Impairment` to one direction of traffic. Pure: time comes in, decisions go out.
public struct Impairer: Sendable {
    public var impairment: Impairment
    private var rng: SplitMix64
    /// Matches seen so far, per rule.
    private var ruleCounts: [Int]
    /// When the (rate-limited) link is next free.
    private var linkFreeAt: Instant = .zero

    public init(_ impairment: Impairment, seed: UInt64) {
        self.impairment = impairment
        rng = SplitMix64(seed: seed)
        ruleCounts = Array(repeating: 0, count: impairment.rules.count)
    }

    private mutating func chance(_ p: Double) -> Bool {
        guard p > 0 else { return false }
        return Double(rng.next() >> 11) / Double(1 << 53) < p
    }

    /// True when the impairment can only drop frames (loss and drop rules): no delay, jitter,
    /// duplication, reordering, corruption or rate. The middlebox then forwards without copying.
    public var dropsOnly: Bool {
        let i = impairment
        return i.delay == .zero && i.jitter == .zero && i.duplicate == 0 && i.reorder == 0 && i.corrupt == 0
            && i.rateBitsPerSecond == 0 && i.rules.allSatisfy { $0.action == .drop }
    }

    /// For a `dropsOnly` impairment: the reason to drop this frame, or nil to forward it at once.
    /// Consumes the same rule counts and random draws as `process`, so both give the same decisions.
    public mutating func dropReason(frame: Frame?) -> String? {
        if let frame, !impairment.rules.isEmpty {
            for (i, rule) in impairment.rules.enumerated() where rule.match.matches(frame) {
                ruleCounts[i] += 1
                if rule.nth?.contains(ruleCounts[i]) ?? true { return rule.description }
            }
        }
        return chance(impairment.loss) ? "loss \(impairment.loss)" : nil
    }

    /// Decides the fate of `bytes` arriving at `now`. `frame` is the parsed frame when the caller has it
    /// (rules need it); frames that do not parse only meet the random impairments.
    public mutating func process(_ bytes: [UInt8], frame: Frame?, at now: Instant) -> [ImpairDecision] {
        var extraDelay = Interval.zero
        var note: String?
        if let frame, !impairment.rules.isEmpty {
            for (i, rule) in impairment.rules.enumerated() where rule.match.matches(frame) {
                ruleCounts[i] += 1
                guard rule.nth?.contains(ruleCounts[i]) ?? true else { continue }
                switch rule.action {
                case .drop:
                    return [.drop(reason: rule.description)]
                case let .delay(d):
                    extraDelay = extraDelay + d
                    note = rule.description
                }
                break
            }
        }
        if chance(impairment.loss) { return [.drop(reason: "loss \(impairment.loss)")] }
        var delay = impairment.delay + extraDelay
        if impairment.jitter > .zero {
            delay = delay + Interval(nanoseconds: Int64(rng.next() % UInt64(impairment.jitter.nanoseconds + 1)))
        }
        if chance(impairment.reorder) {
            delay = delay + impairment.reorderDelay
            note = note ?? "reordered"
        }
        var out = bytes
        if chance(impairment.corrupt), out.count > 14 {
            let at = 14 + Int(rng.next() % UInt64(out.count - 14))
            out[at] ^= UInt8(truncatingIfNeeded: 1 << (rng.next() % 8))
            note = note ?? "corrupted byte \(at)"
        }
        var departure = now
        if impairment.rateBitsPerSecond > 0 {
            // Serialization at the link rate: a frame waits for the one before it.
            let start = max(now, linkFreeAt)
            let bits = Int64(out.count + 24) * 8  // preamble, FCS and inter-frame gap
            linkFreeAt = start + Interval(nanoseconds: bits * 1_000_000_000 / Int64(impairment.rateBitsPerSecond))
            departure = linkFreeAt
        }
        var decisions: [ImpairDecision] = [.deliver(at: departure + delay, bytes: out, note: note)]
        if chance(impairment.duplicate) { decisions.append(.deliver(at: departure + delay, bytes: out, note: "duplicate")) }
        return decisions
    }
}

import TCPPolicy
import TCPWire

/// What one direction of a link does to the frames crossing it: netem's vocabulary (loss, delay,
/// jitter, duplication, reordering, corruption, rate) plus targeted rules. Seeded: the same seed and
/// the same frames give the same decisions.
public struct Impairment: Hashable, Sendable {
    /// Probability in [0, 1] that a frame is lost.
    public var loss: Double = 0
    /// Constant one-way delay.
    public var delay: Interval = .zero
    /// Extra delay drawn uniformly from [0, jitter].
    public var jitter: Interval = .zero
    /// Probability that a frame is sent twice.
    public var duplicate: Double = 0
    /// Probability that a frame is held back by `reorderDelay`, so later frames overtake it.
    public var reorder: Double = 0
    public var reorderDelay: Interval = .milliseconds(1)
    /// Probability that one byte of the frame is flipped (past the Ethernet header, so it still arrives).
    public var corrupt: Double = 0
    /// Link rate in bits per second (0: unlimited): frames queue behind each other.
    public var rateBitsPerSecond: Int = 0
    /// Targeted rules, tried in order; the first that matches decides.
    public var rules: [TargetedRule] = []

    public init(loss: Double = 0, delay: Interval = .zero, jitter: Interval = .zero, duplicate: Double = 0, reorder: Double = 0,
                reorderDelay: Interval = .milliseconds(1), corrupt: Double = 0, rateBitsPerSecond: Int = 0,
                rules: [TargetedRule] = []) {
        self.loss = loss
        self.delay = delay
        self.jitter = jitter
        self.duplicate = duplicate
        self.reorder = reorder
        self.reorderDelay = reorderDelay
        self.corrupt = corrupt
        self.rateBitsPerSecond = rateBitsPerSecond
        self.rules = rules
    }

    /// No impairment at all.
    public static let none = Impairment()
    public var isNone: Bool { self == .none }
}

/// Which frames a targeted rule applies to. Every field that is set must match.
public struct FrameMatch: Hashable, Sendable, CustomStringConvertible {
    /// Exact TCP flags, as tcpdump prints them (`S`, `S.`, `.`, `P.`, `F.`, `R`…).
    public var flags: TCPFlags?
    /// TCP payload length (0 for a pure ACK).
    public var payloadLength: Int?
    /// Source or destination port.
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    /// Match ARP frames instead of TCP.
    public var arp: Bool = false

    public init(flags: TCPFlags? = nil, payloadLength: Int? = nil, sourcePort: UInt16? = nil, destinationPort: UInt16? = nil,
                arp: Bool = false) {
        self.flags = flags
        self.payloadLength = payloadLength
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.arp = arp
    }

    public func matches(_ frame: Frame) -> Bool {
        if arp { return frame.arp != nil }
        guard let s = frame.tcpSegment else { return false }
        if let f = flags, s.tcp.flags.intersection([.fin, .syn, .rst, .psh, .ack, .urg]) != f { return false }
        if let n = payloadLength, s.payload.count != n { return false }
        if let p = sourcePort, s.tcp.sourcePort != p { return false }
        if let p = destinationPort, s.tcp.destinationPort != p { return false }
        return true
    }

    public var description: String {
        if arp { return "ARP" }
        var parts: [String] = []
        if let f = flags { parts.append("flags \(f.tcpdumpString)") }
        if let n = payloadLength { parts.append("length \(n)") }
        if let p = sourcePort { parts.append("sport \(p)") }
        if let p = destinationPort { parts.append("dport \(p)") }
        return parts.isEmpty ? "any TCP segment" : parts.joined(separator: ", ")
    }
}

/// "Drop the first pure ACK", "delay every SYN-ACK by 2 s", "drop the 2nd SYN".
public struct TargetedRule: Hashable, Sendable, CustomStringConvertible {
    public enum Action: Hashable, Sendable {
        case drop
        case delay(Interval)
    }

    public var match: FrameMatch
    /// Which matching frames: nil for every one, else the listed ordinals (1 is the first match).
    public var nth: Set<Int>?
    public var action: Action
    /// A name for reports; the generated description when nil.
    public var name: String?

    public init(match: FrameMatch, nth: Set<Int>? = nil, action: Action, name: String? = nil) {
        self.match = match
        self.nth = nth
        self.action = action
        self.name = name
    }

    public var description: String {
        if let name { return name }
        let which = nth.map { "match #\($0.sorted().map(String.init).joined(separator: ","))" } ?? "every match"
        switch action {
        case .drop: return "drop \(which) of \(match)"
        case let .delay(d): return "delay \(which) of \(match) by \(d)"
        }
    }
}

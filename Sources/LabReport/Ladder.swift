/// A ladder diagram (a "sequence diagram" of segments): a lifeline per node, time flowing down, an
/// arrow per segment, state changes written on the lifelines, drops ending in a cross at the node that
/// dropped them, and long quiet gaps folded. The model is built once (`Ladder.build`) and drawn by
/// `renderTerminal` and `renderSVG`.
public struct Ladder: Sendable {
    /// A vertical line: a lab node, or an address when the ladder comes from a pcap.
    public struct Lifeline: Hashable, Sendable {
        public var name: String
        /// Shown under the name: the role, the addresses.
        public var detail: String
        /// A middlebox: segments cross it; drops end on it.
        public var isMiddlebox: Bool

        public init(name: String, detail: String = "", isMiddlebox: Bool = false) {
            self.name = name
            self.detail = detail
            self.isMiddlebox = isMiddlebox
        }
    }

    /// One segment, as the arrow draws it.
    public struct Arrow: Hashable, Sendable {
        /// Nanoseconds since the start, when it left its sender (or was first seen).
        public var t: Int64
        public var from: Int
        public var to: Int
        /// `198.18.0.1:40000`: the connection and direction, for the relative numbers.
        public var src: String
        public var dst: String
        public var flags: String
        /// Absolute numbers, as on the wire.
        public var seq: UInt32
        public var ack: UInt32?
        /// Relative to each direction's ISN, as Wireshark shows them (`Ladder.build` fills them in).
        public var relativeSeq: UInt32
        public var relativeAck: UInt32?
        public var win: Int
        public var len: Int
        /// tcpdump's option list (`mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 10`), nil when none.
        public var options: String?
        /// The rule that dropped it, and the lifeline where it died (the middlebox).
        public var droppedBy: String?
        public var droppedAt: Int?
        /// The same segment sent again (same seq, flags and length as an earlier one in its direction).
        public var isRetransmission: Bool
        /// Tie-breaker for records of the same instant (the event stream's order).
        public var order: Int = 0

        public init(t: Int64, from: Int, to: Int, src: String = "", dst: String = "", flags: String, seq: UInt32, ack: UInt32?,
                    win: Int, len: Int, options: String?, droppedBy: String? = nil, droppedAt: Int? = nil) {
            self.t = t
            self.from = from
            self.to = to
            self.src = src
            self.dst = dst
            self.flags = flags
            self.seq = seq
            self.ack = ack
            relativeSeq = seq
            relativeAck = ack
            self.win = win
            self.len = len
            self.options = options
            self.droppedBy = droppedBy
            self.droppedAt = droppedAt
            isRetransmission = false
        }

        /// `S. seq 0 ack 1 win 65160`, with `len N` when it carries data (relative numbers).
        public var label: String {
            var s = "\(flags) seq \(relativeSeq)"
            if let a = relativeAck { s += " ack \(a)" }
            s += " win \(win)"
            if len > 0 { s += " len \(len)" }
            return s
        }

        /// The options shortened for a narrow picture: `TS val 5 ecr 0` becomes `TS 5:0`, `nop`s go.
        public var shortOptions: String? {
            guard let o = options, !o.isEmpty else { return nil }
            let parts = o.split(separator: ",").map { String($0) }.filter { $0 != "nop" && $0 != "eol" }
            return parts.map { p in
                if p.hasPrefix("TS val ") {
                    let words = p.split(separator: " ")
                    if words.count == 5 { return "TS \(words[2]):\(words[4])" }
                }
                return p
            }.joined(separator: ",")
        }
    }

    public enum Item: Hashable, Sendable {
        case arrow(Arrow)
        /// A state change (or any note) written on a lifeline.
        case state(t: Int64, lifeline: Int, text: String)
        /// Nothing happened for this long (nanoseconds).
        case gap(Int64)
    }

    public var title: String
    public var lifelines: [Lifeline]
    /// In time order, with the long gaps folded in.
    public var items: [Item]

    public init(title: String, lifelines: [Lifeline], items: [Item]) {
        self.title = title
        self.lifelines = lifelines
        self.items = items
    }

    public var arrows: [Arrow] { items.compactMap { if case let .arrow(a) = $0 { a } else { nil } } }
}

/// A segment as a node recorded it: the input the ladder is built from (LabEvent carries the same).
public struct TraceSegment: Hashable, Sendable {
    public var t: Int64
    public var node: String
    /// `out` (sent), `in` (received), or `through` / `drop` at a middlebox.
    public var dir: String
    /// `198.18.0.1:40000`.
    public var src: String
    public var dst: String
    public var flags: String
    public var seq: UInt32
    public var ack: UInt32?
    public var win: Int
    public var len: Int
    public var options: String?
    public var droppedBy: String?
    /// Position in the original event stream: breaks ties between records of the same instant.
    public var order: Int

    public init(t: Int64, node: String, dir: String, src: String, dst: String, flags: String, seq: UInt32, ack: UInt32?,
                win: Int, len: Int, options: String?, droppedBy: String? = nil, order: Int = 0) {
        self.t = t
        self.order = order
        self.node = node
        self.dir = dir
        self.src = src
        self.dst = dst
        self.flags = flags
        self.seq = seq
        self.ack = ack
        self.win = win
        self.len = len
        self.options = options
        self.droppedBy = droppedBy
    }

    /// The fields that identify one segment on its way (sent, dropped, received).
    var identity: String { "\(src)>\(dst) \(flags) \(seq) \(ack.map(String.init) ?? "-") \(len)" }
}

/// A state change on a node (`SYN_SENT`, `ESTABLISHED`…), with its cause.
public struct TraceState: Hashable, Sendable {
    public var t: Int64
    public var node: String
    public var text: String
    /// Position in the original event stream (see `TraceSegment.order`).
    public var order: Int
    public init(t: Int64, node: String, text: String, order: Int = 0) {
        self.t = t
        self.order = order
        self.node = node
        self.text = text
    }
}

extension Ladder {
    /// Quiet gaps longer than this are folded (drawn as one marker with their duration).
    public static let defaultFold: Int64 = 200_000_000

    /// Builds the diagram from what the nodes recorded.
    ///
    /// Each segment is drawn once: from its sender's `out` record (or, when the sender recorded
    /// nothing, the first record of it anywhere), to the node whose address it was sent to. A drop
    /// recorded at a middlebox turns the arrow into one that ends there with the rule.
    /// - Parameters:
    ///   - lifelines: left to right (client, middlebox, server).
    ///   - foldGapsLongerThan: nanoseconds; nil never folds.
    public static func build(title: String, lifelines: [Lifeline], segments: [TraceSegment], states: [TraceState],
                             foldGapsLongerThan fold: Int64? = defaultFold) -> Ladder {
        let index = Dictionary(lifelines.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Which lifeline owns an address: the node that sends from it or receives at it.
        var owner: [String: Int] = [:]
        for s in segments {
            guard let i = index[s.node], !lifelines[i].isMiddlebox else { continue }
            let mine = s.dir == "out" ? s.src : s.dst
            if owner[host(mine)] == nil { owner[host(mine)] = i }
        }
        for (i, l) in lifelines.enumerated() where owner[l.name] == nil && !l.isMiddlebox { owner[l.name] = i }
        let middle = lifelines.firstIndex { $0.isMiddlebox }

        // One arrow per segment: the sender's record wins; drops are matched to it in order.
        var drops: [String: [TraceSegment]] = [:]
        for s in segments where s.droppedBy != nil { drops[s.identity, default: []].append(s) }
        var arrows: [Arrow] = []
        let sorted = segments.enumerated().sorted { ($0.element.t, $0.element.order, $0.offset) < ($1.element.t, $1.element.order, $1.offset) }.map(\.element)
        let hasSender = Set(sorted.filter { $0.dir == "out" }.map(\.identity))
        // Where each segment arrived: an arrow starts at the earlier of its send and its arrival, since
        // a capture-based sender (a kernel node) stamps its segments when it reads them back, later.
        var arrivals: [String: [TraceSegment]] = [:]
        for s in sorted where s.dir == "in" { arrivals[s.identity, default: []].append(s) }
        for s in sorted {
            let isSend = s.dir == "out"
            let isOrphanReceive = s.dir == "in" && !hasSender.contains(s.identity)
            guard isSend || isOrphanReceive else { continue }
            guard let from = owner[host(s.src)], let to = owner[host(s.dst)] else { continue }
            var first = s
            if isSend, var pending = arrivals[s.identity], let k = pending.firstIndex(where: { abs($0.t - s.t) <= 1_000_000_000 }) {
                let arrival = pending.remove(at: k)
                arrivals[s.identity] = pending
                if arrival.t < s.t { first = arrival }
            }
            var a = Arrow(t: first.t, from: from, to: to, src: s.src, dst: s.dst, flags: s.flags, seq: s.seq, ack: s.ack, win: s.win, len: s.len, options: s.options)
            // The drop of this very copy: the same segment, at the middlebox within 100 ms of the send.
            if var pending = drops[s.identity], let k = pending.firstIndex(where: { abs($0.t - s.t) <= 100_000_000 }) {
                let d = pending.remove(at: k)
                drops[s.identity] = pending
                a.droppedBy = d.droppedBy
                a.droppedAt = index[d.node] ?? middle
            }
            a.order = first.order
            arrows.append(a)
        }
        // Drops whose sender recorded nothing (a kernel peer seen from the other side only).
        for (_, rest) in drops {
            for d in rest {
                guard let from = owner[host(d.src)], let to = owner[host(d.dst)] else { continue }
                var a = Arrow(t: d.t, from: from, to: to, src: d.src, dst: d.dst, flags: d.flags, seq: d.seq, ack: d.ack, win: d.win, len: d.len, options: d.options)
                a.droppedBy = d.droppedBy
                a.droppedAt = index[d.node] ?? middle
                a.order = d.order
                arrows.append(a)
            }
        }
        arrows = relativize(arrows.enumerated().sorted { ($0.element.t, $0.element.order, $0.offset) < ($1.element.t, $1.element.order, $1.offset) }.map(\.element))

        var items: [(t: Int64, order: Int, n: Int, item: Item)] = []
        for (n, a) in arrows.enumerated() { items.append((a.t, a.order, n, .arrow(a))) }
        for (n, s) in states.enumerated() {
            guard let i = index[s.node] else { continue }
            items.append((s.t, s.order, arrows.count + n, .state(t: s.t, lifeline: i, text: s.text)))
        }
        items.sort { ($0.t, $0.order, $0.n) < ($1.t, $1.order, $1.n) }
        var folded: [Item] = []
        var last: Int64?
        for entry in items {
            if let last, let fold, entry.t - last > fold { folded.append(.gap(entry.t - last)) }
            folded.append(entry.item)
            last = entry.t
        }
        return Ladder(title: title, lifelines: lifelines, items: folded)
    }

    /// `198.18.0.1:80` → `198.18.0.1`.
    static func host(_ endpoint: String) -> String {
        guard let colon = endpoint.lastIndex(of: ":") else { return endpoint }
        return String(endpoint[..<colon])
    }

    /// Relative sequence numbers per connection and direction, as Wireshark computes them: from each
    /// direction's SYN (a new SYN starts a new connection), or from its first segment when the trace
    /// starts mid-connection. Marks retransmissions (the same seq, flags and length again).
    static func relativize(_ arrows: [Arrow]) -> [Arrow] {
        var isn: [String: UInt32] = [:]
        var seen: Set<String> = []
        return arrows.map { a in
            var a = a
            let fwd = "\(a.src)>\(a.dst)", rev = "\(a.dst)>\(a.src)"
            let syn = a.flags.contains("S"), ackFlag = a.flags.contains(".")
            if syn && isn[fwd] != a.seq {
                // A SYN with a new ISN after an earlier one is a new connection on this 4-tuple: the
                // other direction starts over too (a first SYN may cross the peer's: simultaneous open).
                if !ackFlag && isn[fwd] != nil { isn[rev] = nil }
                isn[fwd] = a.seq
            }
            if isn[fwd] == nil { isn[fwd] = a.seq }
            a.relativeSeq = a.seq &- isn[fwd]!
            a.relativeAck = a.ack.map { ack in isn[rev].map { ack &- $0 } ?? ack }
            let key = "\(fwd) \(a.seq) \(a.flags) \(a.len)"
            let occupies = a.len > 0 || syn || a.flags.contains("F")
            a.isRetransmission = occupies && seen.contains(key)
            seen.insert(key)
            return a
        }
    }
}

/// Seconds with microseconds: `63.000050`.
func formatSeconds(_ ns: Int64) -> String {
    let sign = ns < 0 ? "-" : ""
    let v = abs(ns)
    let micros = v / 1000
    let frac = String(micros % 1_000_000)
    return "\(sign)\(micros / 1_000_000).\(String(repeating: "0", count: 6 - frac.count))\(frac)"
}

/// A duration for a fold marker: `1.000 s`, `30 ms`, `2 min 3 s`.
public func formatDuration(_ ns: Int64) -> String {
    if ns >= 120_000_000_000 {
        let s = ns / 1_000_000_000
        return "\(s / 60) min \(s % 60) s"
    }
    if ns >= 1_000_000_000 {
        let ms = ns / 1_000_000
        let frac = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac) s"
    }
    if ns >= 1_000_000 { return "\(ns / 1_000_000) ms" }
    return "\(ns / 1000) µs"
}

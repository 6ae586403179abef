import Foundation
import TCPEngine
import TCPPolicy

/// One line of a topology's `expect:` list, parsed (the grammar is in docs/topologies.md):
///
///     [NODE] sends|receives [no] "FLAGS" [with data|without data|with length N] [with seq N] [COUNT] [at T, T, … UNIT] [WINDOW]
///     [NODE] state STATE [WINDOW]            [NODE] never reaches STATE
///     [NODE] connect succeeds [WINDOW]       [NODE] connect fails with ERRNO [WINDOW]
///     [NODE] gets ERRNO [WINDOW]             [NODE] accept returns a connection | accept fails with ERRNO
///     [NODE] reads "TEXT"                    [NODE] COUNTER OP N        (OP: ≥ >= ≤ <= = == > < ≠ !=)
///     the Nth segment consumes no sequence number | consumes N sequence number(s)
///
///     COUNT:  once | twice | N times | at least N times | at most N times
///     WINDOW: within D | before D | after D | between D and D   (D from the run's start: 10ms, 1.5s, 2min)
public struct Expectation: Sendable {
    public var text: String
    public var location: SourceLocation
    /// The node it is about; nil: any node (segments, states) or every node added up (counters).
    public var node: String?
    public var clause: Clause

    public enum Direction: String, Sendable {
        case sends, receives
    }

    /// What a matching segment carries.
    public enum Payload: Sendable, Equatable {
        case any
        case data
        case none
        case length(Int)
    }

    /// When something must happen, from the run's start.
    public enum Window: Sendable, Equatable {
        case within(Interval)
        case before(Interval)
        case after(Interval)
        case between(Interval, Interval)

        /// Whether `t` falls in the window, widened by `slack` on each side (real-time runs jitter).
        func contains(_ t: Int64, slack: Int64 = 0) -> Bool {
            switch self {
            case let .within(d), let .before(d): t <= d.nanoseconds + slack
            case let .after(d): t >= d.nanoseconds - slack
            case let .between(a, b): t >= a.nanoseconds - slack && t <= b.nanoseconds + slack
            }
        }

        var text: String {
            switch self {
            case let .within(d): "within \(d)"
            case let .before(d): "before \(d)"
            case let .after(d): "after \(d)"
            case let .between(a, b): "between \(a) and \(b)"
            }
        }
    }

    public enum Comparison: String, Sendable {
        case atLeast = "≥", atMost = "≤", equal = "=", more = ">", less = "<", notEqual = "≠"

        func holds(_ a: Int, _ b: Int) -> Bool {
            switch self {
            case .atLeast: a >= b
            case .atMost: a <= b
            case .equal: a == b
            case .more: a > b
            case .less: a < b
            case .notEqual: a != b
            }
        }

        /// The values that satisfy `x OP v`, for contradiction checks.
        func range(_ v: Int) -> ClosedRange<Int>? {
            switch self {
            case .atLeast: v...Int.max
            case .atMost: Int.min...v
            case .equal: v...v
            case .more: v == Int.max ? nil : (v + 1)...Int.max
            case .less: v == Int.min ? nil : Int.min...(v - 1)
            case .notEqual: nil
            }
        }
    }

    public enum Clause: Sendable {
        /// `flags` nil: any segment. `count`: how many may match (nil: at least one). `schedule`: the
        /// matches' times from the first one.
        case segments(Direction, flags: String?, payload: Payload, seq: UInt32?, count: ClosedRange<Int>?, schedule: [Interval]?, window: Window?)
        case state(String, window: Window?)
        case neverReaches(String)
        case connectSucceeds(window: Window?)
        case connectFails(errno: String, window: Window?)
        case error(errno: String, window: Window?)
        case acceptReturns
        case acceptFails(errno: String)
        case reads(String)
        case counter(name: String, Comparison, Int)
        /// The Nth segment on the wire (1-based) occupies `count` sequence numbers.
        case consumes(ordinal: Int, count: Int)
    }
}

/// The tokens of an expectation, each with its column offset in the text.
struct ExpectationTokens {
    struct Token {
        var text: String
        var offset: Int
        var quoted: Bool
    }

    var tokens: [Token] = []
    var position = 0

    init(_ text: String) {
        var current = ""
        var start = 0
        var i = 0
        var quote: Character?
        func flush(quoted: Bool = false) {
            if !current.isEmpty || quoted { tokens.append(Token(text: current, offset: start, quoted: quoted)) }
            current = ""
        }
        for c in text {
            if let q = quote {
                if c == q || (q == "\u{201C}" && c == "\u{201D}") {
                    flush(quoted: true)
                    quote = nil
                } else {
                    current.append(c)
                }
            } else if c == "\"" || c == "'" || c == "\u{201C}" {
                flush()
                quote = c
                start = i
            } else if c == " " || c == "\t" {
                flush()
            } else if c == "," {
                flush()
                tokens.append(Token(text: ",", offset: i, quoted: false))
            } else {
                if current.isEmpty { start = i }
                current.append(c)
            }
            i += 1
        }
        if quote != nil { flush(quoted: true) } else { flush() }
        // Split comparison operators glued to a word or number (`ListenOverflows>=1`).
        var split: [Token] = []
        for t in tokens {
            guard !t.quoted else { split.append(t); continue }
            var rest = t.text
            var off = t.offset
            while let r = Self.operatorRange(in: rest) {
                let before = String(rest[rest.startIndex..<r.lowerBound])
                if !before.isEmpty { split.append(Token(text: before, offset: off, quoted: false)) }
                let op = String(rest[r])
                split.append(Token(text: op, offset: off + before.count, quoted: false))
                off += before.count + op.count
                rest = String(rest[r.upperBound...])
            }
            if !rest.isEmpty { split.append(Token(text: rest, offset: off, quoted: false)) }
        }
        tokens = split
    }

    static let operators = [">=", "<=", "==", "!=", "≥", "≤", "≠", "=", ">", "<"]

    static func operatorRange(in s: String) -> Range<String.Index>? {
        var best: Range<String.Index>?
        for op in operators {
            if let r = s.range(of: op), best == nil || r.lowerBound < best!.lowerBound
                || (r.lowerBound == best!.lowerBound && s[r].count > s[best!].count) {
                best = r
            }
        }
        return best
    }

    var atEnd: Bool { position >= tokens.count }
    var peek: Token? { atEnd ? nil : tokens[position] }

    func peek(_ n: Int) -> Token? { position + n < tokens.count ? tokens[position + n] : nil }

    mutating func next() -> Token? {
        guard !atEnd else { return nil }
        defer { position += 1 }
        return tokens[position]
    }

    /// Consumes the words if they come next (case-insensitive).
    mutating func accept(_ words: String...) -> Bool {
        for (k, w) in words.enumerated() {
            guard let t = peek(k), !t.quoted, t.text.lowercased() == w else { return false }
        }
        position += words.count
        return true
    }
}

/// Why an expectation does not parse, and where in its text.
struct ExpectationSyntaxError: Error {
    var message: String
    var offset: Int
    var suggestion: String?
}

extension Expectation {
    static let ordinals = ["first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                           "eighth": 8, "ninth": 9, "tenth": 10]
    static let errnos = ["EAGAIN", "EINVAL", "EADDRINUSE", "EADDRNOTAVAIL", "EISCONN", "ENOTCONN", "EALREADY", "EINPROGRESS",
                         "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EBADF", "ENOPROTOOPT", "EOPNOTSUPP"]
    static let states = TCPState.allCases.map(\.description) + ["CLOSED"]
    static let verbs = ["sends", "receives", "state", "reaches", "never", "connect", "gets", "accept", "reads"]

    /// Parses one expectation. `nodes` are the topology's node names.
    static func parse(_ text: String, nodes: [String]) throws(ExpectationSyntaxError) -> (node: String?, clause: Clause) {
        var t = ExpectationTokens(text)
        guard let first = t.peek else { throw ExpectationSyntaxError(message: "empty expectation", offset: 0) }
        if first.text.lowercased() == "the" { return (nil, try parseConsumes(&t)) }
        var node: String?
        if !first.quoted, nodes.contains(first.text) {
            node = first.text
            _ = t.next()
        } else if !first.quoted, let guess = closest(to: first.text, in: nodes),
                  let second = t.peek(1), verbs.contains(second.text.lowercased()) {
            throw ExpectationSyntaxError(message: "unknown node \(first.text)", offset: first.offset, suggestion: "did you mean \(guess)?")
        }
        guard let verb = t.peek else {
            throw ExpectationSyntaxError(message: "what about \(node ?? "it")? expected sends, receives, state, connect, a counter…",
                                         offset: text.count)
        }
        let clause: Clause
        switch verb.text.lowercased() {
        case "sends", "receives":
            clause = try parseSegments(&t)
        case "state", "reaches":
            _ = t.next()
            let s = try state(&t)
            clause = .state(s, window: try window(&t))
        case "never":
            _ = t.next()
            guard t.accept("reaches") || t.accept("enters") else {
                throw ExpectationSyntaxError(message: "expected 'never reaches STATE'", offset: t.peek?.offset ?? text.count)
            }
            clause = .neverReaches(try state(&t))
        case "connect":
            _ = t.next()
            if t.accept("succeeds") {
                clause = .connectSucceeds(window: try window(&t))
            } else if t.accept("fails", "with") {
                let e = try errno(&t)
                clause = .connectFails(errno: e, window: try window(&t))
            } else {
                throw ExpectationSyntaxError(message: "expected 'connect succeeds' or 'connect fails with ERRNO'",
                                             offset: t.peek?.offset ?? text.count)
            }
        case "gets":
            _ = t.next()
            let e = try errno(&t)
            clause = .error(errno: e, window: try window(&t))
        case "accept":
            _ = t.next()
            if t.accept("returns") {
                _ = t.accept("a", "connection") || t.accept("a", "socket") || t.accept("the", "child")
                clause = .acceptReturns
            } else if t.accept("fails", "with") {
                clause = .acceptFails(errno: try errno(&t))
            } else {
                throw ExpectationSyntaxError(message: "expected 'accept returns a connection' or 'accept fails with ERRNO'",
                                             offset: t.peek?.offset ?? text.count)
            }
        case "reads":
            _ = t.next()
            guard let q = t.next(), q.quoted else {
                throw ExpectationSyntaxError(message: "expected the text in quotes: reads \"hello\"", offset: verb.offset)
            }
            clause = .reads(q.text)
        default:
            clause = try parseCounter(&t, text: text)
        }
        if let extra = t.peek {
            throw ExpectationSyntaxError(message: "unexpected '\(extra.text)'", offset: extra.offset,
                                         suggestion: "the expectation was complete before it; see docs/topologies.md for the grammar")
        }
        return (node, clause)
    }

    static func parseSegments(_ t: inout ExpectationTokens) throws(ExpectationSyntaxError) -> Clause {
        let verb = t.next()!
        let dir: Direction = verb.text.lowercased() == "sends" ? .sends : .receives
        var count: ClosedRange<Int>?
        if t.accept("no") { count = 0...0 }
        var flags: String?
        if let f = t.peek, f.quoted {
            _ = t.next()
            guard Self.validFlags(f.text) else {
                throw ExpectationSyntaxError(message: "\"\(f.text)\" is not a tcpdump flag set", offset: f.offset,
                                             suggestion: "write the flags as tcpdump does: S, S., ., P., F., R, R.")
            }
            flags = f.text
        } else if t.accept("a", "segment") || t.accept("segments") || t.accept("anything") {
            flags = nil
        } else {
            throw ExpectationSyntaxError(message: "expected the flags in quotes, as tcpdump prints them (\"S\", \"S.\", \".\", \"R\")",
                                         offset: t.peek?.offset ?? verb.offset + verb.text.count + 1)
        }
        var payload = Payload.any
        if t.accept("with", "data") { payload = .data }
        else if t.accept("without", "data") { payload = .none }
        else if t.accept("with", "length") || t.accept("with", "len") {
            guard let n = t.next(), let v = Int(n.text) else {
                throw ExpectationSyntaxError(message: "expected a length", offset: t.peek?.offset ?? 0)
            }
            payload = .length(v)
        }
        var seq: UInt32?
        if t.accept("with", "seq") {
            guard let n = t.next(), let v = UInt32(n.text) else {
                throw ExpectationSyntaxError(message: "expected a sequence number (absolute, as on the wire)", offset: t.peek?.offset ?? 0)
            }
            seq = v
        }
        if count == nil {
            if t.accept("once") { count = 1...1 }
            else if t.accept("twice") { count = 2...2 }
            else if t.accept("never") { count = 0...0 }
            else if t.accept("at", "least") {
                let n = try number(&t)
                _ = t.accept("times") || t.accept("time")
                count = n...Int.max
            } else if t.accept("at", "most") {
                let n = try number(&t)
                _ = t.accept("times") || t.accept("time")
                count = 0...n
            } else if let n = t.peek, Int(n.text) != nil, let w = t.peek(1), ["times", "time"].contains(w.text.lowercased()) {
                _ = t.next()
                _ = t.next()
                count = Int(n.text)!...Int(n.text)!
            }
        }
        var schedule: [Interval]?
        if let at = t.peek, at.text.lowercased() == "at", let n = t.peek(1), Double(n.text) != nil || parseDuration(n.text) != nil {
            _ = t.next()
            schedule = try times(&t)
        }
        return .segments(dir, flags: flags, payload: payload, seq: seq, count: count, schedule: schedule, window: try window(&t))
    }

    /// `0, 1, 3, 7 s` or `0s, 1s` or `0, 200, 400 ms`.
    static func times(_ t: inout ExpectationTokens) throws(ExpectationSyntaxError) -> [Interval] {
        var raw: [(String, Int)] = []
        while let tok = t.next() {
            raw.append((tok.text, tok.offset))
            if t.peek?.text == "," { _ = t.next(); continue }
            break
        }
        var unit = "s"
        if let u = t.peek, !u.quoted, parseDuration("1" + u.text) != nil, Double(u.text) == nil {
            unit = u.text
            _ = t.next()
        }
        var out: [Interval] = []
        for (text, offset) in raw {
            let withUnit = Double(text) != nil ? text + unit : text
            guard let d = parseDuration(withUnit) else {
                throw ExpectationSyntaxError(message: "'\(text)' is not a time", offset: offset, suggestion: "write times as 0, 1, 3 s or 0ms, 200ms")
            }
            out.append(d)
        }
        return out
    }

    static func window(_ t: inout ExpectationTokens) throws(ExpectationSyntaxError) -> Window? {
        if t.accept("within") { return .within(try duration(&t)) }
        if t.accept("before") || t.accept("by") { return .before(try duration(&t)) }
        if t.accept("after") { return .after(try duration(&t)) }
        if t.accept("between") {
            let a = try duration(&t)
            guard t.accept("and") else { throw ExpectationSyntaxError(message: "expected 'and'", offset: t.peek?.offset ?? 0) }
            let b = try duration(&t)
            return .between(a, b)
        }
        return nil
    }

    static func duration(_ t: inout ExpectationTokens) throws(ExpectationSyntaxError) -> Interval {
        guard let tok = t.next() else { throw ExpectationSyntaxError(message: "expected a time such as 10ms or 1.5s", offset: 0) }
        if let d = parseDuration(tok.text), Double(tok.text) == nil { return d }
        if Double(tok.text) != nil, let u = t.peek, let d = parseDuration(tok.text + u.text) {
            _ = t.next()
            return d
        }
        if let d = parseDuration(tok.text) { return d }
        throw ExpectationSyntaxError(message: "'\(tok.text)' is not a time", offset: tok.offset, suggestion: "write 10ms, 1.5s or 2min")
    }

    static func number(_ t: inout ExpectationTokens) throws(ExpectationSyntaxError) -> Int {
        guard let tok = t.next(), let n = Int(tok.text) else {
            throw ExpectationSyntaxError(message: "expected a number", offset: t.peek?.offset ?? 0)
        }
        return n
    }

    static func state(_ t: inout ExpectationTokens) throws(ExpectationSyntaxError) -> String {
        guard let tok = t.next() else { throw ExpectationSyntaxError(message: "expected a state such as ESTABLISHED", offset: 0) }
        let name = tok.text.uppercased().replacingOccurrences(of: "-", with: "_")
        guard states.contains(name) else {
            throw ExpectationSyntaxError(message: "unknown TCP state \(tok.text)", offset: tok.offset,
                                         suggestion: didYouMean(name, states) ?? "states: \(states.joined(separator: ", "))")
        }
        return name == "CLOSED" ? "CLOSE" : name
    }

    static func errno(_ t: inout ExpectationTokens) throws(ExpectationSyntaxError) -> String {
        guard let tok = t.next() else { throw ExpectationSyntaxError(message: "expected an errno name such as ETIMEDOUT", offset: 0) }
        guard errnos.contains(tok.text) else {
            throw ExpectationSyntaxError(message: "unknown errno \(tok.text)", offset: tok.offset,
                                         suggestion: didYouMean(tok.text, errnos) ?? "errno names: \(errnos.joined(separator: ", "))")
        }
        return tok.text
    }

    static func parseCounter(_ t: inout ExpectationTokens, text: String) throws(ExpectationSyntaxError) -> Clause {
        let nameTok = t.next()!
        guard let opTok = t.next() else {
            throw ExpectationSyntaxError(message: "'\(nameTok.text)' is neither a node nor a verb; expected NODE sends…, or COUNTER ≥ N",
                                         offset: nameTok.offset, suggestion: didYouMean(nameTok.text, verbs))
        }
        let op: Comparison
        switch opTok.text {
        case ">=", "≥": op = .atLeast
        case "<=", "≤": op = .atMost
        case "=", "==": op = .equal
        case ">": op = .more
        case "<": op = .less
        case "!=", "≠": op = .notEqual
        default:
            if verbs.contains(opTok.text.lowercased()) {
                throw ExpectationSyntaxError(message: "unknown node \(nameTok.text)", offset: nameTok.offset)
            }
            throw ExpectationSyntaxError(message: "expected a comparison (≥, >=, ≤, <=, =, >, <, ≠) after \(nameTok.text)",
                                         offset: opTok.offset, suggestion: didYouMean(nameTok.text, verbs).map { "or \($0)" })
        }
        let value = try number(&t)
        return .counter(name: nameTok.text, op, value)
    }

    static func parseConsumes(_ t: inout ExpectationTokens) throws(ExpectationSyntaxError) -> Clause {
        _ = t.next()
        guard let ordTok = t.next() else { throw ExpectationSyntaxError(message: "expected 'the third segment …'", offset: 0) }
        let o = ordTok.text.lowercased()
        var ordinal = ordinals[o]
        if ordinal == nil, o.count > 2, let n = Int(o.dropLast(2)), ["st", "nd", "rd", "th"].contains(String(o.suffix(2))) { ordinal = n }
        guard let ordinal, ordinal >= 1 else {
            throw ExpectationSyntaxError(message: "expected an ordinal such as first, third or 3rd", offset: ordTok.offset)
        }
        guard t.accept("segment") else { throw ExpectationSyntaxError(message: "expected 'segment'", offset: t.peek?.offset ?? 0) }
        guard t.accept("consumes") else { throw ExpectationSyntaxError(message: "expected 'consumes'", offset: t.peek?.offset ?? 0) }
        var count: Int
        if t.accept("no") { count = 0 } else { count = try number(&t) }
        guard t.accept("sequence", "number") || t.accept("sequence", "numbers") else {
            throw ExpectationSyntaxError(message: "expected 'sequence number(s)'", offset: t.peek?.offset ?? 0)
        }
        if let extra = t.peek {
            throw ExpectationSyntaxError(message: "unexpected '\(extra.text)'", offset: extra.offset)
        }
        count = max(0, count)
        return .consumes(ordinal: ordinal, count: count)
    }

    static func validFlags(_ f: String) -> Bool {
        guard !f.isEmpty else { return false }
        return f.allSatisfy { "SFRPUEW.".contains($0) } && (f != "." || true)
    }
}


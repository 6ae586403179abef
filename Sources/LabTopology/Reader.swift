import TCPPolicy

/// Reads typed values out of a `YAMLNode` tree and collects every problem instead of stopping at the
/// first: a topology's author sees all of them at once.
final class Reader {
    private(set) var diagnostics: [Diagnostic] = []

    func error(_ at: SourceLocation, _ message: String, suggestion: String? = nil) {
        diagnostics.append(Diagnostic(at, message, suggestion: suggestion))
    }

    /// The keys of a mapping, checked against `allowed` (unknown ones reported with the nearest
    /// allowed key), duplicates reported. Nil (and a diagnostic) when `node` is not a mapping.
    func mapping(_ node: YAMLNode, _ what: String, allowed: [String]? = nil) -> [(key: YAMLKey, value: YAMLNode)]? {
        guard case let .mapping(pairs) = node.value else {
            if node.isNull { return [] }
            error(node.location, "\(what) should be a mapping (key: value), found \(node.kindDescription)")
            return nil
        }
        var seen: [String: SourceLocation] = [:]
        var out: [(key: YAMLKey, value: YAMLNode)] = []
        for p in pairs {
            if let first = seen[p.key.name] {
                error(p.key.location, "\(what): \(p.key.name) is given twice (first at line \(first.line))",
                      suggestion: "keep one of them")
                continue
            }
            seen[p.key.name] = p.key.location
            if let allowed, !allowed.contains(p.key.name) {
                error(p.key.location, "\(what): unknown key \(p.key.name)",
                      suggestion: didYouMean(p.key.name, allowed) ?? "known keys: \(allowed.joined(separator: ", "))")
                continue
            }
            out.append(p)
        }
        return out
    }

    func list(_ node: YAMLNode, _ what: String) -> [YAMLNode]? {
        switch node.value {
        case let .sequence(items): return items
        case .null: return []
        default:
            error(node.location, "\(what) should be a list (lines starting with -), found \(node.kindDescription)")
            return nil
        }
    }

    func string(_ node: YAMLNode, _ what: String) -> String? {
        guard case let .scalar(s, _) = node.value else {
            error(node.location, "\(what) should be text, found \(node.kindDescription)")
            return nil
        }
        return s
    }

    func int(_ node: YAMLNode, _ what: String, range: ClosedRange<Int>? = nil) -> Int? {
        guard case let .scalar(s, _) = node.value, let v = Int(s.replacingUnderscores) else {
            error(node.location, "\(what) should be a whole number, found \(node.kindDescription)")
            return nil
        }
        if let range, !range.contains(v) {
            error(node.location, "\(what) \(v) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return v
    }

    func double(_ node: YAMLNode, _ what: String, range: ClosedRange<Double>? = nil) -> Double? {
        guard case let .scalar(s, _) = node.value, let v = Double(s.replacingUnderscores) else {
            error(node.location, "\(what) should be a number, found \(node.kindDescription)")
            return nil
        }
        if let range, !range.contains(v) {
            error(node.location, "\(what) \(v) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return v
    }

    func bool(_ node: YAMLNode, _ what: String) -> Bool? {
        switch node.scalar?.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default:
            error(node.location, "\(what) should be true or false, found \(node.kindDescription)")
            return nil
        }
    }

    /// `10ms`, `1.5s`, `70 s`, `2min`, `500us`; a bare number is seconds.
    func duration(_ node: YAMLNode, _ what: String) -> Interval? {
        guard case let .scalar(s, _) = node.value, let d = parseDuration(s) else {
            error(node.location, "\(what) should be a duration such as 10ms, 1.5s or 2min, found \(node.kindDescription)")
            return nil
        }
        return d
    }
}

extension String {
    var replacingUnderscores: String { String(filter { $0 != "_" }) }
}

/// Parses `10ms`, `1.5s`, `70 s`, `2min`, `500us`, `250µs`, `3ns`; a bare number is seconds.
public func parseDuration(_ text: String) -> Interval? {
    let t = text.trimmingSpaces
    guard !t.isEmpty else { return nil }
    var number = ""
    var unit = ""
    for c in t {
        if unit.isEmpty && (c.isNumber || c == "." || c == "_") {
            if c != "_" { number.append(c) }
        } else if c != " " {
            unit.append(c)
        }
    }
    guard let v = Double(number), v >= 0 else { return nil }
    let scale: Double
    switch unit.lowercased() {
    case "", "s", "sec", "secs", "second", "seconds": scale = 1e9
    case "ms", "msec", "millisecond", "milliseconds": scale = 1e6
    case "us", "µs", "usec", "microsecond", "microseconds": scale = 1e3
    case "ns", "nanosecond", "nanoseconds": scale = 1
    case "m", "min", "mins", "minute", "minutes": scale = 60e9
    default: return nil
    }
    return Interval(nanoseconds: Int64((v * scale).rounded()))
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}

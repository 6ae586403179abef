/// Where in a topology file something was written (1-based line and column, as editors count).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// One problem in a topology file: where, what, and the way out.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    /// "did you mean tcp_synack_retries?", or how to fix it.
    public var suggestion: String?

    public init(_ location: SourceLocation, _ message: String, suggestion: String? = nil) {
        self.location = location
        self.message = message
        self.suggestion = suggestion
    }

    /// `file:line:column: error: message (suggestion)`, as compilers print errors.
    public var description: String {
        "\(location): error: \(message)" + (suggestion.map { " (\($0))" } ?? "")
    }
}

/// Every problem found in a topology file, in file order. A topology with any never starts a lab.
public struct TopologyErrors: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) {
        var seen = Set<Diagnostic>()
        self.diagnostics = diagnostics.filter { seen.insert($0).inserted }.sorted { $0.location < $1.location }
    }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
            + "\n\(diagnostics.count) error\(diagnostics.count == 1 ? "" : "s"): no lab was started"
    }
}

/// "did you mean X?" when one of `candidates` is close to `word` (edit distance at most a third of
/// its length, at least 2; a shared prefix of 4 or more also counts).
public func didYouMean(_ word: String, _ candidates: some Sequence<String>) -> String? {
    closest(to: word, in: candidates).map { "did you mean \($0)?" }
}

/// The candidate closest to `word`, if close enough to be a likely typo.
public func closest(to word: String, in candidates: some Sequence<String>) -> String? {
    let w = word.lowercased()
    var best: (String, Int)?
    for c in candidates {
        let d = editDistance(w, c.lowercased())
        if best == nil || d < best!.1 { best = (c, d) }
    }
    guard let (name, distance) = best, distance > 0 || name != word else { return nil }
    let limit = max(2, w.count / 3)
    if distance <= limit { return name }
    // A long shared prefix ("tcp_synack_retry" → "tcp_synack_retries").
    let shared = zip(w, name.lowercased()).prefix { $0 == $1 }.count
    return shared >= max(4, w.count * 2 / 3) ? name : nil
}

/// Levenshtein distance (with adjacent transpositions counted as one edit).
func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a), y = Array(b)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var d = Array(repeating: Array(repeating: 0, count: y.count + 1), count: x.count + 1)
    for i in 0...x.count { d[i][0] = i }
    for j in 0...y.count { d[0][j] = j }
    for i in 1...x.count {
        for j in 1...y.count {
            let cost = x[i - 1] == y[j - 1] ? 0 : 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] {
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
            }
        }
    }
    return d[x.count][y.count]
}

/// The ladder in a terminal: Unicode box drawing, ANSI colour when asked (a TTY), plain otherwise.
extension Ladder {
    public struct TerminalStyle: Sendable {
        /// Total width in columns.
        public var width: Int
        public var colour: Bool
        public init(width: Int = 100, colour: Bool = false) {
            self.width = max(60, width)
            self.colour = colour
        }
    }

    /// The diagram as lines of text (joined with newlines).
    public func renderTerminal(_ style: TerminalStyle = TerminalStyle()) -> String {
        var r = TerminalRenderer(ladder: self, style: style)
        return r.render()
    }
}

/// ANSI colours by what a segment is.
enum Paint: String {
    case none = ""
    case syn = "\u{1B}[36m"
    case synAck = "\u{1B}[35m"
    case rst = "\u{1B}[31m"
    case fin = "\u{1B}[33m"
    case data = "\u{1B}[32m"
    case dim = "\u{1B}[2m"
    case state = "\u{1B}[1;34m"
    case drop = "\u{1B}[1;31m"
    case bold = "\u{1B}[1m"

    static func of(_ a: Ladder.Arrow) -> Paint {
        if a.flags.contains("R") { return .rst }
        if a.flags.contains("S") { return a.flags.contains(".") ? .synAck : .syn }
        if a.flags.contains("F") { return .fin }
        if a.len > 0 { return .data }
        return .none
    }
}

/// One line of cells, each a character with its paint.
struct TextLine {
    var cells: [(Character, Paint)]
    init(width: Int) { cells = Array(repeating: (" ", .none), count: width) }

    mutating func put(_ x: Int, _ c: Character, _ p: Paint = .none) {
        guard x >= 0 && x < cells.count else { return }
        cells[x] = (c, p)
    }

    mutating func write(_ x: Int, _ text: String, _ p: Paint = .none, limit: Int? = nil) {
        var i = x
        let end = min(limit ?? cells.count, cells.count)
        for c in text {
            guard i < end else { break }
            if i >= 0 { cells[i] = (c, p) }
            i += 1
        }
    }

    func string(colour: Bool) -> String {
        var out = ""
        var current = Paint.none
        for (c, p) in cells {
            if colour && p != current {
                if current != .none { out += "\u{1B}[0m" }
                out += p.rawValue
                current = p
            }
            out.append(c)
        }
        if colour && current != .none { out += "\u{1B}[0m" }
        while out.hasSuffix(" ") { out.removeLast() }
        return out
    }
}

struct TerminalRenderer {
    let ladder: Ladder
    let style: Ladder.TerminalStyle
    let timeWidth = 11
    var columns: [Int] = []
    var lines: [String] = []

    init(ladder: Ladder, style: Ladder.TerminalStyle) {
        self.ladder = ladder
        self.style = style
        let n = max(ladder.lifelines.count, 1)
        let left = timeWidth + 4, right = style.width - 4
        columns = n == 1 ? [left] : (0..<n).map { left + (right - left) * $0 / (n - 1) }
    }

    func blank(_ gap: Bool = false) -> TextLine {
        var l = TextLine(width: style.width)
        for (i, x) in columns.enumerated() {
            l.put(x, gap ? "┆" : "│", ladder.lifelines[i].isMiddlebox ? .dim : .none)
        }
        return l
    }

    mutating func emit(_ l: TextLine) { lines.append(l.string(colour: style.colour)) }

    mutating func render() -> String {
        header()
        for item in ladder.items {
            switch item {
            case let .arrow(a): arrow(a)
            case let .state(t, i, text): state(t, i, text)
            case let .gap(d): gap(d)
            }
        }
        var end = blank()
        for (i, x) in columns.enumerated() { end.put(x, "╵", ladder.lifelines[i].isMiddlebox ? .dim : .none) }
        emit(end)
        return lines.joined(separator: "\n")
    }

    mutating func header() {
        if !ladder.title.isEmpty {
            var t = TextLine(width: style.width)
            t.write(0, ladder.title, .bold)
            emit(t)
            emit(TextLine(width: style.width))
        }
        var names = TextLine(width: style.width)
        var details = TextLine(width: style.width)
        names.write(0, "time (s)", .dim)
        for (i, l) in ladder.lifelines.enumerated() {
            let x = columns[i]
            names.write(centered(x, l.name), l.name, .bold)
            if !l.detail.isEmpty { details.write(centered(x, l.detail), l.detail, .dim) }
        }
        emit(names)
        if !ladder.lifelines.allSatisfy({ $0.detail.isEmpty }) { emit(details) }
        var top = TextLine(width: style.width)
        for (i, x) in columns.enumerated() { top.put(x, "╷", ladder.lifelines[i].isMiddlebox ? .dim : .none) }
        emit(top)
    }

    /// Where text of this width starts so it is centred on column `x` (kept on screen).
    func centered(_ x: Int, _ text: String) -> Int {
        min(max(0, x - text.count / 2), max(0, style.width - text.count))
    }

    func stamp(_ t: Int64) -> String {
        let s = formatSeconds(t)
        return String(repeating: " ", count: max(0, timeWidth - s.count)) + s
    }

    mutating func arrow(_ a: Ladder.Arrow) {
        let paint = Paint.of(a)
        let x0 = columns[a.from], x1 = columns[a.to]
        let rightward = x1 >= x0
        let end = a.droppedAt.map { columns[$0] } ?? x1
        let lo = min(x0, x1), hi = max(x0, x1)
        let span = hi - lo - 3
        var label = (a.isRetransmission ? "↻ " : "") + a.label
        let options = a.shortOptions.map { "‹\($0)›" }
        var optionsLine: String?
        if let o = options {
            if label.count + 1 + o.count <= span { label += " " + o } else { optionsLine = o }
        }
        // Label line, centred over the arrow.
        var l1 = blank()
        let startLabel = lo + 2 + max(0, (span - label.count) / 2)
        l1.write(startLabel, label, paint, limit: hi - 1)
        emit(l1)
        // The arrow.
        var l2 = blank()
        l2.write(0, stamp(a.t), .dim)
        if rightward {
            for x in (x0 + 1)..<max(x0 + 1, end) {
                let crossing = columns.contains(x)
                l2.put(x, crossing ? "┼" : "─", paint)
            }
            if let rule = a.droppedBy {
                l2.put(end, "✕", .drop)
                let room = style.width - end - 2
                let shown = rule.count <= room ? rule : String(rule.prefix(max(0, room - 1))) + "…"
                l2.write(end + 2, shown, .drop)
            } else {
                l2.put(x1 - 1, "►", paint)
            }
            l2.put(x0, "├", paint)
        } else {
            for x in min(end + 1, x0)..<x0 {
                let crossing = columns.contains(x)
                l2.put(x, crossing ? "┼" : "─", paint)
            }
            if let rule = a.droppedBy {
                l2.put(end, "✕", .drop)
                let text = rule
                let room = end - 1 - (columns.first { $0 < end }.map { $0 + 2 } ?? 0)
                let shown = text.count <= room ? text : String(text.prefix(max(0, room - 1))) + "…"
                l2.write(end - 1 - shown.count, shown, .drop)
            } else {
                l2.put(x1 + 1, "◄", paint)
            }
            l2.put(x0, "┤", paint)
        }
        emit(l2)
        if let o = optionsLine {
            var l3 = blank()
            l3.write(lo + 2 + max(0, (span - o.count) / 2), o, .dim, limit: hi - 1)
            emit(l3)
        }
    }

    mutating func state(_ t: Int64, _ i: Int, _ text: String) {
        var l = blank()
        l.write(0, stamp(t), .dim)
        let x = columns[i]
        let leftHalf = i < (ladder.lifelines.count + 1) / 2 || ladder.lifelines.count == 1
        l.put(x, "●", .state)
        if leftHalf {
            let limit = columns.first { $0 > x }.map { $0 - 1 } ?? style.width
            l.write(x + 2, text, .state, limit: limit)
        } else {
            let floor = (columns.last { $0 < x }.map { $0 + 2 }) ?? 0
            let room = x - 1 - floor
            let shown = text.count <= room ? text : String(text.prefix(max(0, room - 1))) + "…"
            l.write(x - 1 - shown.count, shown, .state)
        }
        emit(l)
    }

    mutating func gap(_ d: Int64) {
        var l = blank(true)
        let text = " \(formatDuration(d)) later "
        let mid = columns.count > 1 ? (columns[0] + columns[1]) / 2 : columns[0] + 10
        l.write(mid - text.count / 2, text, .dim)
        emit(l)
    }
}

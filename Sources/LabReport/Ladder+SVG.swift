/// The ladder as a standalone SVG: same rows as the terminal picture, arrows sloping down a little,
/// every arrow with a tooltip holding the absolute numbers and the full option list.
extension Ladder {
    public func renderSVG() -> String {
        SVGRenderer(ladder: self).render()
    }
}

/// Escapes text for XML content and attributes.
public func xmlEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.count)
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}

enum SVGColour {
    static func of(_ a: Ladder.Arrow) -> String {
        if a.flags.contains("R") { return "#c62828" }
        if a.flags.contains("S") { return a.flags.contains(".") ? "#7b1fa2" : "#1565c0" }
        if a.flags.contains("F") { return "#ef6c00" }
        if a.len > 0 { return "#2e7d32" }
        return "#455a64"
    }
}

struct SVGRenderer {
    let ladder: Ladder
    let timeMargin = 84.0
    let side = 150.0
    let headerHeight = 70.0
    var columns: [Double] = []
    var width: Double = 0

    init(ladder: Ladder) {
        self.ladder = ladder
        let n = max(1, ladder.lifelines.count)
        let spacing = n <= 2 ? 560.0 : 340.0
        columns = (0..<n).map { timeMargin + side + Double($0) * spacing }
        width = (columns.last ?? 0) + side
    }

    func rowHeight(_ item: Ladder.Item) -> Double {
        switch item {
        case .arrow: 46
        case .state: 22
        case .gap: 34
        }
    }

    func render() -> String {
        let titleHeight = ladder.title.isEmpty ? 0.0 : 28.0
        let top = titleHeight + headerHeight
        let height = top + ladder.items.reduce(0) { $0 + rowHeight($1) } + 30
        var body: [String] = []
        func f(_ v: Double) -> String {
            let r = (v * 10).rounded() / 10
            return r == r.rounded() ? String(Int(r)) : String(r)
        }
        body.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"ui-monospace, Menlo, Consolas, monospace\" font-size=\"12\">")
        body.append("""
        <defs>
        <marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker>
        </defs>
        <style>.life{stroke:#90a4ae;stroke-width:1.5}.mbox{stroke:#b0bec5;stroke-dasharray:4 3}.t{fill:#78909c;font-size:10px}.lbl{font-size:11.5px}.opt{fill:#607d8b;font-size:10px}.st{font-size:11px;font-weight:bold;fill:#0d47a1}.drop{fill:#c62828;font-size:11px}.gap{fill:#78909c;font-size:11px;font-style:italic}</style>
        <rect width="100%" height="100%" fill="white"/>
        """)
        if !ladder.title.isEmpty {
            body.append("<text x=\"12\" y=\"20\" font-size=\"15\" font-weight=\"bold\">\(xmlEscape(ladder.title))</text>")
        }
        // Headers and lifelines.
        for (i, l) in ladder.lifelines.enumerated() {
            let x = columns[i]
            let boxWidth = max(90.0, Double(max(l.name.count, l.detail.count)) * 7.2 + 16)
            body.append("<rect x=\"\(f(x - boxWidth / 2))\" y=\"\(f(titleHeight + 8))\" width=\"\(f(boxWidth))\" height=\"44\" rx=\"6\" fill=\"\(l.isMiddlebox ? "#eceff1" : "#e3f2fd")\" stroke=\"#90a4ae\"/>")
            body.append("<text x=\"\(f(x))\" y=\"\(f(titleHeight + 27))\" text-anchor=\"middle\" font-weight=\"bold\" font-size=\"13\">\(xmlEscape(l.name))</text>")
            if !l.detail.isEmpty {
                body.append("<text x=\"\(f(x))\" y=\"\(f(titleHeight + 43))\" text-anchor=\"middle\" class=\"t\">\(xmlEscape(l.detail))</text>")
            }
            body.append("<line x1=\"\(f(x))\" y1=\"\(f(top - 10))\" x2=\"\(f(x))\" y2=\"\(f(height - 16))\" class=\"life\(l.isMiddlebox ? " mbox" : "")\"/>")
        }
        var y = top
        for item in ladder.items {
            switch item {
            case let .arrow(a):
                let colour = SVGColour.of(a)
                let x0 = columns[a.from], x1 = columns[a.to]
                let end = a.droppedAt.map { columns[$0] } ?? x1
                let yArrow = y + 20, yEnd = y + 28
                let mid = (x0 + (a.droppedBy != nil ? end : x1)) / 2
                let tip = "\(a.flags) seq \(a.seq)\(a.ack.map { " ack \($0)" } ?? "") win \(a.win) length \(a.len)\(a.options.map { " options [\($0)]" } ?? "")\(a.droppedBy.map { " — dropped by \($0)" } ?? "")"
                body.append("<g><title>\(xmlEscape(formatSeconds(a.t) + " s  " + tip))</title>")
                body.append("<text x=\"\(f(timeMargin - 8))\" y=\"\(f(yArrow + 4))\" text-anchor=\"end\" class=\"t\">\(formatSeconds(a.t))</text>")
                let label = (a.isRetransmission ? "↻ " : "") + a.label
                body.append("<text x=\"\(f(mid))\" y=\"\(f(yArrow - 6))\" text-anchor=\"middle\" class=\"lbl\" fill=\"\(colour)\">\(xmlEscape(label))</text>")
                if let o = a.shortOptions {
                    body.append("<text x=\"\(f(mid))\" y=\"\(f(yEnd + 13))\" text-anchor=\"middle\" class=\"opt\">\(xmlEscape(o))</text>")
                }
                if let rule = a.droppedBy {
                    let yDrop = yArrow + (yEnd - yArrow) * (x1 == x0 ? 1 : (end - x0) / (x1 - x0))
                    body.append("<line x1=\"\(f(x0))\" y1=\"\(f(yArrow))\" x2=\"\(f(end))\" y2=\"\(f(yDrop))\" stroke=\"\(colour)\" stroke-width=\"1.6\"/>")
                    body.append("<path d=\"M\(f(end - 6)),\(f(yDrop - 6)) L\(f(end + 6)),\(f(yDrop + 6)) M\(f(end - 6)),\(f(yDrop + 6)) L\(f(end + 6)),\(f(yDrop - 6))\" stroke=\"#c62828\" stroke-width=\"2.5\"/>")
                    let rightward = x1 >= x0
                    body.append("<text x=\"\(f(end + (rightward ? 12 : -12)))\" y=\"\(f(yDrop + 4))\" text-anchor=\"\(rightward ? "start" : "end")\" class=\"drop\">dropped: \(xmlEscape(rule))</text>")
                } else {
                    body.append("<line x1=\"\(f(x0))\" y1=\"\(f(yArrow))\" x2=\"\(f(x1))\" y2=\"\(f(yEnd))\" stroke=\"\(colour)\" stroke-width=\"1.6\" marker-end=\"url(#head)\"\(a.isRetransmission ? " stroke-dasharray=\"6 3\"" : "")/>")
                }
                body.append("</g>")
            case let .state(t, i, text):
                let x = columns[i]
                let right = i < (ladder.lifelines.count + 1) / 2
                body.append("<text x=\"\(f(timeMargin - 8))\" y=\"\(f(y + 15))\" text-anchor=\"end\" class=\"t\">\(formatSeconds(t))</text>")
                body.append("<circle cx=\"\(f(x))\" cy=\"\(f(y + 11))\" r=\"4\" fill=\"#0d47a1\"/>")
                body.append("<text x=\"\(f(x + (right ? 9 : -9)))\" y=\"\(f(y + 15))\" text-anchor=\"\(right ? "start" : "end")\" class=\"st\">\(xmlEscape(text))</text>")
            case let .gap(d):
                let yMid = y + 17
                for x in columns {
                    body.append("<path d=\"M\(f(x - 7)),\(f(yMid - 5)) l14,-4 M\(f(x - 7)),\(f(yMid + 4)) l14,-4\" stroke=\"#78909c\" stroke-width=\"1.5\"/>")
                    body.append("<rect x=\"\(f(x - 3))\" y=\"\(f(yMid - 7))\" width=\"6\" height=\"9\" fill=\"white\"/>")
                }
                let mid = columns.count > 1 ? (columns[0] + columns[1]) / 2 : columns[0] + 80
                body.append("<text x=\"\(f(mid))\" y=\"\(f(yMid + 4))\" text-anchor=\"middle\" class=\"gap\">⋯ \(xmlEscape(formatDuration(d))) later ⋯</text>")
            }
            y += rowHeight(item)
        }
        body.append("</svg>")
        return body.joined(separator: "\n") + "\n"
    }
}

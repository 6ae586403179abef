/// A topology drawn as boxes and wires (`tcplab graph`): one box per node with its role, addresses
/// and settings, one wire per link labelled with the interfaces at each end.
public struct TopologyPicture: Sendable {
    public struct Box: Sendable {
        public var name: String
        public var role: String
        public var lines: [String]
        public init(name: String, role: String, lines: [String]) {
            self.name = name
            self.role = role
            self.lines = lines
        }
    }

    public struct Wire: Sendable {
        public var a: String
        public var aInterface: String
        public var b: String
        public var bInterface: String
        public init(_ a: String, _ aInterface: String, _ b: String, _ bInterface: String) {
            self.a = a
            self.aInterface = aInterface
            self.b = b
            self.bInterface = bInterface
        }
    }

    public var title: String
    public var subtitle: String
    /// Left to right.
    public var boxes: [Box]
    public var wires: [Wire]

    public init(title: String, subtitle: String, boxes: [Box], wires: [Wire]) {
        self.title = title
        self.subtitle = subtitle
        self.boxes = boxes
        self.wires = wires
    }

    public func renderSVG() -> String {
        let boxWidth = 250.0, gap = 110.0, lineHeight = 15.0, top = 64.0
        let heights = boxes.map { 46 + Double($0.lines.count) * lineHeight }
        let boxHeight = heights.max() ?? 60
        let width = 40 + Double(boxes.count) * boxWidth + Double(max(0, boxes.count - 1)) * gap
        let height = top + boxHeight + 40
        func x(_ i: Int) -> Double { 20 + Double(i) * (boxWidth + gap) }
        func fill(_ role: String) -> String {
            switch role {
            case "middlebox": "#eceff1"
            case "kernel-client", "kernel-server": "#fff8e1"
            default: "#e3f2fd"
            }
        }
        var s: [String] = []
        s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"ui-monospace, Menlo, Consolas, monospace\" font-size=\"12\">")
        s.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")
        s.append("<text x=\"20\" y=\"24\" font-size=\"16\" font-weight=\"bold\">\(xmlEscape(title))</text>")
        s.append("<text x=\"20\" y=\"44\" fill=\"#607d8b\" font-size=\"11\">\(xmlEscape(subtitle))</text>")
        let index = Dictionary(boxes.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (n, w) in wires.enumerated() {
            guard let i = index[w.a], let j = index[w.b] else { continue }
            let (l, r) = i <= j ? (i, j) : (j, i)
            let (lIf, rIf) = i <= j ? (w.aInterface, w.bInterface) : (w.bInterface, w.aInterface)
            let y = top + 30 + Double(n % 3) * 8
            let x1 = x(l) + boxWidth, x2 = x(r)
            if r == l + 1 {
                s.append("<line x1=\"\(x1)\" y1=\"\(y)\" x2=\"\(x2)\" y2=\"\(y)\" stroke=\"#546e7a\" stroke-width=\"2\"/>")
            } else {
                // Not neighbours in the row: arc over the boxes in between.
                let lift = top - 14
                s.append("<path d=\"M\(x(l) + boxWidth / 2),\(top) C\(x(l) + boxWidth / 2),\(lift) \(x(r) + boxWidth / 2),\(lift) \(x(r) + boxWidth / 2),\(top)\" fill=\"none\" stroke=\"#546e7a\" stroke-width=\"2\"/>")
            }
            s.append("<text x=\"\(x1 + 4)\" y=\"\(y - 5)\" font-size=\"10\" fill=\"#37474f\">\(xmlEscape(lIf))</text>")
            s.append("<text x=\"\(x2 - 4)\" y=\"\(y - 5)\" font-size=\"10\" fill=\"#37474f\" text-anchor=\"end\">\(xmlEscape(rIf))</text>")
        }
        for (i, b) in boxes.enumerated() {
            s.append("<rect x=\"\(x(i))\" y=\"\(top)\" width=\"\(boxWidth)\" height=\"\(boxHeight)\" rx=\"8\" fill=\"\(fill(b.role))\" stroke=\"#90a4ae\"/>")
            s.append("<text x=\"\(x(i) + 12)\" y=\"\(top + 20)\" font-size=\"14\" font-weight=\"bold\">\(xmlEscape(b.name))</text>")
            s.append("<text x=\"\(x(i) + boxWidth - 12)\" y=\"\(top + 20)\" font-size=\"11\" fill=\"#607d8b\" text-anchor=\"end\">\(xmlEscape(b.role))</text>")
            for (k, line) in b.lines.enumerated() {
                let shown = line.count > 36 ? String(line.prefix(35)) + "…" : line
                s.append("<text x=\"\(x(i) + 12)\" y=\"\(top + 40 + Double(k) * lineHeight)\" font-size=\"11\"><title>\(xmlEscape(line))</title>\(xmlEscape(shown))</text>")
            }
        }
        s.append("</svg>")
        return s.joined(separator: "\n") + "\n"
    }
}

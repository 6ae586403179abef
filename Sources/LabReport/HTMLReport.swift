/// The run's page: verdict and expectations on top, the ladder on the left, each node's state
/// timeline on the right, counters and artifacts below. One self-contained file (the SVG inline).
public struct HTMLReport: Sendable {
    public struct Expectation: Sendable {
        public var text: String
        public var passed: Bool
        public var detail: String
        public init(text: String, passed: Bool, detail: String) {
            self.text = text
            self.passed = passed
            self.detail = detail
        }
    }

    public struct StateChange: Sendable {
        public var t: Int64
        public var conn: String
        public var from: String
        public var to: String
        public var cause: String
        public init(t: Int64, conn: String, from: String, to: String, cause: String) {
            self.t = t
            self.conn = conn
            self.from = from
            self.to = to
            self.cause = cause
        }
    }

    public var title: String
    public var subtitle: String
    public var description: String
    public var passed: Bool
    public var expectations: [Expectation]
    public var ladderSVG: String
    /// Node → its state changes, in the lifelines' order.
    public var timelines: [(node: String, changes: [StateChange])]
    public var counters: [(node: String, values: [(String, Int)])]
    public var notes: [String]
    /// Link text → file name (relative to the page).
    public var artifacts: [(String, String)]

    public init(title: String, subtitle: String, description: String, passed: Bool, expectations: [Expectation], ladderSVG: String,
                timelines: [(node: String, changes: [StateChange])], counters: [(node: String, values: [(String, Int)])],
                notes: [String], artifacts: [(String, String)]) {
        self.title = title
        self.subtitle = subtitle
        self.description = description
        self.passed = passed
        self.expectations = expectations
        self.ladderSVG = ladderSVG
        self.timelines = timelines
        self.counters = counters
        self.notes = notes
        self.artifacts = artifacts
    }

    public func render() -> String {
        var h: [String] = []
        h.append("""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(xmlEscape(title))</title>
        <style>
        body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#263238}
        h1{margin:0 0 4px 0;font-size:22px} .sub{color:#607d8b;margin-bottom:12px}
        .verdict{display:inline-block;padding:3px 10px;border-radius:4px;color:white;font-weight:bold}
        .pass{background:#2e7d32} .fail{background:#c62828}
        .desc{max-width:1000px;white-space:pre-wrap;color:#37474f}
        table{border-collapse:collapse;font-size:13px} td,th{padding:3px 8px;border-bottom:1px solid #eceff1;text-align:left;vertical-align:top}
        .ok{color:#2e7d32;font-weight:bold} .no{color:#c62828;font-weight:bold} .mono{font-family:ui-monospace,Menlo,monospace}
        .cols{display:flex;gap:28px;align-items:flex-start;margin-top:18px}
        .ladder{flex:0 0 auto;border:1px solid #cfd8dc;border-radius:6px;overflow:auto;max-height:90vh}
        .timelines{flex:1 1 auto;min-width:320px}
        .node h3{margin:14px 0 4px 0;font-size:15px}
        .note{color:#6d4c41}
        </style></head><body>
        """)
        h.append("<h1>\(xmlEscape(title)) <span class=\"verdict \(passed ? "pass" : "fail")\">\(passed ? "PASS" : "FAIL")</span></h1>")
        h.append("<div class=\"sub\">\(xmlEscape(subtitle))</div>")
        if !description.isEmpty { h.append("<div class=\"desc\">\(xmlEscape(description))</div>") }
        for n in notes { h.append("<p class=\"note\">\(xmlEscape(n))</p>") }
        if !expectations.isEmpty {
            h.append("<h2>Expectations</h2><table>")
            for e in expectations {
                h.append("<tr><td class=\"\(e.passed ? "ok" : "no")\">\(e.passed ? "PASS" : "FAIL")</td><td class=\"mono\">\(xmlEscape(e.text))</td><td>\(xmlEscape(e.detail))</td></tr>")
            }
            h.append("</table>")
        }
        h.append("<div class=\"cols\"><div class=\"ladder\">")
        h.append(ladderSVG)
        h.append("</div><div class=\"timelines\"><h2>State timelines</h2>")
        for (node, changes) in timelines {
            h.append("<div class=\"node\"><h3>\(xmlEscape(node))</h3>")
            if changes.isEmpty {
                h.append("<p class=\"sub\">no state changes recorded</p>")
            } else {
                h.append("<table><tr><th>t (s)</th><th>connection</th><th>state</th><th>cause</th></tr>")
                for c in changes {
                    h.append("<tr><td class=\"mono\">\(formatSeconds(c.t))</td><td class=\"mono\">\(xmlEscape(c.conn))</td><td class=\"mono\">\(xmlEscape(c.from)) → <b>\(xmlEscape(c.to))</b></td><td>\(xmlEscape(c.cause))</td></tr>")
                }
                h.append("</table>")
            }
            h.append("</div>")
        }
        if !counters.isEmpty {
            h.append("<h2>Counters</h2>")
            for (node, values) in counters {
                h.append("<h3>\(xmlEscape(node))</h3><table>")
                for (name, v) in values { h.append("<tr><td class=\"mono\">\(xmlEscape(name))</td><td class=\"mono\">\(v)</td></tr>") }
                h.append("</table>")
            }
        }
        if !artifacts.isEmpty {
            h.append("<h2>Files</h2><ul>")
            for (text, file) in artifacts { h.append("<li><a href=\"\(xmlEscape(file))\">\(xmlEscape(text))</a></li>") }
            h.append("</ul>")
        }
        h.append("</div></div></body></html>")
        return h.joined(separator: "\n") + "\n"
    }
}

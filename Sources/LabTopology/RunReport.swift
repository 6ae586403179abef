import Foundation
import LabControl
import LabReport
import TCPPolicy

/// A judged run: the record, each expectation's result, the verdict, and what was written where.
public struct RunReport: Sendable {
    public var topology: Topology
    public var record: RunRecord
    public var results: [ExpectationResult]
    /// Paths (inside the run directory) of what `writeArtifacts` wrote.
    public var resultPath: String?
    public var eventsPath: String?
    public var ladderPath: String?
    public var htmlPath: String?

    public init(topology: Topology, record: RunRecord, results: [ExpectationResult]) {
        self.topology = topology
        self.record = record
        self.results = results
    }

    public var passed: Bool { results.allSatisfy(\.passed) }
    public var verdict: String { passed ? "pass" : "fail" }

    // MARK: The ladder

    /// The lifelines left to right: the ends and, between them, the middlebox.
    public var lifelines: [Ladder.Lifeline] {
        topology.chain.compactMap { name in
            guard let n = topology.node(named: name) else { return nil }
            let detail = n.role == .middlebox ? "middlebox" : "\(n.role.rawValue) \(n.address.map { "\($0.address)" } ?? "")"
            return Ladder.Lifeline(name: n.name, detail: detail, isMiddlebox: n.role == .middlebox)
        }
    }

    public func ladder(fold: Int64? = Ladder.defaultFold) -> Ladder {
        let title = "\(topology.name) — \(record.backend == .sim ? "LabSim (virtual time)" : "network namespaces"), seed \(record.seed)"
        return Self.ladder(events: record.events, lifelines: lifelines, title: title, fold: fold)
    }

    /// The ladder of a run's events (from a live run, or read back from the journal by `tcplab logs`).
    public static func ladder(events: [LabEvent], lifelines: [Ladder.Lifeline], title: String, fold: Int64? = Ladder.defaultFold) -> Ladder {
        var segments: [TraceSegment] = []
        var states: [TraceState] = []
        for (k, e) in events.enumerated() {
            switch e.kind {
            case "segment" where e.dir == "in" || e.dir == "out":
                if var s = trace(e) { s.order = k; segments.append(s) }
            case "drop" where e.droppedBy != nil:
                if var s = trace(e) { s.order = k; segments.append(s) }
            case "state":
                // The child's NEW_SYN_RECV → SYN_RECV is the request sock becoming a socket: the
                // request's own line already says SYN_RECV.
                if e.from == "NEW_SYN_RECV" && e.to == "SYN_RECV" { continue }
                states.append(TraceState(t: e.t, node: e.node, text: "\(e.to ?? "?") (\(e.cause ?? ""))", order: k))
            case "request":
                if e.to == "NEW_SYN_RECV" {
                    states.append(TraceState(t: e.t, node: e.node, text: "SYN_RECV (request sock queued)", order: k))
                } else if e.to == "CLOSE" {
                    states.append(TraceState(t: e.t, node: e.node, text: "request dropped (\(e.cause ?? ""))", order: k))
                }
            case "error":
                states.append(TraceState(t: e.t, node: e.node, text: "error \(e.error ?? "?")", order: k))
            case "drop" where e.droppedBy == nil && e.reason != nil:
                // The stack itself threw the segment away (a full accept queue, a bad ACK…).
                states.append(TraceState(t: e.t, node: e.node, text: "✕ \(e.flags.map { "\"\($0)\" " } ?? "")dropped: \(e.reason!)", order: k))
            default:
                break
            }
        }
        return Ladder.build(title: title, lifelines: lifelines, segments: segments, states: states, foldGapsLongerThan: fold)
    }

    static func trace(_ e: LabEvent) -> TraceSegment? {
        guard let src = e.src, let dst = e.dst, let flags = e.flags, let seq = e.seq else { return nil }
        return TraceSegment(t: e.t, node: e.node, dir: e.kind == "drop" ? "drop" : e.dir ?? "", src: src, dst: dst, flags: flags, seq: seq,
                            ack: e.ack, win: Int(e.win ?? 0), len: e.len ?? 0, options: e.options, droppedBy: e.droppedBy)
    }

    // MARK: Events as lines

    /// The run's story, a line per event worth reading (segments sent, drops, states, errors, steps).
    public func eventLines() -> [(t: Int64, text: String)] {
        var lines: [(Int64, Int, String)] = []
        let width = max(6, topology.nodes.map(\.name.count).max() ?? 6)
        func pad(_ s: String) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
        for (k, e) in record.events.enumerated() {
            let text: String
            switch e.kind {
            case "segment" where e.dir == "out":
                text = "\(pad(e.node)) sends  \(e.src ?? "") > \(e.dst ?? ""): \(e.tcpdump ?? e.flags ?? "")"
            case "drop" where e.droppedBy != nil:
                text = "\(pad(e.node)) DROPS  \(e.src ?? "") > \(e.dst ?? ""): \(e.tcpdump ?? e.flags ?? "") — \(e.droppedBy!)"
            case "state":
                text = "\(pad(e.node)) \(e.from ?? "") → \(e.to ?? "") (\(e.cause ?? ""))\(e.conn.map { "  \($0)" } ?? "")"
            case "request":
                text = "\(pad(e.node)) request \(e.conn ?? ""): \(e.from ?? "") → \(e.to ?? "") (\(e.cause ?? ""))"
            case "error":
                text = "\(pad(e.node)) socket sk\(e.socket ?? 0) error \(e.error ?? "?")"
            case "connected":
                text = "\(pad(e.node)) connect() on sk\(e.socket ?? 0) completes"
            case "drop" where e.droppedBy == nil:
                text = "\(pad(e.node)) drops  \(e.src.map { "\($0) > \(e.dst ?? ""): \(e.flags ?? "")" } ?? "a frame") — \(e.reason ?? "")"
            case "counter":
                text = "\(pad(e.node)) \(e.name ?? "") = \(e.value ?? 0)"
            case "timer" where e.message == "fired":
                text = "\(pad(e.node)) \(e.name ?? "") timer fires"
            default:
                continue
            }
            lines.append((e.t, 2 * k + 1, text))
        }
        for (k, r) in record.replies.enumerated() {
            var text = "\(pad(r.node)) \(r.call)"
            if r.reply.ok {
                if let s = r.reply.socket { text += " → sk\(s)" }
                if r.op == "recv" { text += " → \"\(r.reply.data ?? "")\"" }
                if let c = r.reply.counters, r.op == "counters" { text += " → \(c.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))" }
                if r.op == "accept" && r.reply.socket == nil { text += " → nothing" }
            } else {
                text += " fails: \(r.reply.error ?? "?")"
            }
            lines.append((r.at.nanoseconds, 2 * k, text))
        }
        return lines.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map { ($0.0, $0.2) }
    }

    // MARK: JSON (docs/json-output.md)

    struct JSONSegment: Codable {
        var t: Double
        var node: String
        var dir: String
        var src: String
        var dst: String
        var flags: String
        var seq: UInt32
        var ack: UInt32?
        var win: Int
        var len: Int
        var options: String?
        var dropped_by: String?

        // Every key, with null for what is absent (docs/json-output.md).
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(t, forKey: .t)
            try c.encode(node, forKey: .node)
            try c.encode(dir, forKey: .dir)
            try c.encode(src, forKey: .src)
            try c.encode(dst, forKey: .dst)
            try c.encode(flags, forKey: .flags)
            try c.encode(seq, forKey: .seq)
            try c.encode(ack, forKey: .ack)
            try c.encode(win, forKey: .win)
            try c.encode(len, forKey: .len)
            try c.encode(options, forKey: .options)
            try c.encode(dropped_by, forKey: .dropped_by)
        }
    }

    struct JSONState: Codable {
        var t: Double
        var node: String
        var conn: String?
        var from: String
        var to: String
        var cause: String

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(t, forKey: .t)
            try c.encode(node, forKey: .node)
            try c.encode(conn, forKey: .conn)
            try c.encode(from, forKey: .from)
            try c.encode(to, forKey: .to)
            try c.encode(cause, forKey: .cause)
        }
    }

    struct JSONExpectation: Codable {
        var text: String
        var passed: Bool
        var detail: String
    }

    struct JSONArtifacts: Codable {
        var pcaps: [String]
        var ladder_svg: String?
        var events: String?
        var html: String?

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(pcaps, forKey: .pcaps)
            try c.encode(ladder_svg, forKey: .ladder_svg)
            try c.encode(events, forKey: .events)
            try c.encode(html, forKey: .html)
        }
    }

    struct JSONReport: Codable {
        var run_id: String
        var topology: String
        var file: String
        var backend: String
        var seed: UInt64
        var verdict: String
        var duration: Double
        var notes: [String]
        var expectations: [JSONExpectation]
        var segments: [JSONSegment]
        var states: [JSONState]
        var counters: [String: [String: Int]]
        var artifacts: JSONArtifacts
    }

    var jsonReport: JSONReport {
        func secs(_ t: Int64) -> Double { (Double(t) / 1e3).rounded() / 1e6 }
        var segments: [JSONSegment] = []
        var states: [JSONState] = []
        for e in record.events {
            let isSegment = e.kind == "segment" && (e.dir == "in" || e.dir == "out")
            let isDrop = e.kind == "drop" && e.droppedBy != nil
            if isSegment || isDrop, let src = e.src, let dst = e.dst, let flags = e.flags, let seq = e.seq {
                segments.append(JSONSegment(t: secs(e.t), node: e.node, dir: isDrop ? "in" : e.dir!, src: src, dst: dst, flags: flags, seq: seq,
                                            ack: e.ack, win: Int(e.win ?? 0), len: e.len ?? 0, options: e.options, dropped_by: e.droppedBy))
            }
            if e.kind == "state" || e.kind == "request" {
                states.append(JSONState(t: secs(e.t), node: e.node, conn: e.conn, from: e.from ?? "", to: e.to ?? "", cause: e.cause ?? ""))
            }
        }
        return JSONReport(run_id: record.runID, topology: topology.name, file: topology.file, backend: record.backend.rawValue, seed: record.seed,
                          verdict: verdict, duration: record.duration.seconds, notes: record.notes,
                          expectations: results.map { JSONExpectation(text: $0.text, passed: $0.passed, detail: $0.detail) },
                          segments: segments, states: states, counters: record.counters,
                          artifacts: JSONArtifacts(pcaps: record.pcaps, ladder_svg: ladderPath, events: eventsPath, html: htmlPath))
    }

    /// The run as one JSON object (docs/json-output.md).
    public func json(pretty: Bool = true) -> Data {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return (try? e.encode(jsonReport)) ?? Data("{}".utf8)
    }

    // MARK: The run directory

    /// Writes result.json, events.jsonl, ladder.svg and report.html into the run directory.
    public mutating func writeArtifacts() throws {
        let dir = record.outputDirectory
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        eventsPath = "\(dir)/events.jsonl"
        ladderPath = "\(dir)/ladder.svg"
        htmlPath = "\(dir)/report.html"
        resultPath = "\(dir)/result.json"
        let events = record.events.map { $0.jsonLine() }.joined(separator: "\n") + "\n"
        try Data(events.utf8).write(to: URL(fileURLWithPath: eventsPath!))
        let svg = ladder().renderSVG()
        try Data(svg.utf8).write(to: URL(fileURLWithPath: ladderPath!))
        try Data(html(svg: svg).utf8).write(to: URL(fileURLWithPath: htmlPath!))
        try json().write(to: URL(fileURLWithPath: resultPath!))
    }

    func html(svg: String) -> String {
        var timelines: [(node: String, changes: [HTMLReport.StateChange])] = []
        for name in topology.chain {
            guard let n = topology.node(named: name), n.role != .middlebox else { continue }
            let changes = record.events.filter { $0.node == name && ($0.kind == "state" || $0.kind == "request") }.map {
                HTMLReport.StateChange(t: $0.t, conn: $0.conn ?? "sk\($0.socket ?? 0)", from: $0.from ?? "", to: $0.to ?? "",
                                       cause: ($0.kind == "request" ? "request sock: " : "") + ($0.cause ?? ""))
            }
            timelines.append((name, changes))
        }
        let counters = topology.chain.compactMap { name -> (node: String, values: [(String, Int)])? in
            guard let c = record.counters[name], !c.isEmpty else { return nil }
            return (name, c.sorted { $0.key < $1.key })
        }
        func rel(_ p: String) -> String { URL(fileURLWithPath: p).lastPathComponent }
        var files = record.pcaps.map { ("capture \(rel($0))", rel($0)) }
        files += [("ladder.svg", "ladder.svg"), ("events.jsonl (every event)", "events.jsonl"), ("result.json", "result.json")]
        let page = HTMLReport(
            title: topology.name,
            subtitle: "\(record.backend == .sim ? "LabSim, virtual time" : "network namespaces, real time") · seed \(record.seed) · run \(record.runID) · \(topology.file)",
            description: topology.description, passed: passed,
            expectations: results.map { HTMLReport.Expectation(text: $0.text, passed: $0.passed, detail: $0.detail) },
            ladderSVG: svg, timelines: timelines, counters: counters, notes: record.notes, artifacts: files)
        return page.render()
    }
}

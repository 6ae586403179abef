import Foundation
import LabControl
import TCPPolicy

/// The outcome of one expectation: whether it held, and what was seen (said either way, so a passing
/// run also documents itself).
public struct ExpectationResult: Sendable {
    public var text: String
    public var passed: Bool
    public var detail: String
}

extension Expectation {
    /// How far a scheduled time may be from the one written: the larger of 50 ms and 5 %.
    static func tolerance(_ d: Interval) -> Int64 { max(50_000_000, d.nanoseconds / 20) }

    /// Judges this expectation against a run.
    public func evaluate(_ run: RunRecord, topology: Topology) -> ExpectationResult {
        let endpoints = Set(topology.endpoints.map(\.name))
        func result(_ ok: Bool, _ detail: String) -> ExpectationResult { ExpectationResult(text: text, passed: ok, detail: detail) }
        // In network namespaces time is real: a run on a loaded machine is late by scheduling jitter.
        // Windows of things that must happen are widened by 50 ms there (the tolerance of scheduled
        // times); windows of things that must not happen are kept as written, so they stay strict.
        let slack: Int64 = run.backend == .netns ? 50_000_000 : 0
        func inWindow(_ e: LabEvent, _ w: Window?, widen: Bool = true) -> Bool { w?.contains(e.t, slack: widen ? slack : 0) ?? true }
        let who = node ?? "any node"

        switch clause {
        case let .segments(dir, flags, payload, seqWanted, count, schedule, window):
            let all = run.segments(node: node, dir: dir == .sends ? "out" : "in", endpoints: endpoints).filter { e in
                (flags == nil || e.flags == flags) && (seqWanted == nil || e.seq == seqWanted) && {
                    switch payload {
                    case .any: true
                    case .data: (e.len ?? 0) > 0
                    case .none: (e.len ?? 0) == 0
                    case let .length(n): e.len == n
                    }
                }()
            }
            let matches = all.filter { inWindow($0, window, widen: count != 0...0) }
            let what = "\(flags.map { "\"\($0)\"" } ?? "segments")\(seqWanted.map { " with seq \($0)" } ?? "")"
            let times = matches.map { Double($0.t) / 1e9 }
            var seen = matches.isEmpty ? "\(who) \(dir == .sends ? "sent" : "received") no \(what)\(window.map { " \($0.text)" } ?? "")"
                : "\(matches.count) × \(what) at \(list(times)) s"
            if !matches.isEmpty, window != nil, all.count != matches.count { seen += " (\(all.count) in the whole run)" }
            if let count, !count.contains(matches.count) {
                return result(false, "expected \(describe(count)), \(seen)")
            }
            if count == nil && schedule == nil && matches.isEmpty { return result(false, seen) }
            if let schedule {
                guard matches.count == schedule.count, let first = matches.first else {
                    return result(false, "expected \(schedule.count) at \(list(schedule.map { $0.seconds })) s from the first, \(seen)")
                }
                let offsets = matches.map { $0.t - first.t }
                for (k, (got, want)) in zip(offsets, schedule).enumerated() where abs(got - want.nanoseconds) > Self.tolerance(want) {
                    return result(false, "match \(k + 1) came \(seconds(got)) s after the first, expected \(want.seconds) s (± \(Double(Self.tolerance(want)) / 1e9) s); offsets \(list(offsets.map { Double($0) / 1e9 })) s")
                }
                return result(true, "\(matches.count) × \(what), at \(list(offsets.map { Double($0) / 1e9 })) s from the first (at \(seconds(first.t)) s)")
            }
            return result(true, seen)

        case let .state(state, window):
            let changes = stateEvents(run, node: node, endpoints: endpoints).filter { $0.to == state }
            guard let hit = changes.first(where: { inWindow($0, window) }) else {
                if let late = changes.first {
                    return result(false, "\(late.node) reached \(state) at \(seconds(late.t)) s, not \(window!.text)")
                }
                let last = stateEvents(run, node: node, endpoints: endpoints).last
                return result(false, "\(who) never reached \(state)" + (last.map { "; last change: \($0.node) \($0.from ?? "") → \($0.to ?? "") at \(seconds($0.t)) s" } ?? ""))
            }
            return result(true, "\(hit.node) \(hit.from ?? "") → \(state) at \(seconds(hit.t)) s (\(hit.cause ?? ""))")

        case let .neverReaches(state):
            if let hit = stateEvents(run, node: node, endpoints: endpoints).first(where: { $0.to == state }) {
                return result(false, "\(hit.node) reached \(state) at \(seconds(hit.t)) s (\(hit.cause ?? ""))")
            }
            return result(true, "\(who) never reached \(state)")

        case let .connectSucceeds(window):
            let sockets = run.connectSockets(node)
            let ok = run.events.filter { $0.kind == "connected" && sockets.contains("\($0.node) \($0.socket ?? -1)") }
            if let hit = ok.first(where: { inWindow($0, window) }) {
                return result(true, "\(hit.node): connect succeeded at \(seconds(hit.t)) s")
            }
            if let late = ok.first { return result(false, "connect succeeded at \(seconds(late.t)) s, not \(window!.text)") }
            let err = connectErrors(run, node: node, sockets: sockets).first
            return result(false, err.map { "connect failed with \($0.error) at \(seconds($0.t)) s" } ?? "no connect completed")

        case let .connectFails(errno, window):
            let sockets = run.connectSockets(node)
            let errors = connectErrors(run, node: node, sockets: sockets)
            if let hit = errors.first(where: { $0.error == errno && (window?.contains($0.t) ?? true) }) {
                return result(true, "\(hit.node): connect failed with \(errno) at \(seconds(hit.t)) s")
            }
            if let other = errors.first { return result(false, "connect failed with \(other.error) at \(seconds(other.t)) s") }
            if let ok = run.events.first(where: { $0.kind == "connected" && sockets.contains("\($0.node) \($0.socket ?? -1)") }) {
                return result(false, "connect succeeded at \(seconds(ok.t)) s")
            }
            return result(false, "connect neither succeeded nor failed before the end (\(run.duration.seconds) s)")

        case let .error(errno, window):
            let errs = run.events.filter { $0.kind == "error" && $0.error == errno && (node == nil || $0.node == node) && inWindow($0, window) }
            if let hit = errs.first { return result(true, "\(hit.node) sk\(hit.socket ?? 0) got \(errno) at \(seconds(hit.t)) s") }
            let failed = run.replies.first { !$0.reply.ok && $0.reply.error == errno && (node == nil || $0.node == node) }
            if let f = failed { return result(true, "\(f.node): \(f.op) failed with \(errno) at \(seconds(f.at.nanoseconds)) s") }
            let others = run.events.filter { $0.kind == "error" && (node == nil || $0.node == node) }.map { "\($0.error ?? "?") at \(seconds($0.t)) s" }
            return result(false, others.isEmpty ? "\(who) got no socket error" : "\(who) got \(others.joined(separator: ", "))")

        case .acceptReturns:
            let accepts = run.replies.filter { $0.op == "accept" && (node == nil || $0.node == node) }
            if let hit = accepts.first(where: { $0.reply.socket != nil }) {
                return result(true, "accept() at \(seconds(hit.at.nanoseconds)) s returned a connection")
            }
            return result(false, accepts.isEmpty ? "no accept ran" : "accept() returned \(accepts.map { $0.reply.error ?? "nothing" }.joined(separator: ", "))")

        case let .acceptFails(errno):
            let accepts = run.replies.filter { $0.op == "accept" && (node == nil || $0.node == node) }
            if let hit = accepts.first(where: { !$0.reply.ok && $0.reply.error == errno }) {
                return result(true, "accept() at \(seconds(hit.at.nanoseconds)) s failed with \(errno)")
            }
            return result(false, accepts.isEmpty ? "no accept ran" : "accept() gave \(accepts.map { $0.reply.ok ? "a connection" : ($0.reply.error ?? "?") }.joined(separator: ", "))")

        case let .reads(textWanted):
            let reads = run.replies.filter { $0.op == "recv" && (node == nil || $0.node == node) }
            let data = reads.compactMap { $0.reply.ok ? $0.reply.data : nil }.joined()
            if data.contains(textWanted) { return result(true, "recv() returned \"\(data)\"") }
            return result(false, reads.isEmpty ? "no recv ran" : "recv() returned \"\(data)\"\(reads.compactMap(\.reply.error).first.map { " (\($0))" } ?? "")")

        case let .counter(name, op, value):
            let v: Int
            if let node { v = run.counters[node]?[name] ?? 0 } else { v = run.counters.values.reduce(0) { $0 + ($1[name] ?? 0) } }
            let ok = op.holds(v, value)
            return result(ok, "\(node.map { "\($0) " } ?? "")\(name) = \(v)")

        case let .consumes(ordinal, count):
            let wire = run.events.filter { $0.kind == "segment" && $0.dir == "out" && endpoints.contains($0.node) }
            guard ordinal <= wire.count else { return result(false, "only \(wire.count) segments were sent") }
            let s = wire[ordinal - 1]
            let flags = s.flags ?? ""
            let consumed = (s.len ?? 0) + (flags.contains("S") ? 1 : 0) + (flags.contains("F") ? 1 : 0)
            var detail = "segment \(ordinal) is \(s.node)'s \"\(flags)\" seq \(s.seq ?? 0) len \(s.len ?? 0): it occupies \(consumed) sequence number\(consumed == 1 ? "" : "s")"
            if let next = wire.dropFirst(ordinal).first(where: { $0.src == s.src && $0.dst == s.dst }), let a = s.seq, let b = next.seq {
                let ok = b == a &+ UInt32(consumed)
                detail += "; \(s.node)'s next segment starts at seq \(b)\(ok ? " (= \(a) + \(consumed))" : ", not \(a &+ UInt32(consumed))")"
                if !ok { return result(false, detail) }
            }
            return result(consumed == count, detail)
        }
    }

    func stateEvents(_ run: RunRecord, node: String?, endpoints: Set<String>) -> [LabEvent] {
        run.events.filter { e in
            (e.kind == "state" || e.kind == "request") && (node.map { e.node == $0 } ?? endpoints.contains(e.node))
        }
    }

    /// Errors of connecting sockets before they connected (a reset after the handshake is not a
    /// failed connect).
    func connectErrors(_ run: RunRecord, node: String?, sockets: Set<String>) -> [(node: String, error: String, t: Int64)] {
        var connectedAt: [String: Int64] = [:]
        for e in run.events where e.kind == "connected" {
            let key = "\(e.node) \(e.socket ?? -1)"
            if connectedAt[key] == nil { connectedAt[key] = e.t }
        }
        var out = run.events.filter { e in
            let key = "\(e.node) \(e.socket ?? -1)"
            return e.kind == "error" && sockets.contains(key) && connectedAt[key].map { e.t < $0 } ?? true
        }.map { ($0.node, $0.error ?? "?", $0.t) }
        for r in run.replies where r.op == "connect" && !r.reply.ok && (node == nil || r.node == node) {
            out.append((r.node, r.reply.error ?? "?", r.at.nanoseconds))
        }
        return out.sorted { $0.2 < $1.2 }
    }

    func describe(_ c: ClosedRange<Int>) -> String {
        if c.lowerBound == c.upperBound { return c.lowerBound == 0 ? "none" : "\(c.lowerBound)" }
        if c.upperBound == Int.max { return "at least \(c.lowerBound)" }
        return "at most \(c.upperBound)"
    }
}

/// Seconds with milliseconds, for details: `1.000`.
func seconds(_ ns: Int64) -> String { String(format: "%.3f", Double(ns) / 1e9) }

func list(_ values: [Double]) -> String {
    let shown = values.prefix(12).map { v -> String in
        let r = (v * 1000).rounded() / 1000
        return r == r.rounded() ? String(Int(r)) : String(format: "%.3f", r)
    }
    return shown.joined(separator: ", ") + (values.count > 12 ? ", …" : "")
}

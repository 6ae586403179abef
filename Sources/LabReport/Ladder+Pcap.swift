import TCPWire

/// A ladder from any Ethernet pcap (ours, tcpdump's, one taken between two Linux kernels): a lifeline
/// per IP address (the first SYN's sender on the left), an arrow per TCP segment at its capture time,
/// and the handshake states as the segments imply them (a capture shows no sockets: they are inferred).
extension Ladder {
    public enum PcapProblem: Error, CustomStringConvertible {
        case unreadable(String)
        case noTCP

        public var description: String {
            switch self {
            case let .unreadable(why): "not a pcap file TCPLab can read: \(why) (Ethernet captures, pcap format, not pcapng: `tcpdump -w` or `editcap -F pcap`)"
            case .noTCP: "the capture holds no TCP segment"
            }
        }
    }

    /// Builds the ladder from the bytes of a pcap file.
    /// - Parameter inferStates: write the states the segments imply (SYN_SENT, SYN_RECV, ESTABLISHED…).
    public static func fromPcap(_ bytes: [UInt8], title: String, inferStates: Bool = true,
                                foldGapsLongerThan fold: Int64? = defaultFold) throws -> Ladder {
        let records: [PcapRecord]
        do { records = try PcapReader.read(bytes) } catch { throw PcapProblem.unreadable("\(error)") }
        var segments: [(t: UInt64, s: TCPSegment)] = []
        for r in records {
            guard let frame = try? Frame.parse(r.frame, verifyChecksums: false), let s = frame.tcpSegment else { continue }
            segments.append((r.nanoseconds, s))
        }
        guard let first = segments.first else { throw PcapProblem.noTCP }
        // Lifelines: the first SYN's sender first, then addresses in order of appearance.
        var order: [String] = []
        if let syn = segments.first(where: { $0.s.tcp.flags == .syn }) { order.append("\(syn.s.ip.source)") }
        for (_, s) in segments {
            for a in ["\(s.ip.source)", "\(s.ip.destination)"] where !order.contains(a) { order.append(a) }
        }
        let lifelines = order.map { Lifeline(name: $0) }
        let t0 = first.t
        var trace: [TraceSegment] = []
        var states: [TraceState] = []
        var tracker = HandshakeTracker()
        for (k, (t, s)) in segments.enumerated() {
            let rel = Int64(t - t0)
            let opts = s.tcp.options.map(\.tcpdumpString)
            trace.append(TraceSegment(t: rel, node: "\(s.ip.source)", dir: "out", src: "\(s.source)", dst: "\(s.destination)",
                                      flags: s.tcp.flags.tcpdumpString, seq: s.tcp.sequenceNumber.rawValue,
                                      ack: s.tcp.flags.contains(.ack) ? s.tcp.acknowledgmentNumber.rawValue : nil,
                                      win: Int(s.tcp.window), len: s.payload.count, options: opts.isEmpty ? nil : opts.joined(separator: ","), order: 2 * k))
            if inferStates {
                for (host, state) in tracker.observe(s) { states.append(TraceState(t: rel, node: host, text: state, order: 2 * k + 1)) }
            }
        }
        return build(title: title, lifelines: lifelines, segments: trace, states: states, foldGapsLongerThan: fold)
    }
}

/// The states a trace implies, per connection: enough for the handshake, the close and resets.
struct HandshakeTracker {
    private var state: [String: [String: String]] = [:]
    private var synSeq: [String: UInt32] = [:]

    /// The (host, new state) pairs this segment implies.
    mutating func observe(_ s: TCPSegment) -> [(String, String)] {
        let a = "\(s.source)", b = "\(s.destination)"
        let key = a < b ? "\(a)|\(b)" : "\(b)|\(a)"
        let src = "\(s.ip.source)", dst = "\(s.ip.destination)"
        var conn = state[key] ?? [:]
        var out: [(String, String)] = []
        func set(_ host: String, _ new: String) {
            guard conn[host] != new else { return }
            conn[host] = new
            out.append((host, new))
        }
        let f = s.tcp.flags
        if f.contains(.rst) {
            set(dst, "CLOSE (RST received)")
            if conn[src] != nil { set(src, "CLOSE") }
        } else if f.contains(.syn) && !f.contains(.ack) {
            if conn[src] == nil || conn[src] == "CLOSE" || conn[src]?.hasPrefix("CLOSE") == true { conn = [:] }
            synSeq["\(key) \(src)"] = s.tcp.sequenceNumber.rawValue
            set(src, "SYN_SENT")
            set(dst, "SYN_RECV")
        } else if f.contains(.syn) && f.contains(.ack) {
            synSeq["\(key) \(src)"] = s.tcp.sequenceNumber.rawValue
            if conn[dst] == "SYN_SENT" { set(dst, "ESTABLISHED") }
        } else if f.contains(.fin) {
            switch conn[src] {
            case "ESTABLISHED": set(src, "FIN_WAIT1"); set(dst, "CLOSE_WAIT")
            case "CLOSE_WAIT": set(src, "LAST_ACK"); if conn[dst] == "FIN_WAIT2" || conn[dst] == "FIN_WAIT1" { set(dst, "TIME_WAIT") }
            default: break
            }
        } else if f.contains(.ack) {
            if conn[src] == "ESTABLISHED", conn[dst] == "SYN_RECV", let isn = synSeq["\(key) \(dst)"],
               s.tcp.acknowledgmentNumber.rawValue == isn &+ 1 {
                set(dst, "ESTABLISHED")
            } else if conn[dst] == "FIN_WAIT1" && conn[src] == "CLOSE_WAIT" {
                set(dst, "FIN_WAIT2")
            } else if conn[dst] == "LAST_ACK" {
                set(dst, "CLOSE")
            }
        }
        state[key] = conn
        return out
    }
}

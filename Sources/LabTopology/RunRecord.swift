import LabControl
import TCPPolicy

/// What a run of a topology left, the same for both backends: every event (t in nanoseconds since
/// the start), counters per node, the replies of the steps, the captures.
public struct RunRecord: Sendable {
    public struct StepReply: Sendable {
        public var node: String
        public var op: String
        /// When the step ran, from the start.
        public var at: Interval
        /// The socket name the step saved, if it made one.
        public var saveAs: String?
        public var reply: ControlReply
        /// The call as written (`setsockopt(SO_KEEPALIVE, 1)`); `op()` when not known.
        public var call: String

        public init(node: String, op: String, at: Interval, saveAs: String?, reply: ControlReply, call: String? = nil) {
            self.node = node
            self.op = op
            self.call = call ?? "\(op)()"
            self.at = at
            self.saveAs = saveAs
            self.reply = reply
        }
    }

    public var runID: String
    public var backend: Backend
    public var seed: UInt64
    public var events: [LabEvent]
    public var counters: [String: [String: Int]]
    public var replies: [StepReply]
    public var pcaps: [String]
    /// Things a reader should know about this run (the sim standing in for a kernel node…).
    public var notes: [String]
    public var outputDirectory: String
    /// How long the run lasted (its planned duration).
    public var duration: Interval

    public init(runID: String, backend: Backend, seed: UInt64, events: [LabEvent], counters: [String: [String: Int]],
                replies: [StepReply], pcaps: [String], notes: [String], outputDirectory: String, duration: Interval) {
        self.runID = runID
        self.backend = backend
        self.seed = seed
        self.events = events
        self.counters = counters
        self.replies = replies
        self.pcaps = pcaps
        self.notes = notes
        self.outputDirectory = outputDirectory
        self.duration = duration
    }

    /// Segments a node sent (`out`) or received (`in`), in time order.
    func segments(node: String?, dir: String, endpoints: Set<String>) -> [LabEvent] {
        events.filter { e in
            e.kind == "segment" && e.dir == dir && (node.map { e.node == $0 } ?? endpoints.contains(e.node))
        }
    }

    /// Sockets the node's connect steps returned.
    func connectSockets(_ node: String?) -> Set<String> {
        Set(replies.filter { $0.op == "connect" && (node == nil || $0.node == node) }.compactMap { r in r.reply.socket.map { "\(r.node) \($0)" } })
    }
}

/// The fields of a TCPLab journal record. Names follow journald's rules (upper-case letters, digits
/// and `_`, at most 64 bytes, no leading `_`: those are journald's own trusted fields), so
/// `journalctl TCPLAB_RUN=1a2b TCP_FLAGS=S.` selects records by them.
public enum JournalField {
    // journald's well-known fields (systemd.journal-fields(7)).
    public static let message = "MESSAGE"
    public static let priority = "PRIORITY"
    public static let syslogIdentifier = "SYSLOG_IDENTIFIER"
    public static let messageID = "MESSAGE_ID"
    public static let codeFile = "CODE_FILE"
    public static let codeLine = "CODE_LINE"
    public static let codeFunction = "CODE_FUNC"

    // Every record of a run.
    public static let run = "TCPLAB_RUN"
    public static let topology = "TCPLAB_TOPOLOGY"
    public static let node = "TCPLAB_NODE"
    public static let role = "TCPLAB_ROLE"
    /// The plugins a node's policies come from (one field per plugin; absent for Linux's built-ins).
    public static let plugin = "TCPLAB_PLUGIN"

    // Event records: one per `LabEvent`.
    /// The event's kind (`segment`, `state`, …), or `run-started` / `run-finished`.
    public static let event = "TCPLAB_EVENT"
    /// The event's `t`: nanoseconds since the start of the run.
    public static let timeNS = "TCPLAB_TIME_NS"
    /// Position of the event in the run's event list (0, 1, 2 …): the order `tcplab logs` redraws,
    /// and how a reader notices a missing record.
    public static let index = "TCPLAB_INDEX"
    /// The whole `LabEvent` as JSON: what turns the record back into the event exactly.
    public static let eventJSON = "TCPLAB_EVENT_JSON"
    public static let stateOld = "TCP_STATE_OLD"
    public static let stateNew = "TCP_STATE_NEW"
    public static let flags = "TCP_FLAGS"
    public static let seq = "TCP_SEQ"
    public static let ack = "TCP_ACK"
    public static let win = "TCP_WIN"
    /// This node's end of the connection (segments in or out, states).
    public static let local = "TCP_LOCAL"
    public static let remote = "TCP_REMOTE"
    /// Ends of a segment passing through a middlebox, which is neither.
    public static let source = "TCP_SRC"
    public static let destination = "TCP_DST"
    public static let dropReason = "TCPLAB_DROP_REASON"
    public static let cause = "TCPLAB_CAUSE"
    public static let timer = "TCPLAB_TIMER"
    public static let counter = "TCPLAB_COUNTER"
    public static let value = "TCPLAB_VALUE"
    public static let error = "TCPLAB_ERROR"

    // run-started and run-finished.
    /// `pass` or `fail` (run-finished).
    public static let verdict = "TCPLAB_VERDICT"
    /// How many event records the run wrote (run-finished): a reader that finds fewer says so.
    public static let records = "TCPLAB_RECORDS"
    /// Wall-clock start of the run, microseconds since 1970 (both records).
    public static let startedUS = "TCPLAB_STARTED_US"
    public static let backend = "TCPLAB_BACKEND"
    public static let seed = "TCPLAB_SEED"
    /// `name:role` of every node (run-started, one field per node).
    public static let nodes = "TCPLAB_NODES"
    /// The run directory (results, captures, the fallback file).
    public static let directory = "TCPLAB_DIRECTORY"

    // swift-log records.
    /// The `Logger`'s label.
    public static let logger = "TCPLAB_LOGGER"
    /// The error a `Logger` call passed along.
    public static let logError = "TCPLAB_LOG_ERROR"
}

/// Fixed 128-bit MESSAGE_IDs, one per kind of record, each described in `journal/tcplab.catalog`
/// (`journalctl -x` shows the description once `scripts/setup` has installed the catalog).
public enum JournalMessageID {
    public static let segment = "2fd4dddc44974680bff6a096f29cb3ce"
    public static let state = "242e1ebe1d0a4c589da8c0c6a7c5e916"
    public static let drop = "0e72bc45fe4048158705c8f059b9d24c"
    public static let timer = "032134a259694c2e900b05172d68d12b"
    public static let counter = "7f6784350be443418959d3b341cfa20a"
    public static let error = "929b6eb9d4644e45a929c1110bf17be6"
    public static let connected = "038e2b65596149e1bbd99586bfc6d26f"
    public static let accepted = "963e61a05c474c3ebd28b382d3ac2532"
    public static let readable = "a6975f66c69b4884a503d7fa3b55724b"
    public static let request = "bf664b8ade0d4b5699ec90c71e3f6304"
    public static let arp = "b31d7908adad4b5fa10781fb433a01f6"
    public static let ready = "71afd783aff04f3888ec907473ed1210"
    public static let log = "2a78b5976d804447a46714d92031f7b3"
    public static let impair = "3d942736189a4fb7ba0d383f4a960cd7"
    public static let queued = "38a2092f084946d9897a7ae0bb47ba66"
    /// An event of a kind this table does not know yet.
    public static let otherEvent = "bf2f14ebd1cd460f96cfcafe3e5effbe"
    public static let runStarted = "642c734c6b104d38a33aacd6e8a93aab"
    public static let runFinished = "fb76635da59248f0be10994e456554bc"
    /// A writer could not use journald and wrote to its fallback file instead.
    public static let journalFallback = "cb1f44967da3498cb459641359647b7b"
    /// A message of a swift-log `Logger`.
    public static let logger = "2b051c50bac74b26baf489b89fca3cf0"
    /// journald's own "Suppressed N messages from UNIT" (SD_MESSAGE_JOURNAL_DROPPED): its rate limit.
    public static let journaldSuppressed = "a596d6fe7bfa4994828e72309e95d61e"

    /// Every event kind with its id (the catalog has one entry each).
    public static let byEventKind: [String: String] = [
        "segment": segment, "state": state, "drop": drop, "timer": timer, "counter": counter, "error": error,
        "connected": connected, "accepted": accepted, "readable": readable, "request": request, "arp": arp,
        "ready": ready, "log": log, "impair": impair, "queued": queued,
    ]

    /// The id of an event kind (`otherEvent` for an unknown kind).
    public static func forEvent(kind: String) -> String { byEventKind[kind] ?? otherEvent }

    /// Every id TCPLab writes (not journald's own).
    public static var all: [String] {
        Array(byEventKind.values) + [otherEvent, runStarted, runFinished, journalFallback, logger]
    }
}

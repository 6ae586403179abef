import Foundation
import Logging

/// A swift-log `LogHandler` that writes through a `JournalWriter`: each `Logger` call becomes one
/// journal record with `MESSAGE`, `PRIORITY` (from the level), `CODE_FILE`/`CODE_LINE`/`CODE_FUNC`,
/// `TCPLAB_LOGGER` (the label), the writer's common fields, and every metadata item as a field of
/// its own (`logger[metadataKey: "peer"] = "198.18.0.2:80"` → `PEER=198.18.0.2:80`).
///
///     LoggingSystem.bootstrap { label in JournalLogHandler(label: label, writer: writer) }
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    public let label: String
    public let writer: JournalWriter

    public init(label: String, writer: JournalWriter, logLevel: Logger.Level = .info,
                metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider)
    {
        self.label = label
        self.writer = writer
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var r = JournalRecord()
        r.append(JournalField.message, event.message.description)
        r.append(JournalField.priority, Self.priority(event.level))
        r.append(JournalField.messageID, JournalMessageID.logger)
        r.append(JournalField.logger, label)
        r.append(JournalField.codeFile, event.file)
        r.append(JournalField.codeLine, event.line)
        r.append(JournalField.codeFunction, event.function)
        if let error = event.error { r.append(JournalField.logError, "\(error)") }
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let explicit = event.metadata { all.merge(explicit) { _, new in new } }
        for key in all.keys.sorted() {
            r.append(Self.fieldName(key), Self.text(all[key]!))
        }
        writer.write(r)
    }

    /// syslog priority of a level: trace and debug 7, info 6, notice 5, warning 4, error 3, critical 2.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// Names journald would use for these records itself, which metadata may not overwrite.
    static let reserved: Set<String> = [
        JournalField.message, JournalField.priority, JournalField.messageID, JournalField.syslogIdentifier,
        JournalField.codeFile, JournalField.codeLine, JournalField.codeFunction, JournalField.logger, JournalField.logError,
    ]

    /// A metadata key as a journal field name: upper case, anything but letters and digits becomes `_`,
    /// no leading `_` or digit (`META_` is put in front), at most 64 bytes, and a name this handler
    /// writes itself gets `META_` in front too. `request-id` → `REQUEST_ID`, `tcplab_node` → `TCPLAB_NODE`.
    public static func fieldName(_ key: String) -> String {
        var name = String(key.uppercased().unicodeScalars.map { s -> Character in
            (s >= "A" && s <= "Z") || (s >= "0" && s <= "9") ? Character(s) : "_"
        })
        while name.hasPrefix("_") { name.removeFirst() }
        if name.isEmpty || name.first!.isNumber || reserved.contains(name) { name = "META_" + name }
        return String(name.prefix(64))
    }

    /// A metadata value as text: strings as they are, lists and dictionaries as swift-log prints them.
    static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        default: return value.description
        }
    }
}

/// The journal of a worker process: `SYSLOG_IDENTIFIER=tcplab-worker`, `TCPLAB_RUN`, `TCPLAB_NODE`,
/// `TCPLAB_ROLE` on every record, written from inside the node's network namespace (journald's socket
/// is a file, reachable from any network namespace). Without journald, records go to
/// `<run dir>/journal.jsonl`, shared with the coordinator.
public enum WorkerJournal {
    /// Opens the worker's writer and sends swift-log's `Logger`s to it (LoggingSystem.bootstrap:
    /// call once, in `main`, after joining the namespace).
    /// - Parameters:
    ///   - run: the run id.
    ///   - node: the node's name.
    ///   - role: the node's role.
    ///   - runDirectory: the run directory, for the fallback file (a temporary directory when nil).
    ///   - topology: the topology's name, if the worker knows it.
    ///   - logLevel: the least level that is written.
    /// - Returns: the writer (its `notice` is non-nil when records will not go to journald).
    @discardableResult
    public static func bootstrap(run: String, node: String, role: String, runDirectory: String?, topology: String? = nil,
                                 logLevel: Logger.Level = .info) -> JournalWriter
    {
        let w = writer(run: run, node: node, role: role, runDirectory: runDirectory, topology: topology)
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, writer: w, logLevel: logLevel) }
        return w
    }

    /// The worker's writer without touching swift-log's global bootstrap.
    public static func writer(run: String, node: String, role: String, runDirectory: String?, topology: String? = nil,
                              socketPath: String = Journald.socketPath) -> JournalWriter
    {
        var common = JournalRecord()
        common.append(JournalField.run, run)
        if let topology { common.append(JournalField.topology, topology) }
        common.append(JournalField.node, node)
        common.append(JournalField.role, role)
        let dir = runDirectory ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("tcplab-\(run)")
        return JournalWriter(options: .init(identifier: "tcplab-worker", common: common,
                                            fallbackPath: JournalReader.fallbackPath(runDirectory: dir),
                                            subject: "the journal records of \(node) in run \(run)", socketPath: socketPath))
    }
}

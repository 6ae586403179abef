import Foundation
import LabControl

/// One record read back, from the journal or from a fallback file.
public struct JournalEntry: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case journal
        /// A fallback file (`<run dir>/journal.jsonl`).
        case file(String)
    }

    /// Every field; a repeated field has several values, in order.
    public var fields: [String: [String]]
    /// When journald received it (microseconds since 1970); nil for a fallback record.
    public var realtimeMicroseconds: UInt64?
    public var source: Source

    public init(fields: [String: [String]], realtimeMicroseconds: UInt64? = nil, source: Source) {
        self.fields = fields
        self.realtimeMicroseconds = realtimeMicroseconds
        self.source = source
    }

    /// The first value of a field.
    public subscript(_ name: String) -> String? { fields[name]?.first }

    public var message: String { self[JournalField.message] ?? "" }
    public var messageID: String? { self[JournalField.messageID] }
    public var runID: String? { self[JournalField.run] }
    /// `TCPLAB_INDEX`, for event records.
    public var index: Int? { self[JournalField.index].flatMap { Int($0) } }
    public var isRunStarted: Bool { messageID == JournalMessageID.runStarted }
    public var isRunFinished: Bool { messageID == JournalMessageID.runFinished }

    /// The event this record carries (`TCPLAB_EVENT_JSON`), exactly as it was logged.
    public var event: LabEvent? {
        guard let json = self[JournalField.eventJSON] else { return nil }
        return try? JSONDecoder().decode(LabEvent.self, from: Data(json.utf8))
    }

    /// A record as `journalctl -o json` prints it, and as a fallback file holds it: an object whose
    /// values are strings, arrays of strings (repeated fields), or arrays of byte values (binary data).
    public init?(jsonLine: Data, source: Source) {
        guard let object = try? JSONSerialization.jsonObject(with: jsonLine) as? [String: Any] else { return nil }
        var fields: [String: [String]] = [:]
        for (name, value) in object {
            if let s = value as? String {
                fields[name] = [s]
            } else if let a = value as? [String] {
                fields[name] = a
            } else if let bytes = value as? [Int] {
                fields[name] = [String(decoding: bytes.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)]
            } else if let many = value as? [Any] {
                fields[name] = many.compactMap { v in
                    if let s = v as? String { return s }
                    if let b = v as? [Int] { return String(decoding: b.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self) }
                    return nil
                }
            }
        }
        self.fields = fields
        self.source = source
        realtimeMicroseconds = fields["__REALTIME_TIMESTAMP"]?.first.flatMap { UInt64($0) }
    }
}

/// A run as the journal and the fallback files remember it.
public struct RunSummary: Sendable, Equatable {
    public var runID: String
    public var topology: String?
    /// `pass` / `fail`; nil when the run has not finished (or its end was not recorded).
    public var verdict: String?
    /// Wall-clock start.
    public var startedAt: Date
    /// Event records the run wrote (from run-finished).
    public var records: Int?
    public var backend: String?
    public var directory: String?
    /// `journal` or the fallback file's path.
    public var source: String
}

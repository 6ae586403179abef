import Foundation

extension JournalReader {
    /// Why `follow` returned.
    public enum FollowEnd: Sendable, Equatable {
        /// The followed run's run-finished record arrived.
        case runFinished
        /// `shouldStop` said so.
        case stopped
    }

    /// Hands every record of `run` (every TCPLab record when nil) to `handler` as it arrives, like
    /// `journalctl -f`: from the journal (`sd_journal_wait` between reads) and from the run's fallback
    /// file, if it has one or gets one (journald stopping mid-run).
    /// - Parameters:
    ///   - run: the run to follow; nil follows every TCPLab record (`SYSLOG_IDENTIFIER` tcplab, tcplab-worker).
    ///   - runDirectory: the run's directory, whose `journal.jsonl` is followed too.
    ///   - fromStart: hand over the records already there first; false starts at the end.
    ///   - untilRunFinished: return once the followed run's run-finished record is handed over.
    ///   - poll: longest wait between checks of `shouldStop` and the file.
    ///   - shouldStop: checked between reads (Ctrl-C handling, tests).
    ///   - handler: called for each record, in arrival order, on the calling thread.
    @discardableResult
    public static func follow(run: String?, runDirectory: String? = nil, fromStart: Bool = true, untilRunFinished: Bool = true,
                              useJournal: Bool = true, poll: TimeInterval = 0.25,
                              shouldStop: () -> Bool = { false }, handler: (JournalEntry) -> Void) throws -> FollowEnd
    {
        var journal: SystemJournal?
        if useJournal {
            let j = try SystemJournal()
            if let run {
                try j.addMatch("\(JournalField.run)=\(run)")
            } else {
                try j.addMatch("\(JournalField.syslogIdentifier)=tcplab")
                try j.addMatch("\(JournalField.syslogIdentifier)=tcplab-worker")
            }
            if fromStart {
                try j.seekHead()
            } else {
                // From now on. (After sd_journal_seek_tail with nothing matching yet, entries that
                // arrive before the next sd_journal_next are skipped; a time stays put.)
                try j.seekRealtime(microseconds: UInt64(Date().timeIntervalSince1970 * 1e6))
            }
            journal = j
        }
        var file = runDirectory.map { FileTail(path: fallbackPath(runDirectory: $0), fromStart: fromStart) }
        func deliver(_ e: JournalEntry) -> Bool {
            if let run, e.runID != run { return false }
            handler(e)
            return untilRunFinished && run != nil && e.isRunFinished
        }
        while true {
            var finished = false
            if let j = journal {
                while try j.next() {
                    let e = JournalEntry(fields: j.allFields(), realtimeMicroseconds: j.realtimeMicroseconds, source: .journal)
                    if deliver(e) { finished = true }
                }
            }
            if file == nil, let dir = runDirectory { file = FileTail(path: fallbackPath(runDirectory: dir), fromStart: true) }
            if let f = file {
                for e in f.newEntries() where deliver(e) { finished = true }
            }
            if finished { return .runFinished }
            if shouldStop() { return .stopped }
            if let j = journal {
                _ = try j.wait(timeout: poll)
            } else {
                Thread.sleep(forTimeInterval: poll)
            }
        }
    }
}

/// Reads the complete lines appended to a file since the last call.
final class FileTail {
    let path: String
    private var offset: UInt64
    private var partial = Data()

    init(path: String, fromStart: Bool) {
        self.path = path
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64) ?? nil
        offset = fromStart ? 0 : (size ?? 0)
    }

    func newEntries() -> [JournalEntry] {
        guard let h = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? h.close() }
        try? h.seek(toOffset: offset)
        let data = h.readDataToEndOfFile()
        offset += UInt64(data.count)
        partial.append(data)
        guard let lastNewline = partial.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = partial[partial.startIndex...lastNewline]
        let rest = partial[(lastNewline + 1)...]
        let entries = complete.split(separator: UInt8(ascii: "\n")).compactMap { JournalEntry(jsonLine: Data($0), source: .file(path)) }
        partial = Data(rest)
        return entries
    }
}

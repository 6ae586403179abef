import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes journal records from one process, in order, on a thread of its own: callers only queue.
///
/// At start it probes journald's socket (`sd_journal_sendv` returns 0 even when nothing listens, and
/// the entry is lost). Without journald, every record goes to a fallback file instead — one JSON object
/// per line, the same fields — and `notice` says so, once. If a send fails later (journald stopped),
/// that record and every later one go to the fallback file, and a notice says so. If even the file
/// cannot be written, records go to standard error. Nothing is dropped without a notice.
///
/// Records sent to journald are in journald's socket queue when `flush()` returns; `flush(sync: true)`
/// also waits until journald has written them (varlink `Synchronize`), so a reader sees them all.
public final class JournalWriter: @unchecked Sendable {
    public struct Options: Sendable {
        /// `SYSLOG_IDENTIFIER`: `tcplab` (the coordinator, the CLI) or `tcplab-worker`.
        public var identifier: String
        /// Fields every record carries (`TCPLAB_RUN`, …), after `SYSLOG_IDENTIFIER`.
        public var common: JournalRecord
        /// Where records go without journald (`<run dir>/journal.jsonl`). Several processes may share
        /// one: each write appends whole lines (O_APPEND).
        public var fallbackPath: String
        /// What the notices call this writer's records ("the records of run 1a2b").
        public var subject: String
        /// The socket to probe: journald's unless a test points elsewhere to play "no journald".
        public var socketPath: String
        /// `.fileOnly` skips journald altogether (`TCPLAB_JOURNAL=file` in the environment does too).
        public var mode: Mode
        /// Records queued at most; `write` waits beyond that (memory stays bounded, nothing is dropped).
        public var queueLimit: Int

        public init(identifier: String, common: JournalRecord = JournalRecord(), fallbackPath: String,
                    subject: String = "the records", socketPath: String = Journald.socketPath,
                    mode: Mode = .automatic, queueLimit: Int = 1 << 16)
        {
            self.identifier = identifier
            self.common = common
            self.fallbackPath = fallbackPath
            self.subject = subject
            self.socketPath = socketPath
            self.mode = mode
            self.queueLimit = max(1, queueLimit)
        }
    }

    public enum Mode: Sendable, Equatable {
        /// journald when its socket answers, else the fallback file.
        case automatic
        /// The fallback file only, for this reason (shown in the notice).
        case fileOnly(reason: String)
    }

    /// Where records are going now.
    public enum Destination: Sendable, Equatable {
        case journal
        case file(String)
        case standardError
    }

    /// How many records went where, and what the writer had to say.
    public struct Summary: Sendable {
        public var toJournal = 0
        public var toFile = 0
        public var toStandardError = 0
        public var destination: Destination
        public var fallbackPath: String
        /// Every notice, in order (the start notice first, if any).
        public var notices: [String] = []
        /// Why the last `flush(sync: true)` could not confirm journald had written everything.
        public var syncProblem: String?
        public var total: Int { toJournal + toFile + toStandardError }
    }

    public let options: Options
    /// Said once at start when records will not go to journald (nil when they will). Print it.
    public let notice: String?
    /// Called on the writer's thread when records change destination mid-run (the notice text).
    public var onNotice: (@Sendable (String) -> Void)? {
        get { lock.lock(); defer { lock.unlock() }; return _onNotice }
        set { lock.lock(); _onNotice = newValue; lock.unlock() }
    }

    private let transport: JournalTransport
    private let prefix: JournalRecord
    private let lock = NSCondition()
    private var queue: [JournalRecord] = []
    private var enqueued = 0
    private var delivered = 0
    private var closing = false
    private var threadDone = false
    private var _onNotice: (@Sendable (String) -> Void)?
    /// Written by the writer thread, read under `lock`.
    private var summary: Summary
    private var sentSinceSync = 0
    // Writer-thread state.
    private var fileFD: Int32 = -1
    private var fileBuffer: [UInt8] = []
    private var sentByThread = 0

    /// Opens a writer: probes journald (unless `.fileOnly`), starts the writer thread.
    /// - Parameters:
    ///   - options: identity, common fields, fallback file.
    ///   - transport: what sends to journald (`sd_journal_sendv` unless a test injects another).
    public init(options: Options, transport: JournalTransport = SystemdJournalTransport()) {
        self.options = options
        self.transport = transport
        var p = JournalRecord()
        p.append(JournalField.syslogIdentifier, options.identifier)
        p.append(contentsOf: options.common)
        prefix = p
        var mode = options.mode
        if mode == .automatic, let forced = ProcessInfo.processInfo.environment["TCPLAB_JOURNAL"], forced == "file" {
            mode = .fileOnly(reason: "TCPLAB_JOURNAL=file is set")
        }
        let start: Destination
        let startNotice: String?
        switch mode {
        case .fileOnly(let reason):
            start = .file(options.fallbackPath)
            startNotice = "\(reason): \(options.subject) go to \(options.fallbackPath), not to journald."
        case .automatic:
            let state = Journald.socketState(at: options.socketPath)
            if state == .listening {
                start = .journal
                startNotice = nil
            } else {
                start = .file(options.fallbackPath)
                startNotice = "journald is not running (\(options.socketPath): \(state.description)): \(options.subject) go to "
                    + "\(options.fallbackPath) instead, and `tcplab logs` reads them from there."
            }
        }
        notice = startNotice
        summary = Summary(destination: start, fallbackPath: options.fallbackPath, notices: startNotice.map { [$0] } ?? [])
        if case .file = start { openFallback(because: startNotice ?? "") }
        let thread = Thread { [self] in self.drain() }
        thread.name = "tcplab-journal"
        thread.start()
        JournalWriter.register(self)
    }

    deinit {
        if fileFD >= 0 { Glibc.close(fileFD) }
    }

    /// Queues one record. Returns at once unless `queueLimit` records are already waiting.
    public func write(_ record: JournalRecord) {
        lock.lock()
        while queue.count >= options.queueLimit && !closing { lock.wait() }
        if threadDone {
            lock.unlock()
            writeAfterClose([record])
            return
        }
        queue.append(record)
        enqueued += 1
        lock.signal()
        lock.unlock()
    }

    /// Queues records in order.
    public func write(contentsOf records: [JournalRecord]) {
        var rest = records[...]
        while !rest.isEmpty {
            lock.lock()
            while queue.count >= options.queueLimit && !closing { lock.wait() }
            if threadDone {
                lock.unlock()
                writeAfterClose(Array(rest))
                return
            }
            let room = max(1, options.queueLimit - queue.count)
            let chunk = rest.prefix(room)
            queue.append(contentsOf: chunk)
            enqueued += chunk.count
            rest = rest.dropFirst(chunk.count)
            lock.signal()
            lock.unlock()
        }
    }

    /// Waits until every record queued so far has been handed on (to journald's socket or the file).
    /// - Parameter sync: also wait until journald has written what this writer sent (varlink
    ///   `Synchronize`), so a reader started now sees it.
    /// - Returns: the summary so far.
    @discardableResult
    public func flush(sync: Bool = false) -> Summary {
        lock.lock()
        let target = enqueued
        while delivered < target && !threadDone { lock.wait() }
        let needSync = sync && sentSinceSync > 0
        lock.unlock()
        if needSync {
            let problem = Journald.synchronize()
            lock.lock()
            summary.syncProblem = problem
            sentSinceSync = 0
            lock.unlock()
        }
        return currentSummary
    }

    /// Flushes (syncing journald), stops the writer thread and closes the fallback file.
    @discardableResult
    public func close() -> Summary {
        flush(sync: true)
        lock.lock()
        closing = true
        lock.broadcast()
        while !threadDone { lock.wait() }
        lock.unlock()
        if fileFD >= 0 {
            Glibc.close(fileFD)
            fileFD = -1
        }
        JournalWriter.unregister(self)
        return currentSummary
    }

    /// What went where so far.
    public var currentSummary: Summary {
        lock.lock()
        defer { lock.unlock() }
        return summary
    }

    /// A record written after `close()` (a `Logger` still in use, say) is delivered on the caller's
    /// thread — the writer thread is gone — rather than dropped.
    private func writeAfterClose(_ records: [JournalRecord]) {
        lateLock.lock()
        defer { lateLock.unlock() }
        if fileFD < 0, case .file = destination { openFallback(because: "records written after the writer was closed") }
        var sent = 0, filed = 0, stderrd = 0
        for r in records {
            switch deliver(r) {
            case .journal: sent += 1
            case .file: filed += 1
            case .standardError: stderrd += 1
            }
        }
        flushFileBuffer()
        if fileFD >= 0 {
            Glibc.close(fileFD)
            fileFD = -1
        }
        lock.lock()
        summary.toJournal += sent
        summary.toFile += filed
        summary.toStandardError += stderrd
        lock.unlock()
    }

    private let lateLock = NSLock()

    // MARK: - The writer thread

    private func drain() {
        var batch: [JournalRecord] = []
        while true {
            lock.lock()
            while queue.isEmpty && !closing { lock.wait() }
            if queue.isEmpty && closing {
                threadDone = true
                lock.broadcast()
                lock.unlock()
                return
            }
            swap(&batch, &queue)
            lock.broadcast()  // room in the queue
            lock.unlock()
            var sent = 0, filed = 0, stderrd = 0
            for r in batch {
                switch deliver(r) {
                case .journal: sent += 1
                case .file: filed += 1
                case .standardError: stderrd += 1
                }
            }
            flushFileBuffer()
            lock.lock()
            summary.toJournal += sent
            summary.toFile += filed
            summary.toStandardError += stderrd
            sentSinceSync += sent
            delivered += batch.count
            lock.broadcast()
            lock.unlock()
            batch.removeAll(keepingCapacity: true)
        }
    }

    /// Where the writer thread is sending; only it changes `summary.destination`.
    private var destination: Destination {
        lock.lock()
        defer { lock.unlock() }
        return summary.destination
    }

    private var destinationCache: Destination?

    private func deliver(_ record: JournalRecord) -> Destination {
        let dest = destinationCache ?? destination
        destinationCache = dest
        switch dest {
        case .journal:
            let r = send(record)
            if r >= 0 {
                sentByThread += 1
                return .journal
            }
            switchTo(.file(options.fallbackPath),
                     notice: "journald stopped taking records (sd_journal_sendv: \(String(cString: strerror(-r)))) after "
                         + "\(sentByThread) sent by this writer: the rest of \(options.subject) go to \(options.fallbackPath); "
                         + "`tcplab logs` reads both.")
            return deliver(record)
        case .file:
            record.appendJSONLine(to: &fileBuffer, prefix: prefix)
            if fileBuffer.count >= 1 << 18 { flushFileBuffer() }
            return dest
        case .standardError:
            var line: [UInt8] = []
            record.appendJSONLine(to: &line, prefix: prefix)
            writeAll(STDERR_FILENO, line)
            return .standardError
        }
    }

    /// Hands one record to the transport as iovecs: the common prefix, then the record's fields.
    private func send(_ record: JournalRecord) -> Int32 {
        let n = prefix.count + record.count
        return prefix.bytes.withUnsafeBufferPointer { pb in
            record.bytes.withUnsafeBufferPointer { rb in
                withUnsafeTemporaryAllocation(of: iovec.self, capacity: n) { iov in
                    var k = 0
                    var start = 0
                    for end in prefix.ends {
                        iov[k] = iovec(iov_base: UnsafeMutableRawPointer(mutating: pb.baseAddress! + start), iov_len: end - start)
                        start = end
                        k += 1
                    }
                    start = 0
                    for end in record.ends {
                        iov[k] = iovec(iov_base: UnsafeMutableRawPointer(mutating: rb.baseAddress! + start), iov_len: end - start)
                        start = end
                        k += 1
                    }
                    return transport.send(UnsafeBufferPointer(start: iov.baseAddress, count: k))
                }
            }
        }
    }

    private func switchTo(_ dest: Destination, notice: String) {
        flushFileBuffer()
        lock.lock()
        summary.destination = dest
        summary.notices.append(notice)
        let callback = _onNotice
        lock.unlock()
        destinationCache = dest
        if case .file = dest { openFallback(because: notice) }
        callback?(notice)
    }

    /// Opens the fallback file (creating its directory) and writes a record saying why it is used.
    private func openFallback(because reason: String) {
        let path = options.fallbackPath
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        fileFD = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        if fileFD < 0 {
            let why = String(cString: strerror(errno))
            lock.lock()
            summary.destination = .standardError
            let text = "cannot open the journal fallback file \(path) (\(why)): \(options.subject) go to standard error as JSON lines."
            summary.notices.append(text)
            let callback = _onNotice
            lock.unlock()
            destinationCache = .standardError
            FileHandle.standardError.write(Data("tcplab: \(text)\n".utf8))
            callback?(text)
            return
        }
        var r = JournalRecord()
        r.append(JournalField.message, reason)
        r.append(JournalField.priority, 4)
        r.append(JournalField.messageID, JournalMessageID.journalFallback)
        r.appendJSONLine(to: &fileBuffer, prefix: prefix)
        flushFileBuffer()
    }

    private func flushFileBuffer() {
        guard !fileBuffer.isEmpty else { return }
        if fileFD >= 0 {
            if let failure = writeAll(fileFD, fileBuffer) {
                // The file broke mid-run: what did not reach it goes to stderr, and say so.
                let text = "cannot write the journal fallback file \(options.fallbackPath) (\(failure)): \(options.subject) go to standard error from here on."
                writeAll(STDERR_FILENO, Array("tcplab: \(text)\n".utf8))
                writeAll(STDERR_FILENO, fileBuffer)
                Glibc.close(fileFD)
                fileFD = -1
                lock.lock()
                summary.destination = .standardError
                summary.notices.append(text)
                let callback = _onNotice
                lock.unlock()
                destinationCache = .standardError
                callback?(text)
            }
        } else {
            writeAll(STDERR_FILENO, fileBuffer)
        }
        fileBuffer.removeAll(keepingCapacity: true)
    }

    /// Writes everything, retrying on EINTR and short writes. Returns the error, if any.
    @discardableResult
    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return String(cString: strerror(errno)) }
                offset += n
            }
            return nil
        }
    }

    // MARK: - Flushing at exit

    nonisolated(unsafe) private static var live: [ObjectIdentifier: Weak] = [:]
    private static let liveLock = NSLock()
    nonisolated(unsafe) private static var atexitInstalled = false

    private struct Weak { weak var writer: JournalWriter? }

    /// Every open writer is flushed when the process calls exit(3), so a worker that exits right
    /// after its last `Logger` call loses nothing.
    private static func register(_ w: JournalWriter) {
        liveLock.lock()
        live[ObjectIdentifier(w)] = Weak(writer: w)
        if !atexitInstalled {
            atexitInstalled = true
            atexit { JournalWriter.flushAll() }
        }
        liveLock.unlock()
    }

    private static func unregister(_ w: JournalWriter) {
        liveLock.lock()
        live[ObjectIdentifier(w)] = nil
        liveLock.unlock()
    }

    /// Flushes every open writer (what the exit hook does).
    public static func flushAll() {
        liveLock.lock()
        let writers = live.values.compactMap(\.writer)
        liveLock.unlock()
        for w in writers { w.flush() }
    }
}

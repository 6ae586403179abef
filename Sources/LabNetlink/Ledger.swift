#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A record of everything a lab is about to create, written before it is created, so that
/// `LabCleanup.clean()` can remove exactly that, and nothing else, even after the creator died by SIGKILL.
///
/// One file per creator and run: `/run/tcplab/ledger/<run>.<pid>.jsonl`, one JSON object per line. A
/// record is appended with a single `write(2)` on an `O_APPEND` descriptor, so it is on the file (in the
/// page cache, which outlives the process) before the `unshare` or the netlink request it announces.
/// Records are withdrawn when their object is removed or fails to be created; the file goes with the
/// last one.
public final class Ledger {
    public static let defaultDirectory = "/run/tcplab/ledger"

    /// One object a lab creates.
    public struct Entry: Codable, Hashable, Sendable {
        public enum Kind: String, Codable, Sendable {
            /// A named namespace; removing it removes every interface in it.
            case namespace
            /// A veth pair, `name` in `namespace` with its peer `peer` in `peerNamespace`. Lab veths live
            /// entirely in lab namespaces, so they go with them; the record says what was made.
            case veth
        }

        public var kind: Kind
        public var name: String
        public var namespace: String?
        public var peer: String?
        public var peerNamespace: String?
        /// Filled in by `Ledger.record`.
        public var run: String = ""
        public var creatorPID: Int32 = 0
        /// The creator's start time in clock ticks after boot (/proc/PID/stat field 22), so that a reused
        /// pid is not mistaken for a live creator.
        public var creatorStartTime: UInt64 = 0

        public init(kind: Kind, name: String, namespace: String? = nil, peer: String? = nil, peerNamespace: String? = nil) {
            self.kind = kind
            self.name = name
            self.namespace = namespace
            self.peer = peer
            self.peerNamespace = peerNamespace
        }

        /// Identity for withdrawal: what was made, not who made it.
        func sameObject(as other: Entry) -> Bool {
            kind == other.kind && name == other.name && namespace == other.namespace
        }
    }

    public let run: String
    public let directory: String
    public let path: String
    public private(set) var entries: [Entry] = []

    private let pid: Int32
    private let startTime: UInt64

    /// A ledger for run `run` of this process. Nothing is written until the first `record`.
    public init(run: String, directory: String = Ledger.defaultDirectory) throws {
        try LabNames.validateRunID(run)
        self.run = run
        self.directory = directory
        pid = getpid()
        startTime = ProcessInfo.startTime(of: pid) ?? 0
        path = "\(directory)/\(run).\(pid).jsonl"
    }

    /// Appends `entry` to the file; returns when it is written.
    public func record(_ entry: Entry) throws {
        var entry = entry
        entry.run = run
        entry.creatorPID = pid
        entry.creatorStartTime = startTime
        let line = try Self.encode(entry)
        try Self.makeDirectory(directory)
        let file = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw NetlinkError.system("record in ledger", path, errno: errno) }
        defer { close(file) }
        try Self.writeAll(file, line, path: path)
        entries.append(entry)
    }

    /// Withdraws the records of `removed` (objects torn down, or never created after all).
    public func withdraw(_ removed: [Entry]) throws {
        entries.removeAll { entry in removed.contains { $0.sameObject(as: entry) } }
        try Self.rewrite(path, entries)
    }

    /// Withdraws every record and removes the file.
    public func withdrawAll() throws {
        entries.removeAll()
        try Self.rewrite(path, [])
    }

    // MARK: Files

    /// A ledger file as found on disk.
    public struct File: Sendable {
        public var path: String
        public var entries: [Entry]
        /// Lines that are not a valid entry (a torn write); reported, never acted upon.
        public var unreadableLines: Int
    }

    /// Every ledger file under `directory`.
    public static func files(in directory: String = Ledger.defaultDirectory) -> [File] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { $0.hasSuffix(".jsonl") }.sorted().compactMap { name in
            let path = "\(directory)/\(name)"
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            var entries: [Entry] = [], unreadable = 0
            for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                if let entry = try? JSONDecoder().decode(Entry.self, from: Data(line)) {
                    entries.append(entry)
                } else {
                    unreadable += 1
                }
            }
            return File(path: path, entries: entries, unreadableLines: unreadable)
        }
    }

    /// Replaces the file's contents with `entries` (write a temporary file, then rename over it), or
    /// removes the file when `entries` is empty.
    static func rewrite(_ path: String, _ entries: [Entry]) throws {
        if entries.isEmpty {
            if unlink(path) < 0, errno != ENOENT { throw NetlinkError.system("remove ledger", path, errno: errno) }
            return
        }
        let temporary = path + ".tmp"
        let file = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw NetlinkError.system("rewrite ledger", temporary, errno: errno) }
        do {
            try writeAll(file, entries.map(encode).reduce(Data(), +), path: temporary)
            close(file)
        } catch {
            close(file)
            unlink(temporary)
            throw error
        }
        if rename(temporary, path) < 0 { throw NetlinkError.system("rewrite ledger", path, errno: errno) }
    }

    private static func encode(_ entry: Entry) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var line = try encoder.encode(entry)
        line.append(UInt8(ascii: "\n"))
        return line
    }

    private static func writeAll(_ file: Int32, _ data: Data, path: String) throws {
        try data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(file, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw NetlinkError.system("write ledger", path, errno: errno)
                }
                offset += written
            }
        }
    }

    private static func makeDirectory(_ directory: String) throws {
        if access(directory, F_OK) == 0 { return }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw NetlinkError(.failed, operation: "create ledger directory", object: directory, reason: "\(error)")
        }
    }
}

extension ProcessInfo {
    /// Field 22 of /proc/PID/stat (start time in clock ticks after boot), nil when the process is gone.
    static func startTime(of pid: Int32) -> UInt64? {
        guard let fields = statFields(of: pid), fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// Whether `pid` is a running (not zombie) process that started at `startTime`.
    static func isAlive(pid: Int32, startTime: UInt64) -> Bool {
        guard pid > 0, let fields = statFields(of: pid), fields.count > 19 else { return false }
        // fields[0] is the state: Z (zombie) and X (dead) are no longer the creator.
        if fields[0] == "Z" || fields[0] == "X" { return false }
        return startTime == 0 || UInt64(fields[19]) == startTime
    }

    /// The fields of /proc/PID/stat after the command name, which may itself contain spaces and
    /// parentheses: index 0 is field 3 (state).
    private static func statFields(of pid: Int32) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }
}

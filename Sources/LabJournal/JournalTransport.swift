import CSystemd
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where a `JournalWriter` hands its entries: journald through `sd_journal_sendv` in production,
/// something that fails on cue in tests.
public protocol JournalTransport: Sendable {
    /// Sends one entry, one `NAME=value` per iovec. Returns 0 or -errno.
    func send(_ fields: UnsafeBufferPointer<iovec>) -> Int32
}

/// journald's native protocol through libsystemd's `sd_journal_sendv(3)`: one datagram per entry to
/// /run/systemd/journal/socket (a file descriptor passed through a memfd when the entry is too big).
///
/// It returns 0 when no socket file exists — the entry is then lost — which is why `JournalWriter`
/// probes the socket first. A stale socket (journald gone) gives -ECONNREFUSED.
public struct SystemdJournalTransport: JournalTransport {
    public init() {}
    public func send(_ fields: UnsafeBufferPointer<iovec>) -> Int32 {
        tcplab_journal_sendv(fields.baseAddress, Int32(fields.count))
    }
}

/// Finding out whether journald is there, and making sure it has taken what was sent.
public enum Journald {
    /// journald's native socket, the one `sd_journal_sendv` writes to.
    public static let socketPath = "/run/systemd/journal/socket"
    /// journald's varlink socket (`journalctl --sync`, `--rotate` use it).
    public static let varlinkPath = "/run/systemd/journal/io.systemd.journal"

    /// What is at a journal socket path.
    public enum SocketState: Equatable, Sendable {
        /// journald (or something) reads it.
        case listening
        /// No such file: `sd_journal_sendv` would return 0 and lose every entry.
        case missing
        /// The file is there but nothing reads it (journald stopped): -ECONNREFUSED.
        case refused
        case other(errno: Int32)

        public var description: String {
            switch self {
            case .listening: return "journald is listening"
            case .missing: return "no socket file"
            case .refused: return "a stale socket file that nothing reads"
            case .other(let e): return String(cString: strerror(e))
            }
        }
    }

    /// Probes `path` with connect(2) on a datagram socket: only a socket something has bound accepts it.
    public static func socketState(at path: String = socketPath) -> SocketState {
        let r = tcplab_socket_listening(path, Int32(SOCK_DGRAM.rawValue))
        switch r {
        case 0: return .listening
        case -ENOENT: return .missing
        case -ECONNREFUSED: return .refused
        default: return .other(errno: -r)
        }
    }

    /// Whether journald is taking entries here.
    public static var isListening: Bool { socketState() == .listening }

    /// Asks journald over varlink (`io.systemd.Journal.Synchronize`, what `journalctl --sync` does)
    /// to process everything already queued on its sockets, write it and sync. journald answers only
    /// after every datagram sent before the call is in the journal files, so a reader started after
    /// this sees every entry this process sent.
    /// - Returns: nil on success, else why it could not be confirmed.
    @discardableResult
    public static func synchronize(timeout: TimeInterval = 30, varlinkPath: String = varlinkPath) -> String? {
        let fd = tcplab_unix_stream_connect(varlinkPath)
        guard fd >= 0 else { return "cannot reach journald's varlink socket \(varlinkPath): \(String(cString: strerror(-fd)))" }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var request = Array(#"{"method":"io.systemd.Journal.Synchronize","parameters":{}}"#.utf8)
        request.append(0)
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { write(fd, $0.baseAddress! + sent, $0.count - sent) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return "cannot write to journald's varlink socket: \(String(cString: strerror(errno)))" }
            sent += n
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !reply.contains(0) {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return "journald did not confirm the sync within \(Int(timeout)) s" }
            if n <= 0 { return "journald closed its varlink connection without an answer" }
            reply += chunk[0..<n]
        }
        let text = String(decoding: reply.prefix { $0 != 0 }, as: UTF8.self)
        if text.contains("\"error\"") { return "journald refused to sync: \(text)" }
        return nil
    }
}

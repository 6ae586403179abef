import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A systemd-journald this process starts by hand, for tests and benchmarks on machines where none
/// runs (these machines run no systemd). It reads a drop-in with the rate limit asked for and no
/// forwarding to a syslog socket nobody reads; the drop-in is removed as soon as journald has started,
/// so nothing else ever reads it. Stop it with `stop()`, which kills this PID and no other.
///
/// journald rate-limits per systemd unit (the unit named by a process's cgroup): a process in no unit,
/// as every process on these machines, is never limited, whatever the setting.
public final class HandStartedJournald: @unchecked Sendable {
    public static let binary = "/lib/systemd/systemd-journald"
    static let dropIn = "/run/systemd/journald.conf.d/50-tcplab-hand-started.conf"

    /// journald's PID.
    public let pid: pid_t
    private var stopped = false

    private init(pid: pid_t) { self.pid = pid }

    /// What `ensure` found or did.
    public enum Outcome: Sendable {
        /// A journald was listening already; it is used as it is (with its own rate limit) and never stopped here.
        case alreadyRunning
        /// Started here; stop it when done.
        case started(HandStartedJournald)
        /// None runs and none could be started, and why.
        case unavailable(String)
    }

    /// journald's rate limit (`RateLimitIntervalSec=`, `RateLimitBurst=`).
    public enum RateLimit: Sendable {
        /// `RateLimitIntervalSec=0`: never.
        case off
        /// At most `burst` messages per unit in `intervalSeconds` (journald scales the burst up with
        /// free disk space: ×(log2(free bytes) − 16) / 4).
        case limit(intervalSeconds: Int, burst: Int)
    }

    /// Uses the running journald, or starts one (root only).
    /// - Parameter rateLimit: the rate limit of a journald started here.
    public static func ensure(rateLimit: RateLimit = .off, timeout: TimeInterval = 10) -> Outcome {
        if Journald.socketState() == .listening { return .alreadyRunning }
        guard geteuid() == 0 else { return .unavailable("no journald is running and only root can start one") }
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            return .unavailable("no journald is running and \(binary) is missing (scripts/setup installs systemd)")
        }
        let machineID = (try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard machineID.count == 32 else { return .unavailable("journald needs /etc/machine-id (systemd-machine-id-setup writes one)") }
        let fm = FileManager.default
        // journald binds its sockets in here but does not create it.
        try? fm.createDirectory(atPath: "/run/systemd/journal", withIntermediateDirectories: true)
        let limit: String
        switch rateLimit {
        case .off: limit = "RateLimitIntervalSec=0"
        case let .limit(interval, burst): limit = "RateLimitIntervalSec=\(interval)s\nRateLimitBurst=\(burst)"
        }
        try? fm.createDirectory(atPath: (dropIn as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let conf = """
            # Written by TCPLab (LabJournal.HandStartedJournald) for the journald it starts by hand for tests
            # and benchmarks; removed once that journald has started.
            [Journal]
            \(limit)
            ForwardToSyslog=no

            """
        try? conf.write(toFile: dropIn, atomically: true, encoding: .utf8)
        defer { try? fm.removeItem(atPath: dropIn) }
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(binary), nil]
        defer { free(argv[0]) }
        let r = posix_spawn(&pid, binary, &actions, nil, argv, environ)
        guard r == 0 else { return .unavailable("cannot start \(binary): \(String(cString: strerror(r)))") }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if Journald.socketState() == .listening { return .started(HandStartedJournald(pid: pid)) }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { return .unavailable("\(binary) exited at once (wait status \(status))") }
            usleep(20_000)
        }
        kill(pid, SIGTERM)
        return .unavailable("\(binary) (pid \(pid)) did not open \(Journald.socketPath) within \(Int(timeout)) s")
    }

    /// SIGTERM to this journald (SIGKILL after 2 s), and reaps it. Safe to call twice.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<200 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }
}

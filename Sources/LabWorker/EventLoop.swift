import CLabIO
import Foundation

/// epoll + timerfd: waits for frames, control lines and the next timer, one thread, no Dispatch.
final class EventLoop {
    private let epfd: Int32
    /// The epoll descriptor, for one-shot watches a role adds later.
    var epollFD: Int32 { epfd }
    private let timerfd: Int32
    static let timerTag: UInt64 = .max
    private var armed: Int64 = 0

    init() throws {
        epfd = clab_epoll_create()
        timerfd = clab_timerfd_create()
        guard epfd >= 0, timerfd >= 0 else { throw WorkerError("epoll/timerfd unavailable") }
        guard clab_epoll_add(epfd, timerfd, Self.timerTag) == 0 else { throw WorkerError("epoll_ctl(timerfd) failed") }
    }

    deinit {
        close(epfd)
        close(timerfd)
    }

    /// Watches `fd` for input; `tag` comes back from `wait`.
    func watch(_ fd: Int32, tag: UInt64) throws {
        let rc = clab_epoll_add(epfd, fd, tag)
        guard rc == 0 else { throw WorkerError("epoll_ctl(\(fd)) failed: \(String(cString: strerror(-rc)))") }
    }

    /// Arms the timer for an absolute CLOCK_MONOTONIC instant (nanoseconds); `.max` or ≤ 0 disarms.
    func setDeadline(_ ns: Int64) {
        let target = ns == .max ? 0 : max(ns, 1)
        guard target != armed else { return }
        armed = target
        _ = clab_timerfd_set_absolute(timerfd, target)
    }

    /// Waits for readiness; returns the tags (the timer's is `timerTag`).
    func wait(timeoutMilliseconds: Int32 = -1) -> [UInt64] {
        var tags = [UInt64](repeating: 0, count: 64)
        let n = clab_epoll_wait(epfd, &tags, 64, timeoutMilliseconds)
        guard n > 0 else { return [] }
        let ready = Array(tags[0..<Int(n)])
        if ready.contains(Self.timerTag) {
            _ = clab_timerfd_read(timerfd)
            armed = 0
        }
        return ready
    }

    static var now: Int64 { clab_monotonic_ns() }
}

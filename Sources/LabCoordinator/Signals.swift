import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM during a run: counted, so every run in progress (there may be several in one
/// process, as in the tests) stops at its next check and tears down.
enum Interrupts {
    nonisolated(unsafe) static var count: Int32 = 0
    nonisolated(unsafe) static var last: Int32 = 0

    /// Installs the handlers and returns the count to compare against.
    static func install() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // A parent may have spawned us with these signals blocked (a test runner's threads do); a run
        // that cannot be interrupted would leave its lab standing, so take them back.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        signal(SIGINT) { Interrupts.last = $0; Interrupts.count &+= 1 }
        signal(SIGTERM) { Interrupts.last = $0; Interrupts.count &+= 1 }
        return count
    }

    /// Throws if a signal arrived since `baseline`.
    static func check(since baseline: Int32) throws {
        if count != baseline { throw LabError.interrupted(signal: last) }
    }
}

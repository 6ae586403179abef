import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM during a run: remembered, so the run stops at its next check and tears down.
enum Interrupts {
    nonisolated(unsafe) static var received: Int32 = 0

    /// Installs the handlers for a new run (forgetting a signal that ended an earlier run in this process).
    static func install() {
        received = 0
        signal(SIGPIPE, SIG_IGN)
        signal(SIGINT) { Interrupts.received = $0 }
        signal(SIGTERM) { Interrupts.received = $0 }
    }

    static func check() throws {
        let s = received
        if s != 0 { throw LabError.interrupted(signal: s) }
    }
}

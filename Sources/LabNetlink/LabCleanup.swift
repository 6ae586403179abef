#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// `tcplab clean`: removes what the ledgers under /run/tcplab/ledger list, and nothing else.
///
/// Labs whose creator is still running are left alone unless asked for: a parallel test or a
/// running `tcplab run` is not debris. A creator is running when its pid exists, is not a zombie and
/// started at the time the ledger recorded (so a reused pid does not count).
public enum LabCleanup {
    /// What a clean did.
    public struct Report: Sendable, Equatable {
        /// Namespaces removed (their veths went with them).
        public var removedNamespaces: [String] = []
        /// Veths removed one by one, because their namespace was not the lab's own.
        public var removedLinks: [String] = []
        /// Ledger entries already gone from the system.
        public var alreadyGone: [String] = []
        /// Runs skipped because their creator is alive: "run (pid N)".
        public var skippedLiveRuns: [String] = []
        /// What could not be removed; their records stay in the ledger.
        public var failures: [String] = []
    }

    /// Removes every object listed in the ledgers, then the ledgers.
    ///
    /// - Parameters:
    ///   - runs: only these run ids; every run when nil.
    ///   - includeLiveCreators: also remove labs whose creator is still running.
    ///   - ledgerDirectory: where the ledgers are.
    @discardableResult
    public static func clean(runs: Set<String>? = nil, includeLiveCreators: Bool = false,
                             ledgerDirectory: String = Ledger.defaultDirectory) throws -> Report {
        try Privileges.check(for: "clean")
        var report = Report()
        for file in Ledger.files(in: ledgerDirectory) {
            if let runs, !file.entries.contains(where: { runs.contains($0.run) }) { continue }
            if let creator = file.entries.first, !includeLiveCreators,
               ProcessInfo.isAlive(pid: creator.creatorPID, startTime: creator.creatorStartTime) {
                report.skippedLiveRuns.append("\(creator.run) (pid \(creator.creatorPID))")
                continue
            }
            var remaining: [Ledger.Entry] = []
            var removedNamespaces: Set<String> = []
            // Namespaces first: a veth between two lab namespaces goes with either.
            for entry in file.entries where entry.kind == .namespace {
                do {
                    if try NetworkNamespace.delete(named: entry.name) {
                        report.removedNamespaces.append(entry.name)
                    } else {
                        report.alreadyGone.append(entry.name)
                    }
                    removedNamespaces.insert(entry.name)
                } catch {
                    report.failures.append("\(error)")
                    remaining.append(entry)
                }
            }
            for entry in file.entries where entry.kind == .veth {
                let namespace = entry.namespace ?? "", peerNamespace = entry.peerNamespace ?? ""
                if removedNamespaces.contains(namespace) || removedNamespaces.contains(peerNamespace) { continue }
                // A veth made in a namespace this ledger does not own: remove the link itself.
                do {
                    guard NetworkNamespace.exists(named: namespace) else {
                        report.alreadyGone.append("\(entry.name) in \(namespace)")
                        continue
                    }
                    let session = try Netlink(namespace: try NetworkNamespace.open(named: namespace))
                    defer { session.close() }
                    if try session.link(named: entry.name) != nil {
                        try session.deleteLink(entry.name)
                        report.removedLinks.append("\(entry.name) in \(namespace)")
                    } else {
                        report.alreadyGone.append("\(entry.name) in \(namespace)")
                    }
                } catch {
                    report.failures.append("\(error)")
                    remaining.append(entry)
                }
            }
            if file.unreadableLines > 0 {
                report.failures.append("\(file.path): \(file.unreadableLines) unreadable line(s) kept")
                continue
            }
            do {
                try Ledger.rewrite(file.path, remaining)
            } catch {
                report.failures.append("\(error)")
            }
        }
        return report
    }
}

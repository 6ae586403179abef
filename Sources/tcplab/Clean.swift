import ArgumentParser
import LabNetlink

/// `tcplab clean`: removes exactly what the labs' ledgers list (namespaces and their veths), also
/// after a coordinator was killed with `kill -9`. Nothing else is touched.
struct Clean: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove what earlier labs left behind (as recorded in /run/tcplab), and nothing else.")

    @Option(name: .customLong("run"), help: "Only these run ids (default: every run whose creator is gone).")
    var runs: [String] = []

    @Flag(help: "Also remove labs whose creator is still running.")
    var force = false

    func run() throws {
        let report = try LabCleanup.clean(runs: runs.isEmpty ? nil : Set(runs), includeLiveCreators: force)
        for ns in report.removedNamespaces { print("removed namespace \(ns)") }
        for link in report.removedLinks { print("removed link \(link)") }
        for gone in report.alreadyGone { print("already gone: \(gone)") }
        for live in report.skippedLiveRuns { print("skipped run \(live): its creator is still running (use --force)") }
        for failure in report.failures { print("could not remove \(failure)") }
        if report.removedNamespaces.isEmpty && report.removedLinks.isEmpty && report.failures.isEmpty {
            print("nothing to clean")
        }
        if !report.failures.isEmpty { throw ExitCode(3) }
    }
}

import ArgumentParser
import LabTopology

/// `tcplab validate FILE…`: every problem of every file at once, as `file:line:column: error: …`.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check topology files without running them: every error at once, with file:line:column.",
        discussion: "Exit status: 0 when every file is valid, 2 otherwise.")

    @Argument(help: "Topology files.", completion: .file(extensions: ["yaml", "yml"]))
    var files: [String]

    @Option(name: .customLong("plugin-path"), help: "Also look for policy plugins here.")
    var pluginPath: [String] = []

    func run() throws {
        let catalog = PolicyCatalog(pluginPath: pluginPath)
        var bad = 0
        for f in files {
            let path = resolveTopology(f)
            let problems = Topology.validate(path: path, policies: catalog)
            if problems.isEmpty, let t = try? Topology.load(path: path, backend: .sim, policies: catalog) {
                print("\(path): ok — \(t.name): \(t.nodes.count) nodes, \(t.steps.count) steps, \(t.expectations.count) expectations, runs on \(t.backends.map(\.rawValue).joined(separator: " and "))")
            } else {
                bad += 1
                report(TopologyErrors(problems))
            }
        }
        if bad > 0 { throw ExitCode(Status.badInput) }
    }
}

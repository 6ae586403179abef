import ArgumentParser
import LabTopology

/// `tcplab plugins`: the policies a topology can name (built in and on the plugin path).
struct Plugins: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the policies a topology can use: built-in (linux) and plugins on the plugin path.")

    @Option(name: .customLong("plugin-path"), help: "Also look for policy plugins here.")
    var pluginPath: [String] = []

    func run() throws {
        print(PolicyCatalog(pluginPath: pluginPath).listing(), terminator: "")
    }
}

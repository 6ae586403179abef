import ArgumentParser
import Foundation
import LabReport
import LabTopology

/// `tcplab graph FILE`: the topology as SVG.
struct Graph: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a topology as SVG: its nodes (role, addresses, settings) and links.")

    @Argument(help: "The topology file.", completion: .file(extensions: ["yaml", "yml"]))
    var file: String

    @Option(name: .shortAndLong, help: "Write the SVG here (default: stdout).")
    var output: String?

    @Option(help: "Show the settings of this backend's overlay.")
    var backend: Backend = .sim

    func run() throws {
        let topology: Topology
        do { topology = try Topology.load(path: resolveTopology(file), backend: backend) } catch {
            report(error)
            throw ExitCode(Status.badInput)
        }
        let svg = topology.picture().renderSVG()
        if let output {
            try Data(svg.utf8).write(to: URL(fileURLWithPath: output))
            print("wrote \(output)")
        } else {
            print(svg, terminator: "")
        }
    }
}

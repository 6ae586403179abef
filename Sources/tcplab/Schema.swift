import ArgumentParser
import Foundation
import LabTopology

/// `tcplab schema`: the JSON Schema of topology files (what Topologies/schema.json holds).
struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the JSON Schema of topology files (tcplab schema > Topologies/schema.json).")

    func run() throws {
        FileHandle.standardOutput.write(TopologySchema.json())
    }
}

import Foundation
import LabControl
import LabTopology
import TCPEngine
import Testing

/// Topologies/schema.json, which editors use while one types, stays in step with the loader.
@Suite("Topologies/schema.json")
struct SchemaTests {
    func schema() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(packageRoot)/Topologies/schema.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func dig(_ object: Any?, _ path: String...) -> Any? {
        var o = object
        for key in path { o = (o as? [String: Any])?[key] }
        return o
    }

    @Test("the committed schema is what `tcplab schema` generates (sysctl names from the engine, roles from the lab)")
    func inStep() throws {
        let committed = try Data(contentsOf: URL(fileURLWithPath: "\(packageRoot)/Topologies/schema.json"))
        #expect(committed == TopologySchema.json(),
                "Topologies/schema.json is stale: run `swift run tcplab schema > Topologies/schema.json`")
        let s = try schema()
        #expect(dig(s, "definitions", "node", "properties", "sysctl", "propertyNames", "enum") as? [String] == Sysctls.names)
        let roles = dig(s, "definitions", "node", "properties", "role", "enum") as? [String]
        #expect(roles.map(Set.init) == Set(NodeRole.allCases.map(\.rawValue)))
    }

    @Test("every key the shipped files use is in it, and the files point editors at it")
    func coverage() throws {
        let s = try schema()
        let top = Set((s["properties"] as? [String: Any])?.keys.map { $0 } ?? [])
        #expect(top == ["name", "description", "seed", "duration", "backends", "allow-addresses", "nodes", "links", "steps", "expect", "netns", "sim"])
        for file in shippedTopologies {
            let text = try String(contentsOfFile: "\(packageRoot)/Topologies/\(file)", encoding: .utf8)
            #expect(text.contains("# yaml-language-server: $schema=schema.json"), "\(file)")
            for line in text.split(separator: "\n") where !line.hasPrefix(" ") && !line.hasPrefix("#") && line.contains(":") {
                let key = String(line.prefix { $0 != ":" })
                #expect(top.contains(key), "\(file): \(key) is not in the schema")
            }
        }
    }
}

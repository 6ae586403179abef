#if canImport(Glibc)
import Glibc
#endif
import LabSim
import TCPEngine
import TCPPluginHost
import TCPPolicy
import TCPWire
import Testing

/// docs/plugins.md, followed to the letter: the files it marks with `<!-- guide-file: PATH -->` are
/// written to a temporary directory outside the source tree, next to a `tcplab` link to this checkout
/// (the layout the guide asks for), built as the guide says, loaded and used.
@Suite("The plugin guide works outside the repository")
struct GuideTests {
    /// The fenced code block after each `<!-- guide-file: PATH -->` marker, by path; and the blocks
    /// after `<!-- guide-command: DIR -->`.
    static func guide() throws -> (files: [String: String], commands: [String: String]) {
        let path = "\(packageRoot)/docs/plugins.md"
        guard let f = fopen(path, "r") else { throw GuideError("cannot read \(path)") }
        defer { fclose(f) }
        var text = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            text += buffer[0..<n]
        }
        let lines = String(decoding: text, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var files: [String: String] = [:], commands: [String: String] = [:]
        var i = 0
        while i < lines.count {
            let line = lines[i].trimmingCharacters(in: " ")
            for (marker, isFile) in [("<!-- guide-file: ", true), ("<!-- guide-command: ", false)] where line.hasPrefix(marker) {
                let name = String(line.dropFirst(marker.count).dropLast(" -->".count))
                var j = i + 1
                while j < lines.count, !lines[j].hasPrefix("```") { j += 1 }
                var body: [Substring] = []
                j += 1
                while j < lines.count, !lines[j].hasPrefix("```") {
                    body.append(lines[j])
                    j += 1
                }
                if isFile { files[name] = body.joined(separator: "\n") + "\n" } else { commands[name] = body.joined(separator: "\n") }
                i = j
            }
            i += 1
        }
        return (files, commands)
    }

    struct GuideError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    static func write(_ contents: String, to path: String) throws {
        _ = shell("mkdir -p '\(path[..<path.lastIndex(of: "/")!])'")
        guard let f = fopen(path, "w") else { throw GuideError("cannot write \(path)") }
        fputs(contents, f)
        fclose(f)
    }

    @Test("a Swift ISN plugin in its own package (TCPLabPluginKit by path) and a C plugin, from the guide alone",
          .timeLimit(.minutes(3)))
    func outsidePackage() throws {
        let (files, commands) = try Self.guide()
        #expect(Set(files.keys) == ["step-isn/Package.swift", "step-isn/Sources/StepISN/StepISN.swift", "constant-isn/constant_isn.c"])
        var template = Array("/tmp/tcplab-guide-XXXXXX".utf8CString)
        let dir = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { _ = shell("rm -rf '\(dir)'") }
        #expect(symlink(packageRoot, "\(dir)/tcplab") == 0)
        for (path, contents) in files { try Self.write(contents, to: "\(dir)/\(path)") }

        // The Swift plugin: `swift build` in its package.
        let build = shell("cd '\(dir)/step-isn' && swift build 2>&1")
        try #require(build.status == 0, "swift build of the guide's package failed:\n\(build.output)")
        let library = "\(dir)/step-isn/.build/debug/libStepISN.so"
        #expect(shell("nm -D '\(library)'").output.contains("T tcplab_plugin_v1"))

        // The C plugin: the guide's cc line.
        let cc = try #require(commands["constant-isn"]?.split(separator: "\n").first { $0.hasPrefix("cc ") })
        let compiled = shell("cd '\(dir)/constant-isn' && \(cc)")
        try #require(compiled.status == 0, "the guide's cc command failed:\n\(compiled.output)")

        // Both on the plugin path, listed, and working in LabSim.
        let registry = PolicyRegistry(pluginPath: ["\(dir)/step-isn/.build/debug", "\(dir)/constant-isn"], environment: [:],
                                      includeBuildDirectory: false)
        let listing = registry.listing()
        #expect(listing.contains("step") && listing.contains("libStepISN.so") && listing.contains("constant"), "\(listing)")
        #expect(registry.problems.isEmpty, "\(registry.problems)")

        for (name, parameters, expected) in [("step", ["step": "1000"], [UInt32(0), 1000, 2000]),
                                             ("constant", ["value": "777"], [777, 777, 777])] {
            let lab = Lab(serverISN: try registry.makeISN(name, parameters: parameters))
            _ = try lab.server.listen(port: 80, backlog: 16, at: lab.sim.now)
            for _ in 0..<3 { _ = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now) }
            lab.sim.run(for: .milliseconds(10))
            let isns = lab.segments.filter { $0.from == "server" && $0.tcp.flags == .synAck }.map(\.tcp.sequenceNumber.rawValue)
            #expect(isns == expected, "\(name)")
        }
        // The guide's parameter ranges hold.
        #expect(throws: PluginError.self) { try registry.makeISN("step", parameters: ["step": "0"]) }
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return s
    }
}

import Foundation
import Testing

// The engine is pure (DESIGN.md "Rules worth keeping"): no Foundation or libc, and no clock of its
// own. Time comes in as an argument; whoever drives the engine owns the clock.

@Suite("Engine purity")
struct PurityTests {
    /// Modules that must stay pure, relative to the package root.
    static let pureModules = ["Sources/TCPWire", "Sources/TCPPolicy", "Sources/TCPEngine"]

    /// What a pure module must not contain.
    static let forbidden = [
        "import Foundation", "import Glibc", "import Darwin", "import Dispatch", "clock_gettime", "Date(",
        "ContinuousClock", "SuspendingClock", "DispatchTime",
    ]

    /// The package root, found from this file's path (Tests/TCPEngineTests/PurityTests.swift).
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Every forbidden word in the Swift files under `directory`, as `dir/File.swift:line: …`, and how
    /// many files were read.
    static func scan(_ directory: String) throws -> (offenders: [String], files: Int) {
        let dir = packageRoot.appendingPathComponent(directory)
        guard let files = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil) else {
            return ([], 0)
        }
        var offenders: [String] = []
        var count = 0
        for case let url as URL in files where url.pathExtension == "swift" {
            count += 1
            let text = try String(contentsOf: url, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                for word in forbidden where line.contains(word) {
                    offenders.append("\(directory)/\(url.lastPathComponent):\(number + 1): `\(word)` in: "
                                     + line.trimmingCharacters(in: .whitespaces))
                }
            }
        }
        return (offenders, count)
    }

    @Test("TCPWire, TCPPolicy and TCPEngine import no Foundation or libc and read no clock")
    func noForeignImportsOrClocks() throws {
        var offenders: [String] = []
        for module in Self.pureModules {
            let (found, files) = try Self.scan(module)
            #expect(files > 0, "no Swift files under \(Self.packageRoot.path)/\(module): is the package root right?")
            offenders += found
        }
        #expect(offenders.isEmpty, """
            The engine modules must stay pure: time comes in as an argument, randomness from an injected \
            generator, and no Foundation/libc. Move the offending code to LabSim, LabWorker or a test:
            \(offenders.joined(separator: "\n"))
            """)
    }

    @Test("the scan does find offenders: this test target imports Foundation")
    func scanFindsOffenders() throws {
        let (found, _) = try Self.scan("Tests/TCPEngineTests")
        #expect(found.contains { $0.hasPrefix("Tests/TCPEngineTests/PurityTests.swift:1: `import Foundation`") })
    }
}

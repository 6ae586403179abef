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

    @Test("TCPWire, TCPPolicy and TCPEngine import no Foundation or libc and read no clock")
    func noForeignImportsOrClocks() throws {
        let root = Self.packageRoot
        var offenders: [String] = []
        var scanned = 0
        for module in Self.pureModules {
            let dir = root.appendingPathComponent(module)
            let files = try #require(FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil),
                                     "cannot list \(dir.path)")
            for case let url as URL in files where url.pathExtension == "swift" {
                scanned += 1
                let text = try String(contentsOf: url, encoding: .utf8)
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    for word in Self.forbidden where line.contains(word) {
                        offenders.append("\(module)/\(url.lastPathComponent):\(number + 1): `\(word)` in: "
                                         + line.trimmingCharacters(in: .whitespaces))
                    }
                }
            }
        }
        #expect(scanned > 20, "found only \(scanned) Swift files under \(root.path): is the package root right?")
        #expect(offenders.isEmpty, """
            The engine modules must stay pure: time comes in as an argument, randomness from an injected \
            generator, and no Foundation/libc. Move the offending code to LabSim, LabWorker or a test:
            \(offenders.joined(separator: "\n"))
            """)
    }
}

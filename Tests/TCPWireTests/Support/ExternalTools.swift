import Foundation
import Testing
import TCPWire

/// The real tcpdump and tshark, run on pcap files the tests write. `scripts/setup` installs both.
enum ExternalTools {
    static let tcpdump = "/usr/bin/tcpdump"
    static let tshark = "/usr/bin/tshark"

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `executable` to completion. Output goes through temporary files, so neither stream can
    /// fill a pipe and stall the tool.
    static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout"), errURL = directory.appendingPathComponent("stderr")
        try Data().write(to: outURL)
        try Data().write(to: errURL)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Output(status: process.terminationStatus,
                      stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                      stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// A fresh directory under the system's temporary directory; the caller removes it.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tcpwire-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Fails the test with a hint when a tool is missing, instead of a confusing launch error.
    static func requireInstalled(_ tool: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try #require(FileManager.default.isExecutableFile(atPath: tool),
                     "\(tool) is not installed; run scripts/setup as root", sourceLocation: sourceLocation)
    }

    /// Writes `frames` as a pcap file, one microsecond apart from `start`, and returns the file's bytes too.
    @discardableResult
    static func writePcap(_ frames: [[UInt8]], to url: URL, start: UInt64 = 1_700_000_000_000_000_000) throws -> [UInt8] {
        let writer = PcapWriter()
        var file = writer.fileHeader()
        for (i, frame) in frames.enumerated() {
            file += writer.record(nanoseconds: start + UInt64(i) * 1_000, frame: frame)
        }
        try Data(file).write(to: url)
        return file
    }

    /// `tcpdump -nn -S -t -r file`: one line per frame, without the timestamp (`-t`).
    static func tcpdumpLines(_ file: URL) throws -> [String] {
        try requireInstalled(tcpdump)
        let output = try run(tcpdump, ["-nn", "-S", "-t", "-r", file.path])
        try #require(output.status == 0, "tcpdump failed: \(output.stderr)")
        return output.stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// One line of tshark's expert-info summary (`-z expert`): frequency, group, protocol, summary.
    struct ExpertEntry: CustomStringConvertible {
        var severity: String
        var line: String
        /// Group "Sequence" is conversation bookkeeping ("Connection reset (RST)", "D-SACK Sequence",
        /// "Duplicate IP address configured"), not a complaint about the bytes of a frame.
        var isSequenceAnalysis: Bool { line.split(separator: " ").dropFirst().first == "Sequence" }
        var description: String { "\(severity): \(line)" }
    }

    /// tshark's expert infos at note level and above, with both checksums verified and sequence
    /// analysis off (random frames share conversations, so retransmission notes would be noise).
    static func tsharkExpertInfo(_ file: URL) throws -> [ExpertEntry] {
        try requireInstalled(tshark)
        let output = try run(tshark, [
            "-r", file.path, "-q",
            "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
            "-o", "tcp.analyze_sequence_numbers:FALSE",
            "-z", "expert,note",
        ])
        try #require(output.status == 0, "tshark failed: \(output.stderr)")
        var entries: [ExpertEntry] = []
        var severity = ""
        for raw in output.stdout.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let words = line.split(separator: " ")
            if words.count == 2, ["Errors", "Warns", "Notes", "Chats", "Comments"].contains(words[0]) {
                severity = String(words[0])
            } else if line.first?.isNumber == true {
                entries.append(ExpertEntry(severity: severity, line: line))
            }
        }
        return entries
    }

    /// tshark's full dissection (`-V`), for looking for "Malformed" and "[incorrect".
    static func tsharkVerbose(_ file: URL) throws -> String {
        try requireInstalled(tshark)
        let output = try run(tshark, [
            "-r", file.path, "-V",
            "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
            "-o", "tcp.analyze_sequence_numbers:FALSE",
        ])
        try #require(output.status == 0, "tshark failed: \(output.stderr)")
        return output.stdout
    }
}

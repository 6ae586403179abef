#if canImport(Glibc)
import Glibc
#endif
import TCPWire

/// TCPWire's hot path: parse a frame off the wire and write one back, as a worker does for every segment.
/// The frame is the SYN Linux 6.18 sent in `Tests/TCPWireTests/GoldenFrames.swift` (`GoldenFrames.syn`).
///
/// Figures are CPU time per operation (CLOCK_PROCESS_CPUTIME_ID), so other work on the machine does not
/// inflate them; wall time is printed alongside.
enum WireBenchmark {
    static let iterations = 5_000_000

    static let kernelSYN: [UInt8] = [
        // Ethernet: 02:00:00:00:00:01 > 02:00:00:00:00:02, IPv4
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
        // IPv4: 198.18.0.1 > 198.18.0.2, DF, TTL 64
        0x45, 0x00, 0x00, 0x3c, 0x11, 0x16, 0x40, 0x00, 0x40, 0x06, 0x9d, 0x7e, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02,
        // TCP: 40000 > 8080, SYN, win 64240
        0x9c, 0x40, 0x1f, 0x90, 0x62, 0x4e, 0x5c, 0xb6, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x5a, 0x62, 0x00, 0x00,
        // Options: mss 1460, sackOK, TS val 2485147532 ecr 0, nop, wscale 10
        0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x94, 0x20, 0x57, 0x8c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ]

    static func run() {
        // A parser that fails would be measured on its error path; check the round trip first.
        guard let frame = try? Frame.parse(kernelSYN), frame.serialize() == kernelSYN else {
            print("wire: the kernel SYN does not round-trip; fix TCPWire before timing it")
            exit(1)
        }
        measure("parse+serialize 74-byte SYN") { bytes in
            guard let frame = try? Frame.parse(bytes) else { return 0 }
            return frame.serialize().count
        }
        measure("parse 74-byte SYN") { bytes in
            guard let frame = try? Frame.parse(bytes) else { return 0 }
            return frame.tcpSegment?.tcp.options.count ?? 0
        }
        measure("serialize 74-byte SYN") { _ in frame.serialize().count }
    }

    /// Runs `operation` `iterations` times (after a warm-up) and prints ns per call.
    private static func measure(_ what: String, _ operation: ([UInt8]) -> Int) {
        let input = kernelSYN
        var sink = 0
        for _ in 0..<iterations / 50 { sink &+= operation(input) }
        let cpuStart = cpuNanoseconds(), wallStart = monotonicNanoseconds()
        for _ in 0..<iterations { sink &+= operation(input) }
        let cpu = cpuNanoseconds() - cpuStart, wall = monotonicNanoseconds() - wallStart
        blackHole(sink)
        let perOp = Double(cpu) / Double(iterations), wallPerOp = Double(wall) / Double(iterations)
        print("wire: \(what): \(format(perOp)) ns/op (\(iterations) ops; wall \(format(wallPerOp)) ns/op)")
    }

    private static func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

#if canImport(Glibc)
import Glibc
#endif

// Release-build benchmarks: `swift run -c release tcplab-bench [name...]`.
// Each benchmark prints one line per figure: what was measured, the figure, and how many iterations.

let benchmarks: [(name: String, run: () -> Void)] = [
    ("wire", WireBenchmark.run),
    ("netlink", NetlinkBenchmark.run),
    ("lab-handshake-rate", LabBenchmark.handshakeRate),
    ("lab-middlebox", LabBenchmark.middlebox),
    ("engine-handshake", EngineBenchmark.handshakeCost),
    ("engine-half-open", EngineBenchmark.halfOpenMemory),
    ("engine-synack-story", EngineBenchmark.synAckStory),
    ("engine-bulk", EngineBenchmark.bulkTransfer),
    ("engine-idle-memory", EngineBenchmark.idleMemory),
    ("plugins", PluginBenchmark.run),
    ("journal", JournalBenchmark.run),
]

let requested = Set(CommandLine.arguments.dropFirst())
let unknown = requested.subtracting(benchmarks.map(\.name))
if !unknown.isEmpty {
    print("unknown benchmark(s): \(unknown.sorted().joined(separator: ", ")); available: \(benchmarks.map(\.name).joined(separator: ", "))")
    exit(2)
}
for benchmark in benchmarks where requested.isEmpty || requested.contains(benchmark.name) {
    benchmark.run()
}

// swift-tools-version:6.0
import PackageDescription

/// Release builds of the hot modules skip dynamic exclusivity checks (the engine mutates its own
/// state through `inout` policy calls, where the runtime check dominated the profile) and optimize
/// across module boundaries so frames are not copied through value witnesses.
let hotPath: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "TCPLab",
    products: [
        .executable(name: "tcplab", targets: ["tcplab"]),
        .library(name: "TCPWire", targets: ["TCPWire"]),
        .library(name: "TCPEngine", targets: ["TCPEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Wire formats: Ethernet, ARP, IPv4, TCP and its options, checksums, SequenceNumber,
        // tcpdump's dialect, pcap. Standard library only.
        .target(name: "TCPWire", swiftSettings: hotPath),
        // The three policy seams (ISN, accept queue, delayed ACK) and Linux's behaviour for each.
        .target(name: "TCPPolicy", dependencies: ["TCPWire"], swiftSettings: hotPath),
        // The pure TCP engine: no I/O, no clock, no Foundation.
        .target(name: "TCPEngine", dependencies: ["TCPWire", "TCPPolicy"], swiftSettings: hotPath),
        // Link impairments (loss, delay, jitter, duplication, reordering, corruption, rate, targeted
        // rules), shared by LabSim's links and the middlebox.
        .target(name: "LabImpair", dependencies: ["TCPWire", "TCPPolicy"], swiftSettings: hotPath),
        // Several engines in one process over simulated links, in virtual time.
        .target(name: "LabSim", dependencies: ["TCPEngine", "TCPWire", "LabImpair"], swiftSettings: hotPath),
        .executableTarget(
            name: "tcplab",
            dependencies: [
                "LabSim", "TCPEngine", "TCPWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Release-build benchmarks: `swift run -c release tcplab-bench`.
        .executableTarget(name: "tcplab-bench", dependencies: ["TCPWire", "TCPEngine", "LabSim"], swiftSettings: hotPath),
        .testTarget(name: "TCPWireTests", dependencies: ["TCPWire"], exclude: ["Fixtures"]),
        .testTarget(name: "TCPEngineTests", dependencies: ["TCPEngine", "LabSim", "TCPWire"]),
    ]
)

// swift-tools-version:6.0
import PackageDescription

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
        .target(name: "TCPWire"),
        // The three policy seams (ISN, accept queue, delayed ACK) and Linux's behaviour for each.
        .target(name: "TCPPolicy", dependencies: ["TCPWire"]),
        // The pure TCP engine: no I/O, no clock, no Foundation.
        .target(name: "TCPEngine", dependencies: ["TCPWire", "TCPPolicy"]),
        // Several engines in one process over simulated links, in virtual time.
        .target(name: "LabSim", dependencies: ["TCPEngine", "TCPWire"]),
        .executableTarget(
            name: "tcplab",
            dependencies: [
                "LabSim", "TCPEngine", "TCPWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Release-build benchmarks: `swift run -c release tcplab-bench`.
        .executableTarget(name: "tcplab-bench", dependencies: ["TCPWire", "TCPEngine", "LabSim"]),
        .testTarget(name: "TCPWireTests", dependencies: ["TCPWire"], exclude: ["Fixtures"]),
        .testTarget(name: "TCPEngineTests", dependencies: ["TCPEngine", "LabSim", "TCPWire"]),
    ]
)

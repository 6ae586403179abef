// swift-tools-version:6.0
import PackageDescription

/// Release builds of the hot modules skip dynamic exclusivity checks (the engine mutates its own
/// state through `inout` policy calls, where the runtime check dominated the profile) and optimize
/// across module boundaries so frames are not copied through value witnesses.
let hotPath: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release)),
]

/// The example policy plugins in Plugins/<name>/, each built as lib<name>.so.
let policyPlugins = [
    "CounterISN", "RFC793ISN",                              // ISN
    "LIFOAcceptQueue", "FairAcceptQueue", "RefusePrefix",   // accept queue
    "ImmediateAck", "FixedDelayAck", "EveryNthAck",         // delayed ACK
]

let package = Package(
    name: "TCPLab",
    products: [
        .executable(name: "tcplab", targets: ["tcplab"]),
        .library(name: "TCPWire", targets: ["TCPWire"]),
        .library(name: "TCPEngine", targets: ["TCPEngine"]),
        // Policy plugins: the C ABI, the Swift helper for plugin authors (outside packages depend on it),
        // and the example plugins, each a shared library the worker loads with dlopen (docs/plugins.md).
        .library(name: "CTCPLabPlugin", targets: ["CTCPLabPlugin"]),
        .library(name: "TCPLabPluginKit", targets: ["TCPLabPluginKit"]),
    ] + policyPlugins.map { Product.library(name: $0, type: .dynamic, targets: [$0]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
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
        // Lab runtime: AF_PACKET, epoll and timerfd for the workers (Glibc's module lacks them).
        .target(name: "CLabIO"),
        // The coordinator ↔ worker protocol: configurations, commands, replies, events (JSON lines).
        .target(name: "LabControl", dependencies: ["LabImpair", "TCPEngine", "TCPPolicy", "TCPWire"]),
        // A worker's roles: our stack on packet sockets, the middlebox, kernel nodes; the event loop.
        .target(name: "LabWorker", dependencies: ["CLabIO", "CLabSys", "LabControl", "LabImpair", "TCPEngine", "TCPPluginHost", "TCPPolicy", "TCPWire"]),
        // libnl-3 and libnl-route-3, found through pkg-config, for LabNetlink.
        .systemLibrary(name: "CNetlink", pkgConfig: "libnl-route-3.0", providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]),
        // setns, unshare, bind mounts and the ethtool ioctl (Glibc's module lacks them: no _GNU_SOURCE).
        .target(name: "CLabSys"),
        // Named namespaces, veth pairs, link settings, addresses, offloads and the cleanup ledger.
        .target(name: "LabNetlink", dependencies: ["CNetlink", "CLabSys", "TCPWire"]),
        // libsystemd through pkg-config, for LabJournal: sd_journal_sendv and the sd_journal reader.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // The journald trail of a run: writer (detection, fallback file), reader, swift-log handler.
        .target(name: "LabJournal", dependencies: ["CSystemd", "LabControl", .product(name: "Logging", package: "swift-log")]),
        // Writes journal records from its own process: the tests run it inside a network namespace.
        .executableTarget(name: "tcplab-journal-helper", dependencies: ["CLabSys", "LabControl", "LabJournal"]),
        // The plugin C ABI (tcplab_plugin.h): the only thing the engine side and a plugin share.
        .target(name: "CTCPLabPlugin"),
        // Write a plugin as a Swift type and export it in one line. Depends on the C header only, never
        // on TCPPolicy, so no second static copy of the engine's types crosses the dlopen boundary.
        .target(name: "TCPLabPluginKit", dependencies: ["CTCPLabPlugin"], swiftSettings: hotPath),
        // The engine side: the policy registry (built-in `linux` + plugins on the plugin path), dlopen and
        // the checks of every descriptor, the wrappers that check every answer and fall back to Linux.
        .target(name: "TCPPluginHost", dependencies: ["CTCPLabPlugin", "TCPPolicy", "TCPWire"], swiftSettings: hotPath),
    ] + policyPlugins.map { name -> Target in
        name == "RFC793ISN"
            ? .target(name: name, dependencies: ["CTCPLabPlugin"], path: "Plugins/\(name)", publicHeadersPath: ".")  // in C
            : .target(name: name, dependencies: ["TCPLabPluginKit"], path: "Plugins/\(name)", swiftSettings: hotPath)
    } + [
        // A lab run: build the network, spawn and drive the workers, merge their events, tear down.
        .target(name: "LabCoordinator", dependencies: ["LabControl", "LabNetlink", "TCPPolicy", "TCPWire"]),
        // Ladder diagrams (terminal and SVG), the HTML report, topology pictures, ladders from pcaps.
        .target(name: "LabReport", dependencies: ["TCPWire"]),
        // Topology files: YAML with line/column errors, validation, expectations, plans for both backends.
        .target(name: "LabTopology", dependencies: [
            "LabCoordinator", "LabControl", "LabImpair", "LabReport", "LabSim", "TCPEngine", "TCPPluginHost", "TCPPolicy", "TCPWire",
            .product(name: "Yams", package: "Yams"),
        ]),
        // One per lab node; joins its namespace before anything else.
        .executableTarget(name: "tcplab-worker", dependencies: ["CLabSys", "LabControl", "LabWorker"]),
        .executableTarget(
            name: "tcplab",
            dependencies: [
                "LabSim", "TCPEngine", "TCPWire", "LabCoordinator", "LabControl", "LabNetlink",
                "LabTopology", "LabReport", "TCPPluginHost", "LabJournal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Load generators in C for the lab benchmarks (the kernel baseline and the middlebox rate); the
        // frame blaster and sink use CLabIO's packet rings.
        .executableTarget(name: "tcplab-kload", dependencies: ["CLabIO"]),
        // Release-build benchmarks: `swift run -c release tcplab-bench`.
        .executableTarget(name: "tcplab-bench", dependencies: ["CLabSys", "LabJournal", "LabCoordinator", "LabControl", "LabNetlink", "TCPWire", "TCPEngine", "LabSim", "TCPPolicy", "TCPPluginHost"], swiftSettings: hotPath),
        .testTarget(name: "TCPWireTests", dependencies: ["TCPWire"], exclude: ["Fixtures"]),
        .testTarget(name: "LabRuntimeTests", dependencies: ["LabCoordinator", "LabControl", "LabNetlink", "TCPPolicy"]),
        .testTarget(name: "TCPEngineTests", dependencies: ["TCPEngine", "LabSim", "TCPWire"]),
        .testTarget(name: "LabNetlinkTests", dependencies: ["LabNetlink", "TCPWire"]),
        .testTarget(name: "LabJournalTests", dependencies: ["LabJournal", "LabControl", "tcplab-journal-helper",
                                                          .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "LabTopologyTests", dependencies: ["LabTopology", "LabReport", "LabCoordinator", "LabControl", "LabNetlink", "TCPEngine"]),
        .testTarget(name: "LabReportTests", dependencies: ["LabReport", "TCPWire"]),
        // Plugins in LabSim; the test builds the plugin products it loads if they are missing.
        .testTarget(name: "TCPPluginTests", dependencies: ["TCPPluginHost", "TCPLabPluginKit", "CTCPLabPlugin", "LabSim",
                                                           "TCPEngine", "TCPPolicy", "TCPWire"]),
    ]
)

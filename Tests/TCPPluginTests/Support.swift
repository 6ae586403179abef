#if canImport(Glibc)
import Glibc
#endif
import LabSim
import TCPEngine
import TCPPluginHost
import TCPPolicy
import TCPWire
import Testing

/// The package's root, from this file's path (Tests/TCPPluginTests/Support.swift).
let packageRoot: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// Runs a command with `/bin/sh -c`, returning its exit status and combined output.
func shell(_ command: String) -> (status: Int32, output: String) {
    guard let pipe = popen("\(command) 2>&1", "r") else { return (-1, "popen failed") }
    var output = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, pipe)
        if n <= 0 { break }
        output += buffer[0..<n]
    }
    let status = pclose(pipe)
    return ((status >> 8) & 0xff, String(decoding: output, as: UTF8.self))
}

/// The example plugins, built next to this test bundle. `swift test` builds every product of the
/// package, these dynamic libraries included; when one is missing (a test run with `--filter` on a
/// build that skipped them, say) it is built here, into a scratch directory of its own so as not to
/// wait for the lock of the build that runs this test.
enum Plugins {
    static let names = ["CounterISN", "RFC793ISN", "LIFOAcceptQueue", "FairAcceptQueue", "RefusePrefix",
                        "ImmediateAck", "FixedDelayAck", "EveryNthAck"]

    /// The directory holding every example plugin library.
    static let directory: String = {
        let build = PolicyRegistry.buildDirectory ?? "\(packageRoot)/.build/debug"
        if names.allSatisfy({ access("\(build)/lib\($0).so", F_OK) == 0 }) { return build }
        let scratch = "\(packageRoot)/.build-plugins-fallback"
        let products = names.map { "--product \($0)" }.joined(separator: " ")
        for name in names {
            let r = shell("cd '\(packageRoot)' && swift build --scratch-path '\(scratch)' --product \(name)")
            precondition(r.status == 0, "could not build plugin \(name) (\(products)):\n\(r.output)")
        }
        return "\(scratch)/debug"
    }()

    static func path(_ product: String) -> String { "\(directory)/lib\(product).so" }

    /// A registry that sees exactly the example plugins (not the environment's path).
    static func registry() -> PolicyRegistry {
        PolicyRegistry(pluginPath: [directory], environment: [:], includeBuildDirectory: false)
    }
}

/// Client 198.18.0.1 and server 198.18.0.2 on one link (50 µs each way), each with the policies given.
struct Lab {
    let sim: LabSim
    let client: Host
    let server: Host

    init(seed: UInt64 = 7, serverSysctl: Sysctls = Sysctls(),
         clientISN: (any ISNGenerator)? = nil, serverISN: (any ISNGenerator)? = nil,
         serverAcceptQueue: (any AcceptQueuePolicy)? = nil, serverDelayedAck: (any DelayedAckPolicy)? = nil) {
        sim = LabSim(seed: seed)
        client = sim.add(Host(name: "client", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 1),
                                                                     address: IPv4Interface("198.18.0.1/24")!)],
                              seed: seed &+ 1, isn: clientISN))
        server = sim.add(Host(name: "server", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 2),
                                                                     address: IPv4Interface("198.18.0.2/24")!)],
                              sysctl: serverSysctl, seed: seed &+ 2, isn: serverISN, acceptQueue: serverAcceptQueue,
                              delayedAck: serverDelayedAck))
        sim.connect(client, 0, server, 0, aToB: LinkImpairment(delay: .microseconds(50)),
                    bToA: LinkImpairment(delay: .microseconds(50)))
        client.addNeighbor(IPv4Address(198, 18, 0, 2), MACAddress(2, 0, 0, 0, 0, 2))
        server.addNeighbor(IPv4Address(198, 18, 0, 1), MACAddress(2, 0, 0, 0, 0, 1))
    }

    var serverAddress: SocketAddress { SocketAddress(IPv4Address(198, 18, 0, 2), 80) }

    /// TCP segments on the link: time, sender, segment.
    var segments: [(time: Instant, from: String, tcp: TCPHeader, payload: Int)] {
        sim.frames.compactMap { f in
            guard f.droppedBy == nil, let s = f.frame.tcpSegment else { return nil }
            return (f.time, f.from, s.tcp, s.payload.count)
        }
    }

    var trace: String {
        sim.frames.compactMap { f in f.frame.tcpSegment.map { "\(f.time) \(f.from) \($0.tcpdumpDescription)" } }
            .joined(separator: "\n")
    }
}

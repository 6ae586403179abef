import Foundation
import LabControl
import LabCoordinator
import LabNetlink
import TCPPolicy

/// Plans for the integration tests: client 198.18.0.1, server 198.18.0.2, and optionally a
/// middlebox between them. Every run gets a fresh run id; LabRun tears down whatever happens.
enum Plans {
    static let clientMAC = "02:00:00:00:00:01"
    static let serverMAC = "02:00:00:00:00:02"

    static func client(_ role: NodeRole = .client, sysctl: [String: Int] = [:]) -> LabPlan.Node {
        LabPlan.Node(name: "client", role: role, interfaces: [InterfaceSpec(name: "eth0", mac: clientMAC, address: "198.18.0.1/24")],
                     sysctl: sysctl)
    }

    static func server(_ role: NodeRole = .server, sysctl: [String: Int] = [:]) -> LabPlan.Node {
        LabPlan.Node(name: "server", role: role, interfaces: [InterfaceSpec(name: "eth0", mac: serverMAC, address: "198.18.0.2/24")],
                     sysctl: sysctl)
    }

    static func middlebox(clientToServer: ImpairmentSpec = ImpairmentSpec(), serverToClient: ImpairmentSpec = ImpairmentSpec()) -> LabPlan.Node {
        LabPlan.Node(name: "mbox", role: .middlebox,
                     interfaces: [InterfaceSpec(name: "eth0", mac: "02:00:00:00:01:00", address: nil),
                                  InterfaceSpec(name: "eth1", mac: "02:00:00:00:01:01", address: nil)],
                     impair: [clientToServer, serverToClient])
    }

    /// Listen on the server at 0, connect from the client at 100 ms, accept at `acceptAt`.
    static func handshakeSteps(acceptAt: Interval = .milliseconds(400)) -> [LabPlan.Step] {
        [
            LabPlan.Step(at: .zero, node: "server", "listen", saveAs: "l") { $0.port = 80; $0.backlog = 128 },
            LabPlan.Step(at: .milliseconds(100), node: "client", "connect", saveAs: "c") { $0.to = "198.18.0.2:80" },
            LabPlan.Step(at: acceptAt, node: "server", "accept", socket: "l", saveAs: "a", mustSucceed: false),
        ]
    }

    static func direct(client: LabPlan.Node, server: LabPlan.Node, steps: [LabPlan.Step], duration: Interval? = nil) -> LabPlan {
        LabPlan(name: "direct", nodes: [client, server], links: [LabPlan.Link(("client", "eth0"), ("server", "eth0"))],
                steps: steps, duration: duration)
    }

    static func throughMiddlebox(client: LabPlan.Node = client(), middlebox: LabPlan.Node = middlebox(),
                                 server: LabPlan.Node = server(), steps: [LabPlan.Step], duration: Interval? = nil) -> LabPlan {
        LabPlan(name: "via-mbox", nodes: [client, middlebox, server],
                links: [LabPlan.Link(("client", "eth0"), ("mbox", "eth0")), LabPlan.Link(("mbox", "eth1"), ("server", "eth0"))],
                steps: steps, duration: duration)
    }

    static func outputDirectory(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "tcplab-test-\(name)-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        return dir
    }
}

/// Whether this process may build namespaces (CI runs as root).
var privileged: Bool { (try? Privileges.check()) != nil }

/// The namespaces and links this run left behind (should be none).
func leftovers(run: String) -> [String] {
    let out = shell("/usr/sbin/ip", ["netns", "list"])
    return out.split(separator: "\n").map { String($0.split(separator: " ").first ?? "") }.filter { $0.hasPrefix("tl-\(run)-") }
}

@discardableResult
func shell(_ path: String, _ args: [String]) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = Pipe()
    try? p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// Removes a run's output unless `TCPLAB_KEEP_RUNS` is set (to look at the pcaps after a test).
func removeUnlessKept(_ directory: String) {
    if ProcessInfo.processInfo.environment["TCPLAB_KEEP_RUNS"] != nil {
        print("kept \(directory)")
        return
    }
    try? FileManager.default.removeItem(atPath: directory)
}

/// A shipped topology file, found from this source file's place in the repository.
func topologyPath(_ name: String, file: String = #filePath) -> String {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Topologies").appendingPathComponent(name).path
}

import Foundation
import LabNetlink
import TCPWire
import Testing

@Suite(.enabled(if: canBuildLabs, "needs root, or CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct FailureTests {
    @Test func buildFailingHalfwayLeavesNothing() throws {
        let run = uniqueRunID()
        let nodes = ["a", "b", "c"]
        defer { removeNamespaces(run: run, nodes: nodes) }
        // The second link's peer is called "lo", a name every namespace already has: the kernel
        // refuses it after the namespaces and the first link exist.
        let plan = LabNetwork.Plan(
            nodes: nodes,
            links: [.init("a", "eth0", "b", "eth0"), .init("b", "eth1", "c", "lo")],
            addresses: [.init("a", "eth0", IPv4Interface("198.18.0.1/24")!)])
        let error = try #require(throws: NetlinkError.self) { try LabNetwork.build(run: run, plan: plan) }
        #expect(error.code == .alreadyExists)
        #expect(error.operation == "create veth")
        #expect(error.object.contains("lo in tl-\(run)-c"))
        #expect(error.description.contains("tcplab clean"), "\(error)")
        #expect(try namespaces(ofRun: run).isEmpty)
        #expect(ledgerFiles(ofRun: run).isEmpty)
    }

    @Test func namespaceNameTakenIsNamedAndLeftAlone() throws {
        let run = uniqueRunID()
        let nodes = ["a", "b"]
        defer { removeNamespaces(run: run, nodes: nodes) }
        let taken = LabNames.namespace(run: run, node: "b")
        #expect(try sh("ip", "netns", "add", taken).status == 0)

        let error = try #require(throws: NetlinkError.self) {
            try LabNetwork.build(run: run, plan: .init(nodes: nodes, links: [.init("a", "eth0", "b", "eth0")]))
        }
        #expect(error.code == .alreadyExists)
        #expect(error.description.contains("create namespace \(taken)"), "\(error)")
        #expect(error.description.contains("run `tcplab clean`"), "\(error)")
        // What the build made is gone; what it found is not its to remove.
        #expect(try namespaces(ofRun: run) == [taken])
        #expect(ledgerFiles(ofRun: run).isEmpty)
    }

    @Test func interfaceNamesLongerThan15AreRejectedBeforeAnythingIsMade() throws {
        let run = uniqueRunID()
        defer { removeNamespaces(run: run, nodes: ["a", "b"]) }
        let plan = LabNetwork.Plan(nodes: ["a", "b"], links: [.init("a", "eth0", "b", "a-very-long-name0")])
        let error = try #require(throws: NetlinkError.self) { try LabNetwork.build(run: run, plan: plan) }
        #expect(error.code == .invalidArgument)
        #expect(error.description.contains("\"a-very-long-name0\""))
        #expect(error.description.contains("at most 15 characters"), "\(error)")
        #expect(try namespaces(ofRun: run).isEmpty)

        #expect(throws: Never.self) { try LabNames.validateInterface("exactly15chars_") }
        #expect(throws: NetlinkError.self) { try LabNames.validateInterface("sixteen_chars_16") }
        #expect(throws: NetlinkError.self) { try LabNames.validateInterface("eth/0") }
        #expect(throws: NetlinkError.self) { try LabNames.validateNamespace("..") }
        #expect(throws: NetlinkError.self) { try LabNames.validateRunID("Run-1") }
    }

    @Test func plansAreCheckedBeforeAnythingIsMade() throws {
        let run = uniqueRunID()
        defer { removeNamespaces(run: run, nodes: ["a", "b"]) }
        let cases: [(LabNetwork.Plan, String)] = [
            (.init(nodes: ["a", "a"], links: []), "listed twice"),
            (.init(nodes: ["a"], links: [.init("a", "eth0", "b", "eth0")]), "no node named b"),
            (.init(nodes: ["a", "b"], links: [.init("a", "eth0", "b", "eth0"), .init("a", "eth0", "b", "eth1")]), "used by two links"),
            (.init(nodes: ["a", "b"], links: [.init("a", "eth0", "b", "eth0", mtu: 70000)]), "MTU 70000"),
            (.init(nodes: ["a", "b"], links: [.init("a", "eth0", "b", "eth0")],
                   addresses: [.init("a", "eth9", IPv4Interface("198.18.0.1/24")!)]), "not an interface"),
        ]
        for (plan, message) in cases {
            let error = try #require(throws: NetlinkError.self) { try LabNetwork.build(run: run, plan: plan) }
            #expect(error.code == .invalidArgument && error.description.contains(message), "\(error)")
        }
        #expect(try namespaces(ofRun: run).isEmpty)
    }
}

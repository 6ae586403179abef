import Foundation
import LabControl
import LabTopology
import Testing

/// A small valid topology; each bad-input test changes one line.
let goodTopology = """
name: t
nodes:
  client: { role: client, address: 198.18.0.1/24 }
  server: { role: server, address: 198.18.0.2/24 }
links:
  - [client:eth0, server:eth0]
steps:
  - { at: 0s, node: server, listen: 80 }
  - { at: 100ms, node: client, connect: server:80 }
expect:
  - client state ESTABLISHED within 110ms
"""

func replacing(_ old: String, with new: String) -> String {
    precondition(goodTopology.contains(old), "no \(old) in the base topology")
    return goodTopology.replacingOccurrences(of: old, with: new)
}

/// Expects exactly one diagnostic at the place of `needle` (line, column), containing `message` and,
/// when given, `suggestion`.
func expectOne(_ yaml: String, at needle: String, _ message: String, suggestion: String? = nil, from line: Int = 1,
               sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let found = problems(yaml)
    let (l, c) = position(of: needle, in: yaml, from: line)
    #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
    guard let d = found.first else { return }
    #expect("\(d.location)" == "bad.yaml:\(l):\(c)", "\(d)", sourceLocation: sourceLocation)
    #expect(d.message.contains(message), "\(d)", sourceLocation: sourceLocation)
    if let suggestion { #expect(d.suggestion?.contains(suggestion) == true, "\(d)", sourceLocation: sourceLocation) }
    #expect(d.description.hasPrefix("bad.yaml:\(l):\(c): error: "), sourceLocation: sourceLocation)
}

@Suite("Bad input: every problem with file:line:column and a way out")
struct BadInputTests {
    @Test("the base topology is valid")
    func baseIsValid() {
        #expect(problems(goodTopology).isEmpty)
    }

    @Test("an unknown key, with the nearest known one")
    func unknownKey() {
        let yaml = replacing("  server: { role: server, address: 198.18.0.2/24 }",
                             with: "  server: { role: server, address: 198.18.0.2/24, sysctls: { tcp_syncookies: 0 } }")
        expectOne(yaml, at: "sysctls", "unknown key sysctls", suggestion: "did you mean sysctl?")
    }

    @Test("an unknown key at the top")
    func unknownTopKey() {
        let yaml = goodTopology + "\nexpected:\n  - client sends \"S\"\n"
        expectOne(yaml, at: "expected:", "unknown key expected", suggestion: "did you mean expect?")
    }

    @Test("a wrong type: a word where a port number goes")
    func wrongType() {
        let yaml = replacing("listen: 80", with: "listen: { port: eighty }")
        expectOne(yaml, at: "eighty", "port should be a whole number, found \"eighty\"")
    }

    @Test("a wrong type: a list where a mapping goes")
    func wrongTypeList() {
        let yaml = replacing("  client: { role: client, address: 198.18.0.1/24 }", with: "  client: [client, 198.18.0.1/24]")
        expectOne(yaml, at: "[client, 198", "node client should be a mapping (key: value), found a list")
    }

    @Test("a link to an unknown node")
    func linkUnknownNode() {
        let yaml = replacing("- [client:eth0, server:eth0]", with: "- [client:eth0, sever:eth0]")
        let found = problems(yaml)
        let (l, c) = position(of: "sever:eth0", in: yaml)
        #expect(found.contains { "\($0.location)" == "bad.yaml:\(l):\(c)" && $0.message == "link to unknown node sever" && $0.suggestion == "did you mean server?" }, "\(found)")
    }

    @Test("a link to an unknown interface")
    func linkUnknownInterface() {
        let yaml = replacing("- [client:eth0, server:eth0]", with: "- [client:eth1, server:eth0]")
        let found = problems(yaml)
        let (l, c) = position(of: "client:eth1", in: yaml)
        #expect(found.contains { "\($0.location)" == "bad.yaml:\(l):\(c)" && $0.message == "node client has no interface eth1" && $0.suggestion == "did you mean eth0?" }, "\(found)")
    }

    @Test("duplicate node names")
    func duplicateNames() {
        let yaml = replacing("  server: { role: server, address: 198.18.0.2/24 }",
                             with: "  server: { role: server, address: 198.18.0.2/24 }\n  server: { role: server, address: 198.18.0.3/24 }")
        expectOne(yaml, at: "server:", "nodes: server is given twice (first at line 4)", from: 5)
    }

    @Test("duplicate socket names")
    func duplicateSocketNames() {
        let yaml = replacing("  - { at: 100ms, node: client, connect: server:80 }",
                             with: "  - { at: 100ms, node: client, connect: server:80, as: c }\n  - { at: 200ms, node: client, connect: server:80, as: c }")
        expectOne(yaml, at: "connect", "socket name c is already used on client", from: 10)
    }

    @Test("an interface name longer than 15 characters (IFNAMSIZ)")
    func longInterfaceName() {
        let yaml = replacing("  server: { role: server, address: 198.18.0.2/24 }",
                             with: "  server: { role: server, interfaces: { uplink-to-the-client: 198.18.0.2/24 } }")
            .replacingOccurrences(of: "server:eth0", with: "server:uplink-to-the-client")
        let found = problems(yaml)
        let (l, c) = position(of: "uplink-to-the-client:", in: yaml)
        #expect(found.contains { "\($0.location)" == "bad.yaml:\(l):\(c)" && $0.message.contains("interface name uplink-to-the-client is 20 characters; Linux allows at most 15") }, "\(found)")
    }

    @Test("addresses outside each other's subnet")
    func outsideSubnet() {
        let yaml = replacing("198.18.0.2/24", with: "198.18.1.2/24")
        let found = problems(yaml)
        let (l, c) = position(of: "198.18.0.1/24", in: yaml)
        #expect(found.contains { "\($0.location)" == "bad.yaml:\(l):\(c)" && $0.message.contains("its peer 198.18.1.2 is outside its subnet 198.18.0.0/24") }, "\(found)")
        #expect(found.count == 2)  // each end says it
    }

    @Test("addresses outside 198.18.0.0/15 need an explicit allow")
    func outsideLabRange() {
        let yaml = replacing("198.18.0.1/24", with: "10.1.0.1/24").replacingOccurrences(of: "198.18.0.2/24", with: "10.1.0.2/24")
        let found = problems(yaml)
        let (l, c) = position(of: "10.1.0.1/24", in: yaml)
        #expect(found.contains { "\($0.location)" == "bad.yaml:\(l):\(c)" && $0.message.contains("outside 198.18.0.0/15") && $0.suggestion?.contains("allow-addresses") == true }, "\(found)")
        #expect(problems(yaml + "\nallow-addresses: [10.1.0.0/16]\n").isEmpty)
    }

    @Test("a network or broadcast address")
    func networkAddress() {
        let yaml = replacing("198.18.0.2/24", with: "198.18.0.255/24")
        expectOne(yaml, at: "198.18.0.255/24", "198.18.0.255 is the broadcast address of 198.18.0.0/24")
    }

    @Test("contradictory expectations: two exact counts of the same segments")
    func contradictoryCounts() {
        let yaml = goodTopology + "\n  - server sends \"S.\" 6 times\n  - server sends \"S.\" 3 times\n"
        expectOne(yaml, at: "server sends \"S.\" 3 times", "contradicts line 12", suggestion: "remove one")
    }

    @Test("contradictory expectations: counter bounds with nothing between them")
    func contradictoryCounters() {
        let yaml = goodTopology + "\n  - server ListenOverflows >= 5\n  - server ListenOverflows <= 2\n"
        expectOne(yaml, at: "server ListenOverflows <= 2", "contradicts line 12")
    }

    @Test("contradictory expectations: reached and never reached, succeeds and fails, a schedule of the wrong length")
    func contradictoryOthers() {
        let yaml = goodTopology + "\n  - client never reaches ESTABLISHED\n  - client connect succeeds\n  - client connect fails with ETIMEDOUT\n  - client sends \"S\" 3 times at 0, 1 s\n"
        let found = problems(yaml)
        #expect(found.count == 3, "\(found)")
        #expect(found.map(\.location.line) == [12, 14, 15])
        #expect(found[0].message.contains("contradicts line 11"))
        #expect(found[2].message.contains("3 times but 2 times listed"))
    }

    @Test("an unknown plugin")
    func unknownPlugin() {
        let yaml = replacing("  server: { role: server, address: 198.18.0.2/24 }",
                             with: "  server: { role: server, address: 198.18.0.2/24, policies: { isn: { plugin: fancy } } }")
        let found = problems(yaml)
        let (l, c) = position(of: "{ plugin: fancy }", in: yaml)
        #expect(found.count == 1, "\(found)")
        #expect(found.first.map { "\($0.location)" } == "bad.yaml:\(l):\(c)")
        #expect(found.first?.message.contains("no ISN generator named 'fancy'") == true, "\(found)")
        #expect(found.first?.suggestion?.contains("linux") == true)
    }

    @Test("a policy of the wrong kind, and an unknown policy kind")
    func policyKinds() {
        let yaml = replacing("  server: { role: server, address: 198.18.0.2/24 }",
                             with: "  server: { role: server, address: 198.18.0.2/24, policies: { isn: linux, acept-queue: linux } }")
        expectOne(yaml, at: "acept-queue", "unknown key acept-queue", suggestion: "did you mean accept-queue?")
    }

    @Test("an unknown sysctl, with the nearest name")
    func unknownSysctl() {
        let yaml = replacing("  server: { role: server, address: 198.18.0.2/24 }",
                             with: "  server: { role: server, address: 198.18.0.2/24, sysctl: { tcp_synack_retry: 2 } }")
        expectOne(yaml, at: "tcp_synack_retry", "unknown sysctl tcp_synack_retry", suggestion: "did you mean tcp_synack_retries?")
    }

    @Test("an unknown socket option in a step")
    func unknownSocketOption() {
        let yaml = goodTopology.replacingOccurrences(of: "expect:", with: "  - { at: 200ms, node: client, setsockopt: { SO_KEEPALVE: 1 } }\nexpect:")
        expectOne(yaml, at: "SO_KEEPALVE", "unknown socket option SO_KEEPALVE", suggestion: "did you mean SO_KEEPALIVE?")
    }

    @Test("steps: an unknown node, a socket that does not exist, accept without listen, a middlebox told to connect")
    func badSteps() {
        var yaml = goodTopology.replacingOccurrences(of: "expect:", with: """
          - { at: 200ms, node: clinet, send: hi }
          - { at: 300ms, node: client, close: , socket: nope }
          - { at: 400ms, node: client, accept: }
        expect:
        """)
        var found = problems(yaml)
        #expect(found.count == 3, "\(found)")
        #expect(found[0].message == "step on unknown node clinet" && found[0].suggestion == "did you mean client?")
        #expect(found[1].message.contains("no socket named nope"))
        #expect(found[2].message.contains("accept on client: it has no socket yet"))
        yaml = goodTopology.replacingOccurrences(of: "  client: { role: client, address: 198.18.0.1/24 }", with: "  client: { role: client, address: 198.18.0.1/24 }\n  mbox: { role: middlebox }")
            .replacingOccurrences(of: "  - [client:eth0, server:eth0]", with: "  - [client:eth0, mbox:eth0]\n  - [mbox:eth1, server:eth0]")
        #expect(problems(yaml).isEmpty, "\(problems(yaml))")
        found = problems(yaml.replacingOccurrences(of: "expect:", with: "  - { at: 1s, node: mbox, connect: server:80 }\nexpect:"))
        #expect(found.count == 1 && found[0].message.contains("a middlebox takes no connect"), "\(found)")
    }

    @Test("an unknown role")
    func unknownRole() {
        let yaml = replacing("{ role: server,", with: "{ role: serveur,")
        expectOne(yaml, at: "serveur", "node server: unknown role serveur", suggestion: "did you mean server?")
    }

    @Test("a middlebox rule from a node that is not its neighbour")
    func ruleFromStranger() {
        let yaml = goodTopology.replacingOccurrences(of: "  client: { role: client, address: 198.18.0.1/24 }", with: """
              client: { role: client, address: 198.18.0.1/24 }
              mbox:
                role: middlebox
                rules:
                  - { from: clint, match: { flags: "." }, action: drop }
            """)
            .replacingOccurrences(of: "  - [client:eth0, server:eth0]", with: "  - [client:eth0, mbox:eth0]\n  - [mbox:eth1, server:eth0]")
        expectOne(yaml, at: "{ from: clint", "from: clint is not one of its neighbours", suggestion: "did you mean client?")
    }

    @Test("an expectation that does not parse: the column of the bad word")
    func expectationSyntax() {
        let yaml = replacing("client state ESTABLISHED within 110ms", with: "client state ESTABLISHD within 110ms")
        expectOne(yaml, at: "ESTABLISHD", "unknown TCP state ESTABLISHD", suggestion: "did you mean ESTABLISHED?")
        let quoted = replacing("- client state ESTABLISHED within 110ms", with: "- \"client sends 'X' once\"")
        expectOne(quoted, at: "'X'", "\"X\" is not a tcpdump flag set")
        let counter = replacing("client state ESTABLISHED within 110ms", with: "server ListenOverflow >= 1")
        expectOne(counter, at: "server ListenOverflow", "unknown counter ListenOverflow", suggestion: "did you mean ListenOverflows?")
    }

    @Test("a YAML syntax error: where libyaml stopped")
    func yamlSyntax() {
        let yaml = replacing("  - [client:eth0, server:eth0]", with: "  - [client:eth0, server:eth0")
        let found = problems(yaml)
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("YAML syntax:") == true, "\(found)")
        #expect(found.first.map { $0.location.line >= 6 } == true)
    }

    @Test("every error at once, in file order")
    func allAtOnce() {
        let yaml = goodTopology
            .replacingOccurrences(of: "  server: { role: server, address: 198.18.0.2/24 }",
                                  with: "  server: { role: server, address: 198.18.0.2/24, sysctl: { tcp_synack_retry: 2 }, colour: red }")
            .replacingOccurrences(of: "- [client:eth0, server:eth0]", with: "- [client:eth0, sever:eth0]")
            .replacingOccurrences(of: "ESTABLISHED within", with: "ESTABLISHED withn")
        let found = problems(yaml)
        #expect(found.map(\.location.line) == [4, 4, 6, 11], "\(found)")
        #expect(found[0].message.contains("tcp_synack_retry") && found[1].message.contains("colour"))
        #expect(found[2].message.contains("sever") && found[3].message.contains("withn"))
        #expect(TopologyErrors(found).description.hasSuffix("4 errors: no lab was started"))
    }

    @Test("the netns overlay of a sim-only feature is refused on netns, with the way out")
    func pluginsOnNetns() {
        let yaml = replacing("  server: { role: server, address: 198.18.0.2/24 }",
                             with: "  server: { role: server, address: 198.18.0.2/24, policies: { isn: linux } }")
        #expect(problems(yaml, backend: .netns).isEmpty)
    }

    @Test("a cpu this machine does not have, with the range it has")
    func cpuNotOnThisMachine() {
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        let yaml = replacing("  server: { role: server, address: 198.18.0.2/24 }",
                             with: "  server: { role: server, address: 198.18.0.2/24, cpus: [0, \(cpus)], low-latency: true }")
        expectOne(yaml, at: "\(cpus)]", "node server: cpu \(cpus) is not on this machine", suggestion: "choose cpus between 0 and \(cpus - 1)", from: 4)
    }

    @Test("placement is read: cpus in order without repeats, low-latency as a boolean")
    func placementIsRead() throws {
        let yaml = replacing("  server: { role: server, address: 198.18.0.2/24 }",
                             with: "  server: { role: server, address: 198.18.0.2/24, cpus: [0, 0], low-latency: true }")
        let topology = try Topology.parse(yaml: yaml, file: "t.yaml", backend: .netns)
        let server = try #require(topology.nodes.first { $0.name == "server" })
        #expect(server.placement == Placement(cpus: [0], lowLatency: true))
        #expect(topology.labPlan(seed: 1).nodes.first { $0.name == "server" }?.placement == Placement(cpus: [0], lowLatency: true))
        #expect(topology.nodes.first { $0.name == "client" }?.placement == Placement())
        expectOne(replacing("  server: { role: server, address: 198.18.0.2/24 }",
                            with: "  server: { role: server, address: 198.18.0.2/24, low-latency: 2 }"), at: "2 }", "low-latency", from: 4)
    }
}


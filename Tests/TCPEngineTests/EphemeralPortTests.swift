import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// Ephemeral ports (reference §1: ip_local_port_range, connect() prefers even ports, __inet_hash_connect).

@Suite("Ephemeral ports")
struct EphemeralPortTests {
    @Test("ports come from ip_local_port_range, even ones first; an exhausted range fails with EADDRNOTAVAIL")
    func tinyRange() throws {
        var sysctl = Sysctls()
        sysctl.ip_local_port_range = (low: 40000, high: 40003)
        let h = HostHarness.make(sysctl: sysctl)
        let server = h.makePeer(port: 80)
        var ports: [UInt16] = []
        for _ in 0..<4 {
            let conn = try h.connect(to: server)
            ports.append(try #require(h.host.tuple(of: conn)?.local.port))
        }
        #expect(Set(ports) == [40000, 40001, 40002, 40003])
        #expect(Set(ports.prefix(2)) == [40000, 40002])
        #expect(throws: SocketError.EADDRNOTAVAIL) { try h.connect(to: server) }
        // No SYN for the failed attempt: four SYNs, each from its own port.
        let syns = h.takePending().compactMap(\.frame.tcpSegment)
        #expect(syns.count == 4 && Set(syns.map(\.tcp.sourcePort)).count == 4)
        #expect(h[.ActiveOpens] == 4)
    }

    @Test("a port in use towards one server is free towards another (the 4-tuple must be unique)")
    func portsPerDestination() throws {
        var sysctl = Sysctls()
        sysctl.ip_local_port_range = (low: 40000, high: 40001)
        let h = HostHarness.make(sysctl: sysctl)
        let one = h.makePeer(port: 80)
        let two = h.makePeer(address: IPv4Address(198, 18, 0, 3), port: 80)
        _ = try h.connect(to: one)
        _ = try h.connect(to: one)
        #expect(throws: SocketError.EADDRNOTAVAIL) { try h.connect(to: one) }
        let other = try h.connect(to: two)
        #expect((40000...40001).contains(Int(h.host.tuple(of: other)?.local.port ?? 0)))
    }

    @Test("a port freed by a failed connection is reused")
    func portReleased() throws {
        var sysctl = Sysctls()
        sysctl.ip_local_port_range = (low: 40000, high: 40001)
        let h = HostHarness.make(sysctl: sysctl)
        let server = h.makePeer(port: 80)
        let a = try h.connect(to: server)
        let b = try h.connect(to: server)
        #expect(throws: SocketError.EADDRNOTAVAIL) { try h.connect(to: server) }
        // The peer learnt the host's port and ISN from the first SYN: it refuses that connection.
        h.expectSent(flags: .syn, to: server)
        h.expectSent(flags: .syn)
        let port = try #require(server.hostPort)
        let refused = h.host.tuple(of: a)?.local.port == port ? a : b
        server.sends(.rstAck(seq: .absolute(0), ack: 1))
        #expect(h.host.error(of: refused) == .ECONNREFUSED)
        let c = try h.connect(to: server)
        #expect(h.host.tuple(of: c)?.local.port == port)
    }

    @Test("a port with a listener is not handed out")
    func listenerPortSkipped() throws {
        var sysctl = Sysctls()
        sysctl.ip_local_port_range = (low: 40000, high: 40001)
        let h = HostHarness.make(sysctl: sysctl)
        _ = try h.listen(port: 40000, backlog: 8)
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        #expect(h.host.tuple(of: conn)?.local.port == 40001)
        #expect(throws: SocketError.EADDRNOTAVAIL) { try h.connect(to: server) }
    }
}

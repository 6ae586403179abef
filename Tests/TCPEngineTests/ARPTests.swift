import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// ARP for the handshake's first segment (RFC 826; Linux neighbour defaults: mcast_solicit 3,
// retrans_time 1 s; a failed resolution reports host unreachable, which fails a connect in SYN_SENT).

@Suite("ARP before the SYN")
struct ARPTests {
    @Test("connect() to an unknown neighbour: ARP request, reply, then the queued SYN goes out")
    func resolvesThenSends() throws {
        let h = HostHarness.make()
        let server = h.makePeer(address: IPv4Address(198, 18, 0, 7), port: 80, resolved: false)
        let conn = try h.connect(to: server)
        h.expectARPRequest(for: server.address, at: .zero)
        h.expectNothing()
        #expect(h[.ArpRequestsSent] == 1)

        h.advance(to: .milliseconds(3))
        server.sendsARPReply()
        // The SYN waited in the neighbour queue; it leaves now, unchanged (its TSval is from 0 ms).
        let syn = try #require(h.expectSent(flags: .syn, seq: 0, options: [.mss(1460), .sackOK, .ts(ecr: 0), .nop, .wscale(10)],
                                            at: .milliseconds(3), to: server))
        #expect(syn.segment.ip.destination == server.address)
        server.sends(.synAck(seq: 0, ack: 1))
        h.expectSent(flags: .ack, seq: 1, ack: 1, to: server)
        #expect(h.host.state(of: conn) == .established)
        #expect(h.events.contains { $0.kind == .arpResolved(server.address, server.mac) })
        // Resolved once: the next connection needs no ARP.
        let again = try h.connect(to: h.makePeer(address: server.address, port: 81, mac: server.mac, resolved: false))
        h.expectSent(flags: .syn)
        #expect(h.host.state(of: again) == .synSent)
        #expect(h[.ArpRequestsSent] == 1)
    }

    @Test("the host answers ARP requests for its address and learns the asker")
    func answersRequests() throws {
        let h = HostHarness.make()
        _ = try h.listen(backlog: 128)
        let client = h.makePeer(address: IPv4Address(198, 18, 0, 9), port: 40000, hostPort: 80, resolved: false)
        client.sendsARPRequest()
        h.expectARPReply(to: client)
        #expect(h[.ArpRepliesSent] == 1)
        // The request taught the host the client's MAC: the SYN-ACK needs no ARP of its own.
        client.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck, seq: 0, ack: 1, to: client)
        #expect(h[.ArpRequestsSent] == 0)
    }

    @Test("ARP requests for other addresses are ignored")
    func ignoresOtherTargets() throws {
        let h = HostHarness.make()
        let other = h.makePeer(address: IPv4Address(198, 18, 0, 9), port: 1, resolved: false)
        let arp = ARPPacket(operation: .request, senderMAC: other.mac, senderIP: other.address, targetMAC: .zero,
                            targetIP: IPv4Address(198, 18, 0, 99))
        h.host.receive(frame: Frame(ethernet: EthernetHeader(destination: .broadcast, source: other.mac, etherType: .arp),
                                    payload: .arp(arp)), on: 0, at: h.now)
        h.expectNothing()
    }

    @Test("no answer: requests at 0, 1, 2 s, then connect() fails with EHOSTUNREACH at 3 s, no SYN on the wire")
    func givesUp() throws {
        let h = HostHarness.make()
        let server = h.makePeer(address: IPv4Address(198, 18, 0, 7), port: 80, resolved: false)
        let conn = try h.connect(to: server)
        h.advance(to: .seconds(10))
        h.expectARPRequest(for: server.address, at: .zero)
        h.expectARPRequest(for: server.address, at: .seconds(1))
        h.expectARPRequest(for: server.address, at: .seconds(2))
        h.expectNothing()
        #expect(h.host.error(of: conn) == .EHOSTUNREACH)
        #expect(h.host.state(of: conn) == .close)
        #expect(errors(h.events, socket: conn).map { $0.0 } == [.zero + .seconds(3)])
        #expect(h[.ArpFailed] == 1)
        #expect(h[.ArpRequestsSent] == 3)
        #expect(h[.AttemptFails] == 1)
        #expect(h.events.contains { $0.kind == .arpFailed(server.address) })
    }
}

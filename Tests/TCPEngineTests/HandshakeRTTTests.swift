import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// The RTT the handshake leaves behind (tcp_ack_update_rtt, tcp_synack_rtt_meas, tcp_init_metrics):
// the SYN or SYN-ACK is timed unless it was retransmitted (Karn); then a TSecr can still time it
// (RFC 7323 §4.1); with no sample at all the RTO falls back to TCP_TIMEOUT_FALLBACK, 3 s (RFC 6298 §5.7).
// The peers here offer no SACK, so Linux would send no tail loss probe either.

@Suite("The RTT the handshake leaves behind")
struct HandshakeRTTTests {
    private static let noSack: [OptionSpec] = [.mss(1460), .nop, .nop, .ts(), .nop, .wscale(7)]

    @Test("SYN answered at once: RTT from the SYN; RTO = srtt + max(4·rttvar, 200 ms)")
    func synTimed() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.expectSent(flags: .syn)
        h.advance(to: .milliseconds(10))
        server.sends(.synAck(seq: 0, ack: 1, options: Self.noSack))
        h.expectSent(flags: .ack)
        let info = try #require(h.host.info(of: conn))
        #expect(info.srtt == .milliseconds(10))
        #expect(info.rto == .milliseconds(210))
    }

    @Test("SYN retransmitted, SYN-ACK without timestamps: no RTT sample, the RTO falls back to 3 s")
    func fallbackAfterSynRetransmission() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.advance(to: .milliseconds(1010))
        h.expectSent(flags: .syn, at: .zero)
        h.expectSent(flags: .syn, at: .seconds(1))
        server.sends(.synAck(seq: 0, ack: 1, options: [.mss(1460)]))
        h.expectSent(flags: .ack, seq: 1, ack: 1)
        let info = try #require(h.host.info(of: conn))
        #expect(info.srtt == nil)
        #expect(info.rto == .seconds(3))
        // The first data waits 3 s for its ACK before going again.
        h.advance(to: .milliseconds(1020))
        try h.send(conn, "data")
        h.expectSent(flags: .pshAck, seq: 1, at: .milliseconds(1020))
        h.advance(to: .milliseconds(4019))
        h.expectNothing()
        h.advance(to: .milliseconds(4020))
        h.expectSent(flags: .pshAck, seq: 1, payload: Array(text: "data"), at: .milliseconds(4020))
    }

    @Test("SYN retransmitted, SYN-ACK with timestamps: the TSecr times the retransmitted SYN")
    func timestampSampleAfterSynRetransmission() throws {
        let h = HostHarness.make()
        let server = h.makePeer(port: 80)
        let conn = try h.connect(to: server)
        h.advance(to: .seconds(1))
        h.expectSent(flags: .syn, at: .zero)
        let second = try #require(h.expectSent(flags: .syn, at: .seconds(1)))
        h.advance(to: .milliseconds(1010))
        server.sends(.synAck(seq: 0, ack: 1, options: [.mss(1460), .nop, .nop, .ts(val: 1, ecr: second.tsVal), .nop, .wscale(7)]))
        h.expectSent(flags: .ack, seq: 1, ack: 1)
        let info = try #require(h.host.info(of: conn))
        #expect(info.srtt == .milliseconds(10))
        #expect(info.rto == .milliseconds(210))
    }

    @Test("SYN-ACK retransmitted, third ACK without timestamps: the child's RTO is 3 s")
    func childFallback() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        h.peer.sends(.syn(seq: 0, options: [.mss(1460)]))
        h.advance(to: .milliseconds(1005))
        h.expectSent(flags: .synAck, at: .zero)
        h.expectSent(flags: .synAck, at: .seconds(1))
        h.peer.sends(.ack(seq: 1, ack: 1, window: 64240))
        let child = try #require(try h.accept(listener))
        let info = try #require(h.host.info(of: child))
        #expect(info.srtt == nil)
        #expect(info.rto == .seconds(3))
    }

    @Test("SYN-ACK retransmitted, third ACK with timestamps: the TSecr gives the child an RTT")
    func childTimestampSample() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        h.peer.sends(.syn(seq: 0, options: Self.noSack))
        h.advance(to: .seconds(1))
        h.expectSent(flags: .synAck, at: .zero)
        let second = try #require(h.expectSent(flags: .synAck, at: .seconds(1)))
        h.advance(to: .milliseconds(1004))
        h.peer.sends(.ack(seq: 1, ack: 1, options: [.nop, .nop, .ts(ecr: second.tsVal)]))
        let child = try #require(try h.accept(listener))
        let info = try #require(h.host.info(of: child))
        #expect(info.srtt == .milliseconds(4))
        #expect(info.rto == .milliseconds(204))
    }

    @Test("SYN-ACK answered at once: the child's RTT is the time since the SYN-ACK")
    func childTimed() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 8)
        h.peer.sends(.syn(seq: 0, options: [.mss(1460)]))
        h.expectSent(flags: .synAck)
        h.advance(to: .milliseconds(7))
        h.peer.sends(.ack(seq: 1, ack: 1, window: 64240))
        let child = try #require(try h.accept(listener))
        #expect(h.host.info(of: child)?.srtt == .milliseconds(7))
    }
}

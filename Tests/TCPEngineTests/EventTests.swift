import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

/// The events a ladder diagram is drawn from, in one line each (others left out).
private func line(_ kind: EngineEventKind) -> String? {
    switch kind {
    case let .stateChanged(socket, _, from, to, _): "\(socket) \(from) -> \(to)"
    case let .segmentSent(record, socket, retransmission):
        "\(socket.map(String.init(describing:)) ?? "-") sent \(record.flags.tcpdumpString)" + (retransmission > 0 ? " again" : "")
    case let .segmentReceived(record, socket): "\(socket.map(String.init(describing:)) ?? "-") received \(record.flags.tcpdumpString)"
    case let .connected(socket): "\(socket) connected"
    case let .requestQueued(listener, _): "\(listener) request queued"
    case let .requestRemoved(listener, _, reason): "\(listener) request removed" + (reason.map { " (\($0))" } ?? "")
    case let .childQueued(listener, child): "\(listener) queued \(child)"
    case let .accepted(listener, child): "\(listener) accepted \(child)"
    case let .error(socket, error): "\(socket) error \(error.rawValue)"
    default: nil
    }
}

@Suite("Events: complete and in order")
struct EventTests {
    @Test("a clean handshake: every state change and segment on both hosts, in order")
    func cleanHandshake() throws {
        let lab = TwoHosts()
        let listener = try lab.server.listen(port: 80, backlog: 128, at: lab.sim.now)
        let conn = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        lab.sim.run(for: .milliseconds(10))
        let child = try #require(try lab.server.accept(listener, at: lab.sim.now))
        lab.sim.collect()

        let client = lab.events(on: "client").compactMap { line($0.kind) }
        #expect(client == [
            "\(conn) CLOSE -> SYN_SENT",
            "\(conn) sent S",
            "\(conn) received S.",
            "\(conn) SYN_SENT -> ESTABLISHED",
            "\(conn) connected",
            "\(conn) sent .",
        ])

        let server = lab.events(on: "server").compactMap { line($0.kind) }
        #expect(server == [
            "\(listener) CLOSE -> LISTEN",
            "\(listener) received S",
            "\(listener) request queued",
            "\(listener) sent S.",
            "\(listener) received .",
            "\(child) NEW_SYN_RECV -> SYN_RECV",
            "\(listener) request removed",
            "\(listener) queued \(child)",
            "\(child) SYN_RECV -> ESTABLISHED",
            "\(listener) accepted \(child)",
        ])

        // State changes of each socket alone: client CLOSE → SYN_SENT → ESTABLISHED, child SYN_RECV → ESTABLISHED.
        let clientStates = stateChanges(lab.events(on: "client"), socket: conn)
        #expect(clientStates.map(\.0) == [.close, .synSent])
        #expect(clientStates.map(\.1) == [.synSent, .established])
        #expect(stateChanges(lab.events(on: "server"), socket: child).map(\.1) == [.synRecv, .established])

        // Times: the SYN leaves at 0; ESTABLISHED when the SYN-ACK arrives one round trip later.
        let clientTimes = lab.events(on: "client").filter { if case .stateChanged = $0.kind { true } else { false } }.map(\.time)
        #expect(clientTimes == [.zero, .zero + .microseconds(100)])
    }

    @Test("events name the timers: the request's SYN-ACK timer is armed for 1 s, the SYN's RTO for 1 s")
    func timersAreRecorded() throws {
        let h = HostHarness.make()
        let listener = try h.listen(backlog: 128)
        h.peer.sends(.syn(seq: 0))
        h.expectSent(flags: .synAck)
        let armed = h.takeEvents().compactMap { e -> (TimerKind, SocketID?, Instant)? in
            if case let .timerArmed(kind, socket, _, deadline) = e.kind { return (kind, socket, deadline) }
            return nil
        }
        #expect(armed.count == 1)
        #expect(armed.first?.0 == .synAck && armed.first?.1 == listener && armed.first?.2 == .zero + .seconds(1))

        let server = h.makePeer(port: 80)
        _ = try h.connect(to: server)
        h.expectSent(flags: .syn)
        let rto = h.takeEvents().compactMap { e -> (TimerKind, Instant)? in
            if case let .timerArmed(kind, _, _, deadline) = e.kind { return (kind, deadline) }
            return nil
        }
        #expect(rto.map(\.0) == [.retransmit])
        #expect(rto.first?.1 == .zero + .seconds(1))
    }
}

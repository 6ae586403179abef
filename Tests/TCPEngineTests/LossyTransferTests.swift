import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

// A bulk transfer across a lossy link in LabSim: every byte arrives, in order, whatever the link drops
// (fast retransmit on three duplicate ACKs, tail loss probes, RTOs), and the run is a pure function of
// the seed.

@Suite("A thousand segments across a link that drops 5 %")
struct LossyTransferTests {
    struct Outcome {
        var received: [UInt8]
        var trace: [String]
        var client: Counters
        var server: Counters
        var finishedAt: Instant
    }

    /// Client → server, `segments` full segments (1448 bytes with timestamps), 5 % loss both ways.
    static func transfer(seed: UInt64, segments: Int = 1000) throws -> Outcome {
        let lab = TwoHosts(seed: seed, delay: .microseconds(500))
        lab.link.aToB = LinkImpairment(loss: 0.05, delay: .microseconds(500))
        lab.link.bToA = LinkImpairment(loss: 0.05, delay: .microseconds(500))
        let listener = try lab.server.listen(port: 80, backlog: 8, at: lab.sim.now)
        let conn = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
        var child: SocketID?
        while child == nil, lab.sim.now < .zero + .seconds(200) {
            lab.sim.run(for: .milliseconds(10))
            child = try? lab.server.accept(listener, blocking: false, at: lab.sim.now)
        }
        let server = try #require(child)
        let data = pattern(segments * 1448)
        var sent = 0
        var received: [UInt8] = []
        received.reserveCapacity(data.count)
        let limit = Instant.zero + .seconds(3600)
        while received.count < data.count, lab.sim.now < limit {
            while sent < data.count {
                let chunk = Array(data[sent..<min(sent + 65536, data.count)])
                guard let n = try? lab.client.send(conn, chunk, at: lab.sim.now), n > 0 else { break }
                sent += n
            }
            lab.sim.run(for: .milliseconds(1))
            while let bytes = try? lab.server.receive(server, at: lab.sim.now), !bytes.isEmpty {
                received += bytes
            }
        }
        let finishedAt = lab.sim.now
        lab.client.close(conn, at: lab.sim.now)
        lab.server.close(server, at: lab.sim.now)
        lab.sim.run(for: .seconds(5))
        return Outcome(received: received, trace: lab.trace, client: lab.client.counters, server: lab.server.counters,
                       finishedAt: finishedAt)
    }

    @Test("every byte delivered in order; losses repaired by fast retransmits, probes and timeouts")
    func everyByteInOrder() throws {
        let outcome = try Self.transfer(seed: 42)
        #expect(outcome.received.count == 1000 * 1448)
        #expect(outcome.received == pattern(1000 * 1448))
        let c = outcome.client
        #expect(c[.RetransSegs] > 0)
        #expect(c[.TCPFastRetrans] > 0)
        #expect(outcome.server[.TCPOFOQueue] > 0)
        // Data segments on the wire, lost ones included: at least one per segment.
        let dataSegments = outcome.trace.filter { $0.hasPrefix("client") && $0.contains("length 1448") }
        #expect(dataSegments.count >= 1000)
        // Both ends closed cleanly in the end.
        #expect(outcome.trace.contains { $0.hasPrefix("client Flags [F.]") })
    }

    @Test("the same seed gives the same trace, segment for segment; another seed another one")
    func deterministic() throws {
        let a = try Self.transfer(seed: 7, segments: 300)
        let b = try Self.transfer(seed: 7, segments: 300)
        #expect(a.trace == b.trace)
        #expect(a.finishedAt == b.finishedAt)
        #expect(a.client == b.client && a.server == b.server)
        let c = try Self.transfer(seed: 8, segments: 300)
        #expect(c.trace != a.trace)
        #expect(c.received == a.received)
    }
}

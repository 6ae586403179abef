#if canImport(Glibc)
import Glibc
#endif
import TCPEngine
import TCPPluginHost
import TCPPolicy
import TCPWire

/// Figures of issue "Policy plugins": the cost of one policy call as the engine makes it (through an
/// `any ISNGenerator` / `any AcceptQueuePolicy` / `any DelayedAckPolicy`), for the built-in Linux
/// policies called directly, the same policies obtained from the registry by name, and plugins loaded
/// with dlopen from the build directory (`swift build -c release` builds them next to tcplab-bench).
enum PluginBenchmark {
    static let iterations = 5_000_000

    /// Nanoseconds per call of `body` (best of 3 runs of `iterations` calls, after a warm-up).
    @inline(never)
    static func measure(_ body: (Int) -> Void) -> Double {
        for i in 0..<iterations / 10 { body(i) }
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = monotonicNanoseconds()
            for i in 0..<iterations { body(i) }
            best = min(best, Double(monotonicNanoseconds() - t0) / Double(iterations))
        }
        return best
    }

    static func tuple(_ i: Int) -> FourTuple {
        FourTuple(local: SocketAddress(IPv4Address(198, 18, 0, 2), 80),
                  remote: SocketAddress(IPv4Address(rawValue: 0xC612_0001 &+ UInt32(truncatingIfNeeded: i & 0xff)),
                                        UInt16(truncatingIfNeeded: 32768 + i)))
    }

    static func line(_ what: String, _ ns: Double, _ note: String = "") {
        let padded = what.count >= 58 ? what : what + String(repeating: " ", count: 58 - what.count)
        print("plugins: \(padded) \(fmt(ns)) ns/call\(note.isEmpty ? "" : "  (\(note))")")
    }

    static func run() {
        let registry = PolicyRegistry()
        let found = Set(registry.available().map { "\($0.kind)/\($0.name)" })
        let missing = ["isn/counter", "isn/rfc793", "accept-queue/lifo", "delayed-ack/immediate", "delayed-ack/every-nth"]
            .filter { !found.contains($0) }
        if !missing.isEmpty {
            print("plugins: \(missing.joined(separator: ", ")) not found in \(registry.searchPath.map(\.path).joined(separator: ", ")): build them first (swift build -c release), then run tcplab-bench again")
            return
        }
        print("plugins: one policy call as the engine makes it, through an existential; \(iterations) calls, best of 3")

        // ISN
        let direct: any ISNGenerator = LinuxISN(seed: 1)
        let named = try! registry.makeISN("linux", context: PolicyContext(seed: 1))
        let counter = try! registry.makeISN("counter")
        let rfc793 = try! registry.makeISN("rfc793")
        line("isn: LinuxISN, direct (SipHash-2-4)", measure { blackHole(direct.initialSequenceNumber(for: tuple($0), at: Instant(nanoseconds: Int64($0)))) })
        line("isn: linux from the registry (the same object)", measure { blackHole(named.initialSequenceNumber(for: tuple($0), at: Instant(nanoseconds: Int64($0)))) })
        line("isn: counter plugin (Swift, dlopen, TCPLabPluginKit)", measure { blackHole(counter.initialSequenceNumber(for: tuple($0), at: Instant(nanoseconds: Int64($0)))) })
        line("isn: rfc793 plugin (C, dlopen)", measure { blackHole(rfc793.initialSequenceNumber(for: tuple($0), at: Instant(nanoseconds: Int64($0)))) })

        // Accept queue
        let snapshot = ListenerSnapshot(synQueueLength: 3, youngCount: 3, acceptQueueLength: 1, backlog: 128, maxSynBacklog: 2048,
                                        syncookies: 1, abortOnOverflow: false)
        let linuxQueue: any AcceptQueuePolicy = LinuxAcceptQueue()
        let lifo = try! registry.makeAcceptQueue("lifo")
        // The collection the engine hands over: the accept queue's children as an ArraySlice (ChildQueue
        // keeps them in their own array, so a plugin reads contiguous storage).
        let entries = (0..<4).map { (child: SocketID(Int32($0)), info: QueuedChild(tuple: tuple($0), establishedAt: Instant(nanoseconds: Int64($0)))) }
        let infos = entries.map(\.info)
        let queue = infos[0...]
        line("accept-queue: LinuxAcceptQueue.onSyn, direct", measure { blackHole(linuxQueue.onSyn(SynFacts(tuple: tuple($0), now: .zero), listener: snapshot)) })
        line("accept-queue: lifo plugin onSyn (kit default: back to Linux)", measure { blackHole(lifo.onSyn(SynFacts(tuple: tuple($0), now: .zero), listener: snapshot)) }, "two crossings")
        line("accept-queue: LinuxAcceptQueue.selectChild (4 children)", measure { _ in blackHole(linuxQueue.selectChild(queue)) })
        line("accept-queue: lifo plugin selectChild (4 children, the engine's ArraySlice)", measure { _ in blackHole(lifo.selectChild(queue)) },
             "contiguous fast path")

        // Delayed ACK: the per-segment pair, dataReceived then ackCheck.
        let linuxAck: any DelayedAckPolicy = LinuxDelayedAck()
        let immediate = try! registry.makeDelayedAck("immediate")
        let everyNth = try! registry.makeDelayedAck("every-nth", parameters: ["n": "4"])
        func ackCheck(_ policy: any DelayedAckPolicy) -> Double {
            var ack = AckState()
            ack.pending = [.scheduled]
            ack.ato = .milliseconds(40)
            ack.rcvMSS = 1448
            return measure { i in
                let facts = AckFacts(now: Instant(nanoseconds: Int64(i) * 1000), rto: .milliseconds(200), receiveWindow: 65535,
                                     advertisedMSS: 1460, unacknowledged: i & 4095)
                blackHole(policy.ackCheck(&ack, facts: facts))
                ack.pending = [.scheduled]
            }
        }
        line("delayed-ack: LinuxDelayedAck.ackCheck, direct", ackCheck(linuxAck))
        line("delayed-ack: immediate plugin ackCheck", ackCheck(immediate))
        line("delayed-ack: every-nth plugin ackCheck", ackCheck(everyNth))
        func dataReceived(_ policy: any DelayedAckPolicy) -> Double {
            var ack = AckState()
            return measure { i in
                let facts = AckFacts(now: Instant(nanoseconds: Int64(i) * 1000), rto: .milliseconds(200), receiveWindow: 65535,
                                     advertisedMSS: 1460)
                policy.dataReceived(&ack, ReceivedData(length: 1448), facts: facts)
            }
        }
        line("delayed-ack: LinuxDelayedAck.dataReceived, direct", dataReceived(linuxAck))
        line("delayed-ack: immediate plugin dataReceived (kit default: Linux)", dataReceived(immediate), "two crossings")
    }
}


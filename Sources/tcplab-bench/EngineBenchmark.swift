#if canImport(Glibc)
import Glibc
#endif
import LabSim
import TCPEngine
import TCPPolicy
import TCPWire

/// Figures of issue "TCP engine I": the CPU cost of a whole handshake in LabSim, the memory of a
/// half-open request, and how long the 63-second SYN-ACK story takes to simulate.
enum EngineBenchmark {
    static func twoHosts(seed: UInt64, recording: Bool) -> (LabSim, Host, Host) {
        let sim = LabSim(seed: seed)
        sim.recording = recording
        let client = sim.add(Host(name: "client", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 1),
                                                                         address: IPv4Interface("198.18.0.1/24")!)], seed: seed))
        let server = sim.add(Host(name: "server", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 2),
                                                                         address: IPv4Interface("198.18.0.2/24")!)], seed: seed + 1))
        sim.connect(client, 0, server, 0)
        client.addNeighbor(IPv4Address(198, 18, 0, 2), MACAddress(2, 0, 0, 0, 0, 2))
        server.addNeighbor(IPv4Address(198, 18, 0, 1), MACAddress(2, 0, 0, 0, 0, 1))
        return (sim, client, server)
    }

    /// connect → SYN, SYN-ACK, ACK → accept → close on both ends (the server first, so TIME_WAIT stays
    /// on the server and client ports free up), FIN exchange included: the issue's figure. A second
    /// line breaks it down: the same with an abortive close (the server's child has SO_LINGER 0, so
    /// close() sends one RST and nobody enters TIME_WAIT), which leaves the handshake's own cost.
    static func handshakeCost() {
        // CLOSE=orderly or CLOSE=abortive runs one variant only (a callgrind run per variant).
        let only = getenv("CLOSE").map { String(cString: $0) }
        if only != "abortive" { handshakeCost(abortive: false) }
        if only != "orderly" { handshakeCost(abortive: true) }
    }

    static func handshakeCost(abortive: Bool) {
        let (sim, client, server) = twoHosts(seed: 11, recording: false)
        let listener = try! server.listen(port: 80, backlog: 4096, at: sim.now)
        let remote = SocketAddress(IPv4Address(198, 18, 0, 2), 80)
        func once() {
            let c = try! client.connect(to: remote, at: sim.now)
            sim.run(for: .microseconds(150))
            guard let child = try? server.accept(listener, at: sim.now) else {
                fatalError("handshake did not complete: client \(client.state(of: c).map { "\($0)" } ?? "?")")
            }
            if abortive { try! server.setsockopt(child, .SO_LINGER(on: true, seconds: 0), at: sim.now) }
            server.close(child, at: sim.now)
            sim.run(for: .microseconds(100))
            client.close(c, at: sim.now)
            sim.run(for: .microseconds(150))
        }
        for _ in 0..<2000 { once() }  // warm up
        // N=20000 makes a run short enough for `valgrind --tool=callgrind` (instruction counts, not noisy).
        // N=0 runs the start-up and the warm-up only: the count to subtract from a callgrind total.
        let n = max(0, Int(getenv("N").flatMap { Int(String(cString: $0)) } ?? 200_000))
        guard n > 0 else {
            print("engine: N=0: start-up and warm-up only, nothing measured")
            return
        }
        // ROUNDS rounds of N (5 by default; 1 for callgrind): the median round is the figure, as a shared
        // machine slows single rounds down by ±10 %.
        let rounds = max(1, Int(getenv("ROUNDS").flatMap { Int(String(cString: $0)) } ?? 5))
        var perRound: [(cpu: Double, wall: Double)] = []
        for _ in 0..<rounds {
            let cpu0 = cpuNanoseconds(), wall0 = monotonicNanoseconds()
            for _ in 0..<n { once() }
            perRound.append((Double(cpuNanoseconds() - cpu0) / Double(n), Double(monotonicNanoseconds() - wall0) / 1e9))
        }
        perRound.sort { $0.cpu < $1.cpu }
        let median = perRound[perRound.count / 2]
        let what = abortive ? "handshake + abortive close (SO_LINGER 0: one RST, no TIME_WAIT)" : "full handshake + close (FIN exchange, TIME_WAIT)"
        let spread = rounds > 1 ? "median of \(rounds) rounds of \(n), \(fmt2(perRound[0].cpu / 1000))–\(fmt2(perRound[rounds - 1].cpu / 1000)) µs; " : "\(n) handshakes; "
        print("engine: \(what) in LabSim: \(fmt2(median.cpu / 1000)) µs CPU each (\(spread)\(fmt(Double(n) / median.wall)) per second); PassiveOpens \(server.counters[.PassiveOpens]), TW \(server.counters[.TW]), OutRsts \(server.counters[.OutRsts])")
    }

    /// A million half-open requests held by one listener: resident memory per request.
    static func halfOpenMemory() {
        var sysctl = Sysctls()
        sysctl.somaxconn = 2_000_000
        let server = Host(name: "server", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 2),
                                                                 address: IPv4Interface("198.18.0.2/15")!)],
                          sysctl: sysctl, seed: 3)
        server.recordsEvents = false
        let sources = (0..<16).map { IPv4Address(198, 19, 0, UInt8($0 + 1)) }
        for s in sources { server.addNeighbor(s, MACAddress(2, 0, 0, 0, 1, 1)) }
        _ = try! server.listen(port: 80, backlog: 2_000_000, at: .zero)
        let n = 1_000_000
        var frame = Frame(
            ethernet: EthernetHeader(destination: MACAddress(2, 0, 0, 0, 0, 2), source: MACAddress(2, 0, 0, 0, 1, 1), etherType: .ipv4),
            payload: .tcp(TCPSegment(ip: IPv4Header(source: sources[0], destination: IPv4Address(198, 18, 0, 2)),
                                     tcp: TCPHeader(sourcePort: 1, destinationPort: 80, sequenceNumber: SequenceNumber(1000),
                                                    flags: .syn, window: 64240,
                                                    options: [.maxSegmentSize(1460), .sackPermitted,
                                                              .timestamps(value: 1, echoReply: 0), .noOperation, .windowScale(7)]))))
        let before = residentBytes()
        let t0 = monotonicNanoseconds()
        for i in 0..<n {
            guard case var .tcp(seg) = frame.payload else { break }
            seg.ip.source = sources[i & 15]
            seg.tcp.sourcePort = UInt16(truncatingIfNeeded: 1024 + (i >> 4))
            frame.payload = .tcp(seg)
            server.receive(frame: frame, on: 0, at: Instant(nanoseconds: Int64(i) * 100))
            if i & 1023 == 0 { server.outbox.removeAll(keepingCapacity: true) }
        }
        server.outbox.removeAll()
        let elapsed = Double(monotonicNanoseconds() - t0) / 1e9
        let after = residentBytes()
        let perRequest = Double(after - before) / Double(server.requestCount)
        print("engine: \(server.requestCount) half-open requests held: \(fmt(Double(after - before) / 1_048_576)) MiB resident, \(fmt(perRequest)) bytes each (Linux: ~304); \(fmt(Double(n) / elapsed)) SYNs/s processed")
    }

    /// The third ACK lost: SYN-ACKs at 0, 1, 3, 7, 15, 31 s, the request gone at 63 s, the client's data at
    /// 70 s answered by a RST. Virtual time; this measures the wall time to play it.
    static func synAckStory() {
        let runs = 200
        var total: UInt64 = 0
        var synAcks = 0
        var resets = 0
        for r in 0..<runs {
            let t0 = monotonicNanoseconds()
            let (sim, client, server) = twoHosts(seed: UInt64(r + 100), recording: true)
            sim.links[0].dropHook = { f in
                if f.from == "client", let s = f.frame.tcpSegment, s.tcp.flags == .ack, s.payload.isEmpty { return "drop every pure ACK from the client" }
                return nil
            }
            _ = try! server.listen(port: 80, backlog: 128, at: sim.now)
            let c = try! client.connect(to: SocketAddress(IPv4Address(198, 18, 0, 2), 80), at: sim.now)
            sim.run(until: Instant(nanoseconds: 70_000_000_000))
            _ = try? client.send(c, Array("hello".utf8), at: sim.now)
            sim.run(for: .seconds(1))
            total += monotonicNanoseconds() - t0
            synAcks = sim.frames.filter { $0.frame.tcpSegment?.tcp.flags == .synAck }.count
            resets = sim.frames.filter { $0.from == "server" && $0.frame.tcpSegment?.tcp.flags == .rst }.count
        }
        print("engine: the 63-second SYN-ACK story (\(synAcks) SYN-ACKs, request expired, \(resets) RST for the data at 70 s) simulated in \(fmt(Double(total) / Double(runs) / 1e3)) µs wall")
    }

    static func residentBytes() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var size = 0, resident = 0
        withUnsafeMutablePointer(to: &size) { s in
            withUnsafeMutablePointer(to: &resident) { r in
                _ = withVaList([s, r]) { vfscanf(f, "%ld %ld", $0) }
            }
        }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// Two decimals.
func fmt2(_ x: Double) -> String {
    let hundredths = Int((x * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

func fmt(_ x: Double) -> String {
    let scaled = (x * 10).rounded() / 10
    return scaled == scaled.rounded() ? String(Int(scaled)) : String(scaled)
}

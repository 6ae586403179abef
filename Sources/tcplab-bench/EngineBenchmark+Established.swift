#if canImport(Glibc)
import Glibc
#endif
import LabSim
import TCPEngine
import TCPPolicy
import TCPWire

/// Figures of issue "TCP engine II": the CPU cost of bulk data through two engines in LabSim, and the
/// memory an idle established connection takes.
extension EngineBenchmark {
    /// Client → server bulk transfer over a LabSim link (50 µs each way, no loss), MTU 1500 (1448-byte
    /// segments with timestamps), recording off. The sender's buffer is 8 MB (SO_SNDBUF 4 MB), the
    /// receiver's the default (a 64 KB window). The applications write 256 KB at a time and read all
    /// there is after every 100 µs of virtual time. Measured: payload bytes delivered to the receiving
    /// application per CPU second of the whole process.
    static func bulkTransfer() {
        let (sim, client, server) = twoHosts(seed: 21, recording: false)
        let listener = try! server.listen(port: 80, backlog: 16, at: sim.now)
        var options = SocketOptions()
        options.sendBuffer = 4 << 20
        let conn = try! client.connect(to: SocketAddress(IPv4Address(198, 18, 0, 2), 80), options: options, at: sim.now)
        sim.run(for: .milliseconds(1))
        let child = try! server.accept(listener, at: sim.now)!
        let chunk = [UInt8](repeating: 0x5A, count: 256 * 1024)
        var received = 0
        func pump(until target: Int) {
            while received < target {
                while (try? client.send(conn, chunk, at: sim.now)) ?? 0 > 0 {}
                sim.run(for: .microseconds(100))
                while let bytes = try? server.receive(child, at: sim.now), !bytes.isEmpty { received += bytes.count }
            }
        }
        pump(until: 64 << 20)  // warm up
        let start = received
        let target = received + (2 << 30)
        let cpu0 = cpuNanoseconds(), wall0 = monotonicNanoseconds(), virtual0 = sim.now
        pump(until: target)
        let cpu = Double(cpuNanoseconds() - cpu0) / 1e9
        let wall = Double(monotonicNanoseconds() - wall0) / 1e9
        let bytes = Double(received - start)
        let segments = client.counters[.OutSegs]
        print("engine: bulk transfer in LabSim: \(fmt(bytes / cpu / 1e9)) GB/s of payload per CPU second (\(fmt(bytes / 1e9)) GB in \(fmt(cpu)) s CPU, \(fmt(wall)) s wall, \(fmt((sim.now - virtual0).seconds)) s virtual; \(segments) segments sent, RetransSegs \(client.counters[.RetransSegs]))")
    }

    /// 100,000 idle established connections between two hosts in one process (both ends, so 200,000
    /// connection states): resident memory after minus before, per connection state. Buffers are empty
    /// and take no memory; the figure holds the connection object, its entries in the socket table and
    /// the established hash, and the timers' share.
    static func idleMemory() {
        let (sim, client, server) = twoHosts(seed: 31, recording: false)
        // Eight listening ports: ip_local_port_range gives 28,232 ephemeral ports per destination.
        let ports: [UInt16] = Array(80..<88)
        var listeners: [SocketID] = []
        for p in ports { listeners.append(try! server.listen(port: p, backlog: 65535, at: sim.now)) }
        let n = 100_000
        var clients: [SocketID] = []
        var children: [SocketID] = []
        clients.reserveCapacity(n)
        children.reserveCapacity(n)
        sim.run(for: .seconds(2))
        let before = residentBytes()
        var made = 0
        while made < n {
            let batch = min(1000, n - made)
            for i in 0..<batch {
                let port = ports[(made + i) % ports.count]
                clients.append(try! client.connect(to: SocketAddress(IPv4Address(198, 18, 0, 2), port), at: sim.now))
            }
            sim.run(for: .milliseconds(1))
            for l in listeners {
                while let c = try? server.accept(l, blocking: false, at: sim.now) { children.append(c) }
            }
            made += batch
        }
        // Let every handshake timer (the SYN's RTO, the request's SYN-ACK timer) run out.
        sim.run(for: .seconds(5))
        let after = residentBytes()
        let states = client.connectionCount + server.connectionCount
        let established = clients.filter { client.state(of: $0) == .established }.count
            + children.filter { server.state(of: $0) == .established }.count
        print("engine: \(n) idle established connections (\(established) connection states): \(fmt(Double(after - before) / 1_048_576)) MiB resident, \(fmt(Double(after - before) / Double(states))) bytes per connection state (resident memory, buffers empty)")
    }
}

import LabSim
import TCPEngine
import TCPPolicy
import TCPWire

/// Two hosts on one simulated link: client 198.18.0.1 and server 198.18.0.2.
struct TwoHosts {
    let sim: LabSim
    let client: Host
    let server: Host

    init(seed: UInt64 = 7, delay: Interval = .microseconds(50), clientSysctl: Sysctls = Sysctls(), serverSysctl: Sysctls = Sysctls()) {
        sim = LabSim(seed: seed)
        client = sim.add(Host(name: "client", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 1),
                                                                     address: IPv4Interface("198.18.0.1/24")!)],
                              sysctl: clientSysctl, seed: seed &+ 1))
        server = sim.add(Host(name: "server", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 2),
                                                                     address: IPv4Interface("198.18.0.2/24")!)],
                              sysctl: serverSysctl, seed: seed &+ 2))
        sim.connect(client, 0, server, 0, aToB: LinkImpairment(delay: delay), bToA: LinkImpairment(delay: delay))
    }

    var serverAddress: SocketAddress { SocketAddress(IPv4Address(198, 18, 0, 2), 80) }

    /// Segments as tcpdump would print them on the link, with the sender's name: `client Flags [S], ...`.
    var trace: [String] {
        sim.frames.compactMap { f in
            f.frame.tcpSegment.map { "\(f.from) \($0.tcpdumpDescription)\(f.droppedBy.map { " [dropped: \($0)]" } ?? "")" }
        }
    }
}

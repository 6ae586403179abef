import LabControl
import LabNetlink
import TCPWire

extension LabPlan {
    /// What LabNetlink must build for this plan: a namespace per node, a veth pair per link with each
    /// end's MAC as the node declares it, and kernel addresses only where the kernel's stack runs
    /// (nodes running TCPLab's engine keep their interfaces address-less, so the namespace's kernel
    /// stays silent: no RST, no ARP answers of its own).
    func networkPlan() throws -> LabNetwork.Plan {
        func mac(_ node: String, _ interface: String) throws -> MACAddress? {
            guard let spec = nodes.first(where: { $0.name == node })?.interfaces.first(where: { $0.name == interface }) else { return nil }
            guard let m = MACAddress(spec.mac) else { throw LabError.build("node \(node): interface \(interface) has a bad MAC \(spec.mac)") }
            return m
        }
        let links = try links.map { l in
            LabNetwork.Link(l.a.node, l.a.interface, l.b.node, l.b.interface, mtu: l.mtu,
                            macA: try mac(l.a.node, l.a.interface), macB: try mac(l.b.node, l.b.interface))
        }
        var addresses: [LabNetwork.Address] = []
        for node in nodes where node.role.isKernel {
            for i in node.interfaces {
                guard let text = i.address else { continue }
                guard let a = IPv4Interface(text) else { throw LabError.build("node \(node.name): bad address \(text) on \(i.name)") }
                addresses.append(LabNetwork.Address(node.name, i.name, a))
            }
        }
        return LabNetwork.Plan(nodes: nodes.map(\.name), links: links, addresses: addresses)
    }
}

import LabReport

extension Topology {
    /// The topology as boxes and wires, for `tcplab graph`.
    public func picture() -> TopologyPicture {
        let boxes = chain.compactMap { name -> TopologyPicture.Box? in
            guard let n = node(named: name) else { return nil }
            var lines: [String] = []
            for i in n.interfaces {
                lines.append("\(i.name) \(i.address.map { "\($0)" } ?? "(no address)") \(i.mac)")
            }
            if let g = n.gateway { lines.append("gateway \(g)") }
            for (k, v) in n.sysctl.sorted(by: { $0.key < $1.key }) { lines.append("\(k) = \(v)") }
            for o in n.socketOptions { lines.append("\(o.name) = \(o.value)") }
            for p in n.policies {
                lines.append("\(p.kind): \(p.name)\(p.parameters.isEmpty ? "" : " " + p.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
            }
            for d in n.directions {
                for r in d.spec.rules ?? [] {
                    let rule = (try? r.rule().description) ?? "\(r.action)"
                    lines.append("from \(d.from): \(rule)")
                }
                let s = d.spec
                var parts: [String] = []
                if let l = s.loss { parts.append("loss \(l)") }
                if let v = s.delayMs { parts.append("delay \(v) ms") }
                if let v = s.jitterMs { parts.append("jitter \(v) ms") }
                if let v = s.duplicate { parts.append("duplicate \(v)") }
                if let v = s.reorder { parts.append("reorder \(v)") }
                if let v = s.corrupt { parts.append("corrupt \(v)") }
                if let v = s.rateBitsPerSecond { parts.append("rate \(v) bit/s") }
                if !parts.isEmpty { lines.append("from \(d.from): \(parts.joined(separator: ", "))") }
            }
            return TopologyPicture.Box(name: n.name, role: n.role.rawValue, lines: lines)
        }
        let wires = links.map { TopologyPicture.Wire($0.a.node, $0.a.interface, $0.b.node, $0.b.interface) }
        let first = description.split(separator: "\n").first.map(String.init) ?? ""
        return TopologyPicture(title: name, subtitle: first.count > 140 ? String(first.prefix(139)) + "…" : first, boxes: boxes, wires: wires)
    }
}

extension PolicyRegistry {
    /// What `tcplab plugins` prints: every policy by kind with its source, summary and parameters, the
    /// plugin path, and the libraries that could not be used and why.
    public func listing() -> String {
        let all = available()
        var out = ""
        for kind in PolicyKind.allCases {
            out += "\(kind.heading) (\(kind.rawValue):)\n"
            for p in all where p.kind == kind {
                let source: String
                switch p.source {
                case .builtIn: source = "built in"
                case let .library(path): source = String(path.split(separator: "/").last ?? Substring(path))
                case let .inProcess(origin): source = origin
                }
                out += "  \(pad(p.name, 16)) \(pad(source, 24)) \(p.summary)\n"
                for q in p.parameters {
                    let def = q.defaultValue.map { "default \($0)" } ?? "required"
                    out += "      \(pad(q.name, 14)) \(pad(q.typeDescription, 26)) \(pad(def, 18)) \(q.help)\n"
                }
            }
            out += "\n"
        }
        out += "Plugin path (searched in order; the first plugin of a kind and name wins):\n"
        if searchPath.isEmpty { out += "  (none)\n" }
        for d in searchPath {
            let count = all.filter { if case let .library(path) = $0.source { path.hasPrefix(d.path) } else { false } }.count
            out += "  \(pad(d.path, 48)) \(d.origin), \(count) plugin\(count == 1 ? "" : "s")\n"
        }
        if !all.contains(where: { if case .library = $0.source { true } else { false } }) {
            out += "  No plugin found: `swift build` builds this package's plugins into the build directory.\n"
        }
        if !problems.isEmpty {
            out += "\nNot used:\n"
            for p in problems { out += "  \(p)\n" }
        }
        out += "\nIn a topology: policies: { isn: linux, accept-queue: { plugin: <name>, <parameter>: <value> } }\n"
        return out
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}

/// The text of `tcplab plugins`: built-in policies and the plugins found in `pluginPath`,
/// `TCPLAB_PLUGIN_PATH` and the build directory.
public func pluginListing(pluginPath: [String] = []) -> String {
    PolicyRegistry(pluginPath: pluginPath).listing()
}

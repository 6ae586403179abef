import TCPLabPluginKit

/// Refuses SYNs from a prefix. With a RST (iptables' `REJECT --reject-with tcp-reset`) the client's
/// connect() fails at once with ECONNREFUSED; silently (`DROP`) it retries its SYN with exponential
/// backoff (1, 2, 4… s) until tcp_syn_retries runs out and fails with ETIMEDOUT. Everyone else gets
/// Linux's behaviour.
final class RefusePrefix: AcceptQueuePlugin {
    static let name = "refuse-prefix"
    static let summary = "refuses SYNs from a prefix with a RST (or silently): connection refused vs. timed out"
    static let parameters: [Parameter] = [
        .ipv4Prefix("prefix", default: nil, help: "source addresses to refuse, e.g. 198.18.0.0/24"),
        .bool("silent", default: false, help: "drop the SYN instead of answering with a RST"),
    ]

    let linux: Linux
    private let prefix: IPv4Prefix
    private let silent: Bool

    init(parameters: Parameters) throws {
        linux = parameters.linux
        prefix = try parameters.ipv4Prefix("prefix")
        silent = try parameters.bool("silent")
    }

    func onSyn(_ syn: SynFacts, listener: ListenerSnapshot) -> SynVerdict {
        guard prefix.contains(syn.tuple.remote.address) else { return linux.onSyn(syn, listener: listener) }
        return silent ? .drop(.policyRefused) : .reset
    }
}

@_cdecl("tcplab_plugin_v1") public func tcplabPluginV1() -> UnsafeRawPointer { exportPlugin(RefusePrefix.self) }

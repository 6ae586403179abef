import TCPPolicy

/// The host's TCP/IP settings, named exactly as the sysctls under `net.ipv4` and `net.core`, with the
/// defaults this project's machines report (Linux 6.18). A topology's `sysctl:` block sets them by name.
public struct Sysctls: Hashable, Sendable {
    // net.core
    public var somaxconn = 4096
    public var rmem_max = 4_194_304
    public var wmem_max = 4_194_304
    // net.ipv4
    public var ip_default_ttl = 64
    public var ip_local_port_range = (low: 32768, high: 60999)
    public var tcp_max_syn_backlog = 2048
    public var tcp_syncookies = 1
    public var tcp_abort_on_overflow = 0
    public var tcp_syn_retries = 6
    public var tcp_synack_retries = 5
    public var tcp_syn_linear_timeouts = 4
    public var tcp_timestamps = 1
    public var tcp_window_scaling = 1
    public var tcp_sack = 1
    public var tcp_dsack = 1
    /// 3: tail loss probes (RFC 8985 §7) on SACK connections.
    public var tcp_early_retrans = 3
    /// Duplicate ACKs that mean a loss (RFC 5681 §3.2).
    public var tcp_reordering = 3
    public var tcp_slow_start_after_idle = 1
    public var tcp_retrans_collapse = 1
    public var tcp_ecn = 2
    public var tcp_rmem = (min: 4096, default: 131_072, max: 33_554_432)
    public var tcp_wmem = (min: 4096, default: 16384, max: 4_194_304)
    public var tcp_fin_timeout = 60
    public var tcp_keepalive_time = 7200
    public var tcp_keepalive_intvl = 75
    public var tcp_keepalive_probes = 9
    public var tcp_retries1 = 3
    public var tcp_retries2 = 15
    public var tcp_orphan_retries = 0
    public var tcp_rfc1337 = 0
    /// Milliseconds.
    public var tcp_invalid_ratelimit = 500
    public var tcp_challenge_ack_limit = Int(Int32.max)
    public var tcp_pingpong_thresh = 1
    public var tcp_tw_reuse = 2
    /// Milliseconds.
    public var tcp_tw_reuse_delay = 1000
    public var tcp_max_tw_buckets = 131_072
    public var tcp_fastopen = 1
    /// Microseconds.
    public var tcp_rto_min_us = 200_000
    /// Milliseconds.
    public var tcp_rto_max_ms = 120_000
    public var tcp_app_win = 31
    public var tcp_adv_win_scale = 1
    public var tcp_moderate_rcvbuf = 1
    public var tcp_min_snd_mss = 48
    public var tcp_workaround_signed_windows = 0

    public init() {}

    public static func == (a: Sysctls, b: Sysctls) -> Bool { a.values == b.values }
    public func hash(into h: inout Hasher) { h.combine(values) }
    private var values: [Int] { Self.names.map { self[$0]! } }

    /// Every settable name, in `sysctl -a` order.
    public static let names: [String] = [
        "somaxconn", "rmem_max", "wmem_max", "ip_default_ttl", "ip_local_port_range.low", "ip_local_port_range.high",
        "tcp_max_syn_backlog", "tcp_syncookies", "tcp_abort_on_overflow", "tcp_syn_retries", "tcp_synack_retries",
        "tcp_syn_linear_timeouts", "tcp_timestamps", "tcp_window_scaling", "tcp_sack", "tcp_dsack", "tcp_early_retrans",
        "tcp_reordering", "tcp_slow_start_after_idle", "tcp_retrans_collapse", "tcp_ecn",
        "tcp_rmem.min", "tcp_rmem.default", "tcp_rmem.max", "tcp_wmem.min", "tcp_wmem.default", "tcp_wmem.max",
        "tcp_fin_timeout", "tcp_keepalive_time", "tcp_keepalive_intvl", "tcp_keepalive_probes", "tcp_retries1",
        "tcp_retries2", "tcp_orphan_retries", "tcp_rfc1337", "tcp_invalid_ratelimit", "tcp_challenge_ack_limit",
        "tcp_pingpong_thresh", "tcp_tw_reuse", "tcp_tw_reuse_delay", "tcp_max_tw_buckets", "tcp_fastopen", "tcp_rto_min_us",
        "tcp_rto_max_ms", "tcp_app_win", "tcp_adv_win_scale", "tcp_moderate_rcvbuf", "tcp_min_snd_mss",
        "tcp_workaround_signed_windows",
    ]

    /// Reads or writes a setting by its sysctl name (`tcp_synack_retries`; a `net.ipv4.` or `net.core.`
    /// prefix is accepted; triples and pairs by `tcp_rmem.max`, `ip_local_port_range.low`). Nil: unknown name.
    public subscript(name: String) -> Int? {
        get {
            switch Self.strip(name) {
            case "somaxconn": somaxconn
            case "rmem_max": rmem_max
            case "wmem_max": wmem_max
            case "ip_default_ttl": ip_default_ttl
            case "ip_local_port_range.low": ip_local_port_range.low
            case "ip_local_port_range.high": ip_local_port_range.high
            case "tcp_max_syn_backlog": tcp_max_syn_backlog
            case "tcp_syncookies": tcp_syncookies
            case "tcp_abort_on_overflow": tcp_abort_on_overflow
            case "tcp_syn_retries": tcp_syn_retries
            case "tcp_synack_retries": tcp_synack_retries
            case "tcp_syn_linear_timeouts": tcp_syn_linear_timeouts
            case "tcp_timestamps": tcp_timestamps
            case "tcp_window_scaling": tcp_window_scaling
            case "tcp_sack": tcp_sack
            case "tcp_dsack": tcp_dsack
            case "tcp_early_retrans": tcp_early_retrans
            case "tcp_reordering": tcp_reordering
            case "tcp_slow_start_after_idle": tcp_slow_start_after_idle
            case "tcp_retrans_collapse": tcp_retrans_collapse
            case "tcp_ecn": tcp_ecn
            case "tcp_rmem.min": tcp_rmem.min
            case "tcp_rmem.default": tcp_rmem.default
            case "tcp_rmem.max": tcp_rmem.max
            case "tcp_wmem.min": tcp_wmem.min
            case "tcp_wmem.default": tcp_wmem.default
            case "tcp_wmem.max": tcp_wmem.max
            case "tcp_fin_timeout": tcp_fin_timeout
            case "tcp_keepalive_time": tcp_keepalive_time
            case "tcp_keepalive_intvl": tcp_keepalive_intvl
            case "tcp_keepalive_probes": tcp_keepalive_probes
            case "tcp_retries1": tcp_retries1
            case "tcp_retries2": tcp_retries2
            case "tcp_orphan_retries": tcp_orphan_retries
            case "tcp_rfc1337": tcp_rfc1337
            case "tcp_invalid_ratelimit": tcp_invalid_ratelimit
            case "tcp_challenge_ack_limit": tcp_challenge_ack_limit
            case "tcp_pingpong_thresh": tcp_pingpong_thresh
            case "tcp_tw_reuse": tcp_tw_reuse
            case "tcp_tw_reuse_delay": tcp_tw_reuse_delay
            case "tcp_max_tw_buckets": tcp_max_tw_buckets
            case "tcp_fastopen": tcp_fastopen
            case "tcp_rto_min_us": tcp_rto_min_us
            case "tcp_rto_max_ms": tcp_rto_max_ms
            case "tcp_app_win": tcp_app_win
            case "tcp_adv_win_scale": tcp_adv_win_scale
            case "tcp_moderate_rcvbuf": tcp_moderate_rcvbuf
            case "tcp_min_snd_mss": tcp_min_snd_mss
            case "tcp_workaround_signed_windows": tcp_workaround_signed_windows
            default: nil
            }
        }
        set {
            guard let v = newValue else { return }
            switch Self.strip(name) {
            case "somaxconn": somaxconn = v
            case "rmem_max": rmem_max = v
            case "wmem_max": wmem_max = v
            case "ip_default_ttl": ip_default_ttl = v
            case "ip_local_port_range.low": ip_local_port_range.low = v
            case "ip_local_port_range.high": ip_local_port_range.high = v
            case "tcp_max_syn_backlog": tcp_max_syn_backlog = v
            case "tcp_syncookies": tcp_syncookies = v
            case "tcp_abort_on_overflow": tcp_abort_on_overflow = v
            case "tcp_syn_retries": tcp_syn_retries = v
            case "tcp_synack_retries": tcp_synack_retries = v
            case "tcp_syn_linear_timeouts": tcp_syn_linear_timeouts = v
            case "tcp_timestamps": tcp_timestamps = v
            case "tcp_window_scaling": tcp_window_scaling = v
            case "tcp_sack": tcp_sack = v
            case "tcp_dsack": tcp_dsack = v
            case "tcp_early_retrans": tcp_early_retrans = v
            case "tcp_reordering": tcp_reordering = v
            case "tcp_slow_start_after_idle": tcp_slow_start_after_idle = v
            case "tcp_retrans_collapse": tcp_retrans_collapse = v
            case "tcp_ecn": tcp_ecn = v
            case "tcp_rmem.min": tcp_rmem.min = v
            case "tcp_rmem.default": tcp_rmem.default = v
            case "tcp_rmem.max": tcp_rmem.max = v
            case "tcp_wmem.min": tcp_wmem.min = v
            case "tcp_wmem.default": tcp_wmem.default = v
            case "tcp_wmem.max": tcp_wmem.max = v
            case "tcp_fin_timeout": tcp_fin_timeout = v
            case "tcp_keepalive_time": tcp_keepalive_time = v
            case "tcp_keepalive_intvl": tcp_keepalive_intvl = v
            case "tcp_keepalive_probes": tcp_keepalive_probes = v
            case "tcp_retries1": tcp_retries1 = v
            case "tcp_retries2": tcp_retries2 = v
            case "tcp_orphan_retries": tcp_orphan_retries = v
            case "tcp_rfc1337": tcp_rfc1337 = v
            case "tcp_invalid_ratelimit": tcp_invalid_ratelimit = v
            case "tcp_challenge_ack_limit": tcp_challenge_ack_limit = v
            case "tcp_pingpong_thresh": tcp_pingpong_thresh = v
            case "tcp_tw_reuse": tcp_tw_reuse = v
            case "tcp_tw_reuse_delay": tcp_tw_reuse_delay = v
            case "tcp_max_tw_buckets": tcp_max_tw_buckets = v
            case "tcp_fastopen": tcp_fastopen = v
            case "tcp_rto_min_us": tcp_rto_min_us = v
            case "tcp_rto_max_ms": tcp_rto_max_ms = v
            case "tcp_app_win": tcp_app_win = v
            case "tcp_adv_win_scale": tcp_adv_win_scale = v
            case "tcp_moderate_rcvbuf": tcp_moderate_rcvbuf = v
            case "tcp_min_snd_mss": tcp_min_snd_mss = v
            case "tcp_workaround_signed_windows": tcp_workaround_signed_windows = v
            default: break
            }
        }
    }

    private static func strip(_ name: String) -> String {
        for prefix in ["net.ipv4.", "net.core.", "net/ipv4/", "net/core/"] where name.hasPrefix(prefix) {
            return String(name.dropFirst(prefix.count))
        }
        return name
    }

    // Derived values the engine uses, in its units.
    var rtoMin: Interval { .microseconds(Int64(tcp_rto_min_us)) }
    var rtoMax: Interval { .milliseconds(Int64(tcp_rto_max_ms)) }
    var invalidRatelimit: Interval { .milliseconds(Int64(tcp_invalid_ratelimit)) }
}

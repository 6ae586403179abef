import TCPLabPluginKit

/// 4.4BSD's ISN: one global counter, `tcp_iss`, bumped by TCP_ISSINCR/2 = 64,000 for every connection and
/// by another 64,000 every half second (`tcp_slowtimo` at PR_SLOWHZ = 2). Open two connections and you
/// know the next ISN: Morris's 1985 sequence-number attack and Mitnick's 1994 one, and why RFC 1948 (now
/// RFC 6528) adds a keyed hash of the 4-tuple, as Linux's `secure_tcp_seq` does.
final class CounterISN: ISNPlugin {
    static let name = "counter"
    static let summary = "4.4BSD's predictable counter: +increment per connection, +per-second each second (why RFC 6528 exists)"
    static let parameters: [Parameter] = [
        .int("increment", default: 64_000, range: 0...0xFFFF_FFFF, help: "added for every connection (4.4BSD: TCP_ISSINCR/2)"),
        .int("per-second", default: 128_000, range: 0...0xFFFF_FFFF, help: "added per second, in half-second steps (tcp_slowtimo)"),
        .int("start", default: 1, range: 0...0xFFFF_FFFF, help: "the counter at time 0"),
    ]

    private let increment: UInt32
    private let perTick: UInt32
    private var counter: UInt32

    init(parameters: Parameters) throws {
        increment = UInt32(try parameters.int("increment"))
        perTick = UInt32(try parameters.int("per-second") / 2)
        counter = UInt32(try parameters.int("start"))
    }

    func initialSequenceNumber(for tuple: FourTuple, at now: Instant) -> UInt32 {
        // The clock part: half-second ticks since time 0, each worth per-second / 2.
        let ticks = UInt32(truncatingIfNeeded: now.nanoseconds / 500_000_000)
        defer { counter &+= increment }
        return counter &+ ticks &* perTick
    }
}

@_cdecl("tcplab_plugin_v1") public func tcplabPluginV1() -> UnsafeRawPointer { exportPlugin(CounterISN.self) }

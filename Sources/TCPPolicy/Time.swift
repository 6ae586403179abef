/// A point in time as the engine sees it: nanoseconds since the start of the run. The engine reads no
/// clock; whoever drives it (LabSim's virtual clock, a worker's CLOCK_MONOTONIC) passes instants in.
public struct Instant: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)
    /// Later than any deadline: "no timer armed".
    public static let never = Instant(nanoseconds: .max)

    @inline(__always) public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    @inline(__always) public static func + (a: Instant, b: Interval) -> Instant {
        // Saturate so that `never + x` stays `never`.
        let (sum, overflow) = a.nanoseconds.addingReportingOverflow(b.nanoseconds)
        return Instant(nanoseconds: overflow ? .max : sum)
    }
    @inline(__always) public static func - (a: Instant, b: Interval) -> Instant { Instant(nanoseconds: a.nanoseconds - b.nanoseconds) }
    @inline(__always) public static func - (a: Instant, b: Instant) -> Interval { Interval(nanoseconds: a.nanoseconds - b.nanoseconds) }
    @inline(__always) public static func += (a: inout Instant, b: Interval) { a = a + b }

    /// Milliseconds since the start, as the TCP timestamp clock (TCP_TS_HZ = 1000) counts them.
    public var milliseconds: Int64 { nanoseconds / 1_000_000 }

    public var description: String { self == .never ? "never" : Interval(nanoseconds: nanoseconds).description }
}

/// A span of time in nanoseconds.
public struct Interval: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Interval(nanoseconds: 0)
    public static func nanoseconds(_ n: Int64) -> Interval { Interval(nanoseconds: n) }
    public static func microseconds(_ n: Int64) -> Interval { Interval(nanoseconds: n * 1_000) }
    public static func milliseconds(_ n: Int64) -> Interval { Interval(nanoseconds: n * 1_000_000) }
    public static func seconds(_ n: Int64) -> Interval { Interval(nanoseconds: n * 1_000_000_000) }

    public var milliseconds: Int64 { nanoseconds / 1_000_000 }
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    @inline(__always) public static func < (a: Interval, b: Interval) -> Bool { a.nanoseconds < b.nanoseconds }
    @inline(__always) public static func + (a: Interval, b: Interval) -> Interval { Interval(nanoseconds: a.nanoseconds + b.nanoseconds) }
    @inline(__always) public static func - (a: Interval, b: Interval) -> Interval { Interval(nanoseconds: a.nanoseconds - b.nanoseconds) }
    @inline(__always) public static func * (a: Interval, n: Int64) -> Interval { Interval(nanoseconds: a.nanoseconds * n) }
    @inline(__always) public static func / (a: Interval, n: Int64) -> Interval { Interval(nanoseconds: a.nanoseconds / n) }

    /// `1.5s`, `40ms`, `250us`, `0s`.
    public var description: String {
        let n = nanoseconds
        if n == 0 { return "0s" }
        if n % 1_000_000_000 == 0 { return "\(n / 1_000_000_000)s" }
        if n % 1_000_000 == 0 { return n.magnitude >= 1_000_000_000 ? "\(Double(n) / 1e9)s" : "\(n / 1_000_000)ms" }
        if n % 1_000 == 0 { return n.magnitude >= 1_000_000 ? "\(Double(n) / 1e6)ms" : "\(n / 1_000)us" }
        return "\(n)ns"
    }
}

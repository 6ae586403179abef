/// A TCP sequence number: a point on a circle of 2^32, compared with serial-number arithmetic
/// (RFC 793 §3.3, RFC 1982) exactly as the kernel's `before()` / `after()` do: `a < b` iff
/// `Int32(bitPattern: a &- b) < 0`. There is deliberately no `Comparable` conformance: the order is
/// not transitive over the whole circle, so sorting sequence numbers would be a bug.
public struct SequenceNumber: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public var description: String { String(rawValue) }

    /// `before(a, b)` in the kernel.
    @inline(__always) public static func < (a: Self, b: Self) -> Bool { Int32(bitPattern: a.rawValue &- b.rawValue) < 0 }
    @inline(__always) public static func > (a: Self, b: Self) -> Bool { b < a }
    @inline(__always) public static func <= (a: Self, b: Self) -> Bool { !(b < a) }
    @inline(__always) public static func >= (a: Self, b: Self) -> Bool { !(a < b) }

    /// Advances by `n` octets, wrapping at 2^32.
    @inline(__always) public static func + (a: Self, n: UInt32) -> Self { Self(a.rawValue &+ n) }
    @inline(__always) public static func + (a: Self, n: Int) -> Self { Self(a.rawValue &+ UInt32(truncatingIfNeeded: n)) }
    @inline(__always) public static func - (a: Self, n: UInt32) -> Self { Self(a.rawValue &- n) }
    @inline(__always) public static func += (a: inout Self, n: UInt32) { a = a + n }
    @inline(__always) public static func += (a: inout Self, n: Int) { a = a + n }

    /// The signed distance `a − b` on the circle (meaningful while |a − b| < 2^31).
    @inline(__always) public static func - (a: Self, b: Self) -> Int { Int(Int32(bitPattern: a.rawValue &- b.rawValue)) }

    /// `between(seq, low, high)` in the kernel: low ≤ self ≤ high, going round the circle from low.
    @inline(__always) public func isBetween(_ low: Self, _ high: Self) -> Bool {
        high.rawValue &- low.rawValue >= rawValue &- low.rawValue
    }

    /// The later of two sequence numbers in serial order.
    @inline(__always) public static func max(_ a: Self, _ b: Self) -> Self { a < b ? b : a }
    /// The earlier of two sequence numbers in serial order.
    @inline(__always) public static func min(_ a: Self, _ b: Self) -> Self { a < b ? a : b }
}

import TCPPolicy
import TCPWire

/// The three policy seams a plugin can fill, by the key a topology uses.
public enum PolicyKind: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case isn
    case acceptQueue = "accept-queue"
    case delayedAck = "delayed-ack"

    /// `TCPLAB_KIND_*`.
    public var abiValue: UInt32 {
        switch self {
        case .isn: 1
        case .acceptQueue: 2
        case .delayedAck: 3
        }
    }

    public init?(abiValue: UInt32) {
        switch abiValue {
        case 1: self = .isn
        case 2: self = .acceptQueue
        case 3: self = .delayedAck
        default: return nil
        }
    }

    /// "ISN generator", "accept-queue policy", "delayed-ACK policy".
    public var title: String {
        switch self {
        case .isn: "ISN generator"
        case .acceptQueue: "accept-queue policy"
        case .delayedAck: "delayed-ACK policy"
        }
    }

    /// "an ISN generator", "an accept-queue policy", "a delayed-ACK policy".
    public var withArticle: String { self == .delayedAck ? "a \(title)" : "an \(title)" }

    /// "ISN generators", "Accept-queue policies", "Delayed-ACK policies".
    public var heading: String {
        switch self {
        case .isn: "ISN generators"
        case .acceptQueue: "Accept-queue policies"
        case .delayedAck: "Delayed-ACK policies"
        }
    }

    public var description: String { rawValue }
}

/// A parameter's type, and how a topology writes it.
public enum ParameterType: UInt32, Hashable, Sendable, CustomStringConvertible {
    /// `64000`, `-5`.
    case int = 1
    /// `true`, `false` (also yes/no, on/off, 1/0).
    case bool = 2
    /// Any text.
    case string = 3
    /// `40ms`, `250us`, `1s`, `1500ns`, `1.5s`.
    case duration = 4
    /// `198.18.5.0/24`; a bare address is a /32.
    case ipv4Prefix = 5

    public var description: String {
        switch self {
        case .int: "integer"
        case .bool: "boolean"
        case .string: "string"
        case .duration: "duration"
        case .ipv4Prefix: "IPv4 prefix"
        }
    }
}

/// A parsed parameter value.
public enum ParameterValue: Hashable, Sendable, CustomStringConvertible {
    case int(Int64)
    case bool(Bool)
    case string(String)
    case duration(Interval)
    case ipv4Prefix(IPv4Address, prefixLength: Int)

    public var description: String {
        switch self {
        case let .int(v): "\(v)"
        case let .bool(v): "\(v)"
        case let .string(v): v
        case let .duration(v): "\(v)"
        case let .ipv4Prefix(a, n): "\(a)/\(n)"
        }
    }
}

/// A parameter a policy declares: its name, type, default (nil: required), bounds and help.
public struct PolicyParameter: Hashable, Sendable {
    public var name: String
    public var type: ParameterType
    /// As a topology writes it; nil when the parameter is required.
    public var defaultValue: String?
    /// Bounds of an integer, or of a duration in nanoseconds.
    public var min: Int64
    public var max: Int64
    public var help: String

    public init(name: String, type: ParameterType, defaultValue: String? = nil, min: Int64 = .min, max: Int64 = .max,
                help: String = "") {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.min = min
        self.max = max
        self.help = help
    }

    public var isRequired: Bool { defaultValue == nil }

    /// `integer 1…4294967295`, `duration 0s…499ms`, `IPv4 prefix`.
    public var typeDescription: String {
        switch type {
        case .int where min != .min || max != .max:
            return "integer \(min == .min ? "" : "\(min)")…\(max == .max ? "" : "\(max)")"
        case .duration where min != 0 || max != .max:
            return "duration \(Interval(nanoseconds: min))…\(max == .max ? "" : "\(Interval(nanoseconds: max))")"
        default:
            return type.description
        }
    }

    /// Parses `text` as this parameter's type and checks its bounds.
    /// - Returns: the value, or a sentence saying what is wrong with it and how to write it.
    public func parse(_ text: String) -> Result<ParameterValue, ParameterProblem> {
        let t = text.trimmingWhitespace
        switch type {
        case .int:
            guard let v = Int64(t.replacing("_", with: "")) else {
                return .failure(ParameterProblem("'\(text)' is not an integer", fix: "write a whole number, e.g. \(name): \(defaultValue ?? "1")"))
            }
            guard v >= min, v <= max else {
                return .failure(ParameterProblem("\(v) is out of range \(typeDescription)",
                                                 fix: "choose a value between \(min) and \(max)"))
            }
            return .success(.int(v))
        case .bool:
            switch t.lowercased() {
            case "true", "yes", "on", "1": return .success(.bool(true))
            case "false", "no", "off", "0": return .success(.bool(false))
            default: return .failure(ParameterProblem("'\(text)' is not a boolean", fix: "write true or false"))
            }
        case .string:
            return .success(.string(text))
        case .duration:
            guard let ns = Self.parseDuration(t) else {
                let hint = Int64(t) != nil ? "a duration needs a unit: write \(t)ms (or ns, us, s)" : "write a number and a unit, e.g. 40ms, 250us, 1s"
                return .failure(ParameterProblem("'\(text)' is not a duration", fix: hint))
            }
            guard ns >= min, ns <= max else {
                return .failure(ParameterProblem("\(Interval(nanoseconds: ns)) is out of range \(typeDescription)",
                                                 fix: "choose a duration between \(Interval(nanoseconds: min)) and \(Interval(nanoseconds: max))"))
            }
            return .success(.duration(Interval(nanoseconds: ns)))
        case .ipv4Prefix:
            let parts = t.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, let address = IPv4Address(parts[0]),
                  let length = parts.count == 2 ? Int(parts[1]) : 32, (0...32).contains(length)
            else {
                return .failure(ParameterProblem("'\(text)' is not an IPv4 prefix", fix: "write an address and a length, e.g. 198.18.5.0/24"))
            }
            let mask: UInt32 = length == 0 ? 0 : .max << UInt32(32 - length)
            return .success(.ipv4Prefix(IPv4Address(rawValue: address.rawValue & mask), prefixLength: length))
        }
    }

    /// `40ms` → 40_000_000. Units: ns, us (µs), ms, s. A fraction is allowed (`1.5s`).
    static func parseDuration(_ text: String) -> Int64? {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            let number = text.dropLast(unit.count).trimmingWhitespace
            if let whole = Int64(number) {
                let (product, overflow) = whole.multipliedReportingOverflow(by: Int64(scale))
                return overflow ? nil : product
            }
            guard let v = Double(number), v.isFinite, abs(v * scale) < 9e18 else { return nil }
            return Int64((v * scale).rounded())
        }
        return nil
    }
}

/// What is wrong with a parameter value, and how to write it.
public struct ParameterProblem: Error, Hashable, Sendable {
    public var message: String
    public var fix: String
    public init(_ message: String, fix: String) {
        self.message = message
        self.fix = fix
    }
}

/// What the instantiating side knows that a built-in policy needs.
public struct PolicyContext: Hashable, Sendable {
    /// The host's seed: the built-in `linux` ISN derives its secret from it exactly as `Host(seed:)`
    /// does when given no ISN generator, so naming `linux` is the same as naming nothing.
    public var seed: UInt64
    /// `tcp_timestamps` of the host (1: per-connection TS offsets, 2: none).
    public var timestampsMode: Int

    public init(seed: UInt64 = 1, timestampsMode: Int = 1) {
        self.seed = seed
        self.timestampsMode = timestampsMode
    }

    /// Linux's ISN generator with the key `Host(seed:)` would pick.
    public func linuxISN() -> LinuxISN {
        var rng = SplitMix64(seed: seed)
        return LinuxISN(key: SipHashKey(k0: rng.next(), k1: rng.next()), timestampsMode: timestampsMode)
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}

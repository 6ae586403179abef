import CTCPLabPlugin

/// A parameter a plugin accepts from the topology (`isn: { plugin: counter, increment: 64000 }`).
/// TCPLab parses, type-checks and range-checks every value before your `init(parameters:)` runs, and
/// `tcplab plugins` shows the name, type, default and help.
public struct Parameter: Sendable {
    public enum Kind: UInt32, Sendable {
        case int = 1, bool = 2, string = 3, duration = 4, ipv4Prefix = 5
    }

    public var name: String
    public var kind: Kind
    /// As a topology writes it (`64000`, `40ms`, `true`, `198.18.5.0/24`); nil: the parameter is required.
    public var defaultValue: String?
    /// Bounds of an `.int` (the value) or a `.duration` (in nanoseconds).
    public var min: Int64
    public var max: Int64
    public var help: String

    public init(name: String, kind: Kind, defaultValue: String?, min: Int64 = .min, max: Int64 = .max, help: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.min = min
        self.max = max
        self.help = help
    }

    /// An integer parameter in `range`; `default: nil` makes it required.
    public static func int(_ name: String, default value: Int64?, range: ClosedRange<Int64> = Int64.min...Int64.max,
                           help: String) -> Parameter {
        Parameter(name: name, kind: .int, defaultValue: value.map { "\($0)" }, min: range.lowerBound, max: range.upperBound,
                  help: help)
    }

    /// A duration (`40ms`, `250us`, `1s`) in `range`.
    public static func duration(_ name: String, default value: Interval?,
                                range: ClosedRange<Interval> = Interval(nanoseconds: 0)...Interval(nanoseconds: .max),
                                help: String) -> Parameter {
        Parameter(name: name, kind: .duration, defaultValue: value.map { "\($0)" }, min: range.lowerBound.nanoseconds,
                  max: range.upperBound.nanoseconds, help: help)
    }

    public static func bool(_ name: String, default value: Bool?, help: String) -> Parameter {
        Parameter(name: name, kind: .bool, defaultValue: value.map { $0 ? "true" : "false" }, help: help)
    }

    public static func string(_ name: String, default value: String?, help: String) -> Parameter {
        Parameter(name: name, kind: .string, defaultValue: value, help: help)
    }

    /// An IPv4 prefix (`198.18.5.0/24`; a bare address means /32).
    public static func ipv4Prefix(_ name: String, default value: String?, help: String) -> Parameter {
        Parameter(name: name, kind: .ipv4Prefix, defaultValue: value, help: help)
    }
}

/// Thrown from `init(parameters:)` to refuse a configuration; TCPLab shows the message with the
/// plugin's name. Say what is wrong and how to fix it.
public struct PluginSetupError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The parsed parameters of one instance, and Linux's own policies to delegate to.
public struct Parameters {
    /// Linux's implementation of every call, for plugins that change one decision and keep the rest.
    public let linux: Linux
    private let values: [String: (kind: Parameter.Kind, integer: Int64, prefixLength: Int, text: String)]

    init(linux: Linux, values: UnsafePointer<tcplab_param_value>?, count: Int) {
        self.linux = linux
        var dict: [String: (kind: Parameter.Kind, integer: Int64, prefixLength: Int, text: String)] = [:]
        for i in 0..<count {
            guard let v = values?[i], let name = v.name else { continue }
            dict[String(cString: name)] = (Parameter.Kind(rawValue: v.type) ?? .string, v.integer, Int(v.prefix_length),
                                           v.text.map { String(cString: $0) } ?? "")
        }
        self.values = dict
    }

    private func value(_ name: String, _ kind: Parameter.Kind) throws(PluginSetupError) -> (Int64, Int, String) {
        guard let v = values[name] else {
            throw PluginSetupError("the plugin reads parameter '\(name)' but does not declare it in `parameters`: add it there")
        }
        guard v.kind == kind else {
            throw PluginSetupError("parameter '\(name)' is declared as \(v.kind) but read as \(kind): read it with the matching accessor")
        }
        return (v.integer, v.prefixLength, v.text)
    }

    public func int(_ name: String) throws(PluginSetupError) -> Int64 { try value(name, .int).0 }
    public func bool(_ name: String) throws(PluginSetupError) -> Bool { try value(name, .bool).0 != 0 }
    public func string(_ name: String) throws(PluginSetupError) -> String { try value(name, .string).2 }
    public func duration(_ name: String) throws(PluginSetupError) -> Interval { Interval(nanoseconds: try value(name, .duration).0) }
    public func ipv4Prefix(_ name: String) throws(PluginSetupError) -> IPv4Prefix {
        let (network, length, _) = try value(name, .ipv4Prefix)
        return IPv4Prefix(network: IPv4Address(rawValue: UInt32(truncatingIfNeeded: network)), length: length)
    }
}

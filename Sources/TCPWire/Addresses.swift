/// A 48-bit IEEE 802 MAC address, as carried in Ethernet and ARP headers.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    /// The six octets, most significant first, packed into the low 48 bits.
    public var rawValue: UInt64

    /// Creates an address from its 48-bit value (the upper 16 bits must be zero).
    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    /// Creates an address from six octets.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
        rawValue = UInt64(a) << 40 | UInt64(b) << 32 | UInt64(c) << 24 | UInt64(d) << 16 | UInt64(e) << 8 | UInt64(f)
    }

    /// Parses `02:00:00:00:00:01` (colon-separated hex); nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var value: UInt64 = 0
        for part in parts {
            guard part.count == 2, part.allSatisfy(\.isASCIIHexDigit), let byte = UInt8(part, radix: 16) else { return nil }
            value = value << 8 | UInt64(byte)
        }
        rawValue = value
    }

    /// ff:ff:ff:ff:ff:ff, where ARP requests go.
    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
    /// 00:00:00:00:00:00, the unknown target of an ARP request.
    public static let zero = MACAddress(rawValue: 0)

    /// The octet at `index` (0 is the first on the wire).
    public subscript(index: Int) -> UInt8 { UInt8(truncatingIfNeeded: rawValue >> (8 * (5 - UInt64(index)))) }

    public var isBroadcast: Bool { self == .broadcast }
    /// The I/G bit: group (multicast or broadcast) addresses.
    public var isMulticast: Bool { self[0] & 1 == 1 }

    public var description: String {
        (0..<6).map { hex2(self[$0]) }.joined(separator: ":")
    }
}

/// An IPv4 address.
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    /// The address in host order (198.18.0.1 is 0xC612_0001).
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text; nil when malformed.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCIIDigit), let byte = UInt8(part) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        rawValue = value
    }

    public static let any = IPv4Address(rawValue: 0)
    public static let limitedBroadcast = IPv4Address(rawValue: 0xFFFF_FFFF)

    /// Class D, 224.0.0.0/4.
    public var isMulticast: Bool { rawValue >> 28 == 0xE }

    public var description: String {
        "\(rawValue >> 24).\(rawValue >> 16 & 0xFF).\(rawValue >> 8 & 0xFF).\(rawValue & 0xFF)"
    }
}

/// An IPv4 address with a prefix length, such as 198.18.0.1/24.
public struct IPv4Interface: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var prefixLength: Int

    public init(address: IPv4Address, prefixLength: Int) {
        precondition((0...32).contains(prefixLength), "prefix length \(prefixLength) outside 0...32")
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `198.18.0.1/24`; nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]), (1...2).contains(parts[1].count),
              parts[1].allSatisfy(\.isASCIIDigit), let length = Int(parts[1]), (0...32).contains(length)
        else { return nil }
        self.init(address: address, prefixLength: length)
    }

    @inlinable public var netmask: UInt32 { prefixLength == 0 ? 0 : ~UInt32(0) << (32 - UInt32(prefixLength)) }
    public var network: IPv4Address { IPv4Address(rawValue: address.rawValue & netmask) }
    public var broadcast: IPv4Address { IPv4Address(rawValue: address.rawValue | ~netmask) }

    /// Whether `other` is on this interface's subnet (reachable without a router).
    @inlinable public func contains(_ other: IPv4Address) -> Bool { other.rawValue & netmask == address.rawValue & netmask }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// An IPv4 address and a TCP port, printed `198.18.0.1:80`.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16

    public init(_ address: IPv4Address, _ port: UInt16) {
        self.address = address
        self.port = port
    }

    public var description: String { "\(address):\(port)" }
}

extension Character {
    // The integer initializers also accept a leading sign ("+1"), which no address notation allows.
    fileprivate var isASCIIDigit: Bool { isASCII && isWholeNumber }
    fileprivate var isASCIIHexDigit: Bool { isASCII && isHexDigit }
}

@inline(__always)
func hex2(_ byte: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

/// Lowercase hex of `bytes`, no separators.
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map(hex2).joined()
}

/// Bytes from hex text; whitespace is ignored. Nil on an odd count or a non-hex character.
public func bytes(fromHex text: String) -> [UInt8]? {
    let digits = text.unicodeScalars.filter { !$0.properties.isWhitespace }
    guard digits.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var high: UInt8?
    for scalar in digits {
        guard let v = UInt8(String(scalar), radix: 16) else { return nil }
        if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
    }
    return out
}

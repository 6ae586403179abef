/// One block of a SACK option (RFC 2018): the edges of a range of received data.
public struct SACKBlock: Hashable, Sendable {
    public var left: SequenceNumber
    public var right: SequenceNumber
    public init(left: SequenceNumber, right: SequenceNumber) {
        self.left = left
        self.right = right
    }
}

/// A TCP option. Every option TCPLab interprets has a case; anything else, including a known kind with a
/// size the kernel would not interpret (an MSS option of 3 bytes, a SACK of 9), is kept byte for byte
/// as `.unknown`, so parsing and serializing are exact inverses.
public enum TCPOption: Hashable, Sendable {
    /// Kind 0. It ends the list; the bytes after it (normally zero padding) are kept as they were.
    case endOfList(trailing: [UInt8])
    /// Kind 1, used to align the next option.
    case noOperation
    /// Kind 2, length 4 (RFC 9293 §3.7.1).
    case maxSegmentSize(UInt16)
    /// Kind 3, length 3 (RFC 7323 §2). Values above 14 are kept as sent; the engine clamps them as Linux does.
    case windowScale(UInt8)
    /// Kind 4, length 2 (RFC 2018).
    case sackPermitted
    /// Kind 5, length 2 + 8n (RFC 2018).
    case sack([SACKBlock])
    /// Kind 8, length 10 (RFC 7323 §3).
    case timestamps(value: UInt32, echoReply: UInt32)
    /// Kind 34 (RFC 7413): an empty cookie is a cookie request.
    case fastOpen(cookie: [UInt8])
    /// Kind 254 with the experiment id 0xF989 (RFC 6994), Fast Open's form before kind 34.
    case fastOpenExperimental(cookie: [UInt8])
    /// Any other option: its kind and the bytes after the length byte.
    case unknown(kind: UInt8, data: [UInt8])

    /// EOL with no trailing bytes.
    public static let endOfList = TCPOption.endOfList(trailing: [])

    /// The option kind byte.
    public var kind: UInt8 {
        switch self {
        case .endOfList: 0
        case .noOperation: 1
        case .maxSegmentSize: 2
        case .windowScale: 3
        case .sackPermitted: 4
        case .sack: 5
        case .timestamps: 8
        case .fastOpen: 34
        case .fastOpenExperimental: 254
        case let .unknown(kind, _): kind
        }
    }

    /// Bytes this option takes in the header (for EOL, with its trailing bytes).
    public var encodedLength: Int {
        switch self {
        case let .endOfList(trailing): 1 + trailing.count
        case .noOperation: 1
        case .maxSegmentSize: 4
        case .windowScale: 3
        case .sackPermitted: 2
        case let .sack(blocks): 2 + 8 * blocks.count
        case .timestamps: 10
        case let .fastOpen(cookie): 2 + cookie.count
        case let .fastOpenExperimental(cookie): 4 + cookie.count
        case let .unknown(_, data): 2 + data.count
        }
    }

    /// Appends the option's bytes.
    public func write(into out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: encodedLength))
        out.withUnsafeMutableBytes { store(into: $0, at: start) }
    }

    /// Stores the option's bytes at `offset` (the caller has checked they fit).
    func store(into out: UnsafeMutableRawBufferPointer, at offset: Int) {
        var i = offset
        func put(_ b: UInt8) { out[i] = b; i += 1 }
        func put16(_ v: UInt16) { put(UInt8(truncatingIfNeeded: v >> 8)); put(UInt8(truncatingIfNeeded: v)) }
        func put32(_ v: UInt32) { put16(UInt16(truncatingIfNeeded: v >> 16)); put16(UInt16(truncatingIfNeeded: v)) }
        switch self {
        case let .endOfList(trailing):
            put(0)
            for b in trailing { put(b) }
        case .noOperation:
            put(1)
        case let .maxSegmentSize(mss):
            put(2); put(4); put16(mss)
        case let .windowScale(shift):
            put(3); put(3); put(shift)
        case .sackPermitted:
            put(4); put(2)
        case let .sack(blocks):
            put(5); put(UInt8(truncatingIfNeeded: 2 + 8 * blocks.count))
            for b in blocks { put32(b.left.rawValue); put32(b.right.rawValue) }
        case let .timestamps(value, echo):
            put(8); put(10); put32(value); put32(echo)
        case let .fastOpen(cookie):
            put(34); put(UInt8(truncatingIfNeeded: 2 + cookie.count))
            for b in cookie { put(b) }
        case let .fastOpenExperimental(cookie):
            put(254); put(UInt8(truncatingIfNeeded: 4 + cookie.count)); put16(0xF989)
            for b in cookie { put(b) }
        case let .unknown(kind, data):
            put(kind); put(UInt8(truncatingIfNeeded: 2 + data.count))
            for b in data { put(b) }
        }
    }

    /// Parses the options area of a TCP header (the bytes between byte 20 and the data offset).
    /// - Throws: `WireError.badOptionLength` for a length byte of 0 or 1, or one running past the area,
    ///   and `.truncated` for a kind byte with no length byte after it.
    public static func parseList(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> [TCPOption] {
        // Any length (a caller may hand a whole area it has not bounded), unlike `TCPOptionList`'s 40.
        try TCPOptionList.validate(bytes)
        var options: [TCPOption] = []
        var offset = 0
        while let (option, next) = TCPOptionList.decode(bytes, from: offset) {
            options.append(option)
            offset = next
        }
        return options
    }

    static func interpret(kind: UInt8, body: UnsafeRawBufferPointer) -> TCPOption {
        switch (kind, body.count) {
        case (2, 2): return .maxSegmentSize(body.u16(0))
        case (3, 1): return .windowScale(body.u8(0))
        case (4, 0): return .sackPermitted
        case (5, let n) where n > 0 && n % 8 == 0:
            return .sack(stride(from: 0, to: n, by: 8).map {
                SACKBlock(left: SequenceNumber(body.u32($0)), right: SequenceNumber(body.u32($0 + 4)))
            })
        case (8, 8): return .timestamps(value: body.u32(0), echoReply: body.u32(4))
        case (34, _): return .fastOpen(cookie: Array(body))
        case (254, let n) where n >= 2 && body.u16(0) == 0xF989:
            return .fastOpenExperimental(cookie: body.bytes(2..<n))
        default: return .unknown(kind: kind, data: Array(body))
        }
    }
}

extension Array where Element == TCPOption {
    /// The options' total size in bytes, before padding.
    public var encodedLength: Int { reduce(0) { $0 + $1.encodedLength } }
}

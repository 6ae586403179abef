/// The options area of a TCP header kept as its bytes, inline: at most 40 of them (RFC 9293 §3.1: the
/// data offset counts 4-byte words up to 15), so a header carries its options without an allocation and
/// a segment is copied without reference counting. `TCPOption` is the typed view: iterating the list
/// decodes one option at a time, and the accessors (`timestamps`, `maxSegmentSize`, …) read the bytes
/// in place, the way `tcp_parse_options` walks `th + 1`.
///
/// The bytes are exactly those on the wire (a parsed EOL keeps its trailing bytes), so parsing and
/// serializing stay exact inverses; padding to a 4-byte boundary is added only when written.
public struct TCPOptionList: Sendable {
    /// Bytes an options area can hold.
    public static let capacity = 40

    /// Forty bytes; those past `count` are always zero, so equality and hashing can read whole words.
    @usableFromInline var words: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
    @usableFromInline var count8: UInt8 = 0

    /// An empty list.
    public init() {}

    /// The options in order.
    public init(_ options: some Sequence<TCPOption>) {
        for option in options { append(option) }
    }

    /// Bytes the options take before padding.
    public var encodedLength: Int { Int(count8) }
    /// True when the header has no options at all.
    public var isEmpty: Bool { count8 == 0 }

    /// Appends an option's bytes. A list past 40 bytes cannot be written in a header: that is a
    /// programming error, reported with what was asked.
    public mutating func append(_ option: TCPOption) {
        let start = Int(count8)
        let length = option.encodedLength
        precondition(start + length <= Self.capacity,
                     "TCP options would take \(start + length) bytes; at most \(Self.capacity) fit in a header")
        withUnsafeMutableBytes(of: &words) { option.store(into: $0, at: start) }
        count8 = UInt8(start + length)
    }

    /// Appends one option's bytes, given whole (the typed appenders below, the ones a SYN needs: the
    /// same bytes `append(TCPOption)` writes, without building the enum and going through its switch).
    @inlinable @inline(__always) mutating func appendRaw(_ length: Int, _ body: (UnsafeMutableRawBufferPointer, Int) -> Void) {
        let start = Int(count8)
        precondition(start + length <= Self.capacity,
                     "TCP options would take \(start + length) bytes; at most \(Self.capacity) fit in a header")
        Swift.withUnsafeMutableBytes(of: &words) { body($0, start) }
        count8 = UInt8(start + length)
    }

    /// Appends NOP (kind 1).
    @inlinable public mutating func appendNoOperation() {
        appendRaw(1) { out, i in out[i] = 1 }
    }

    /// Appends MSS (kind 2, length 4).
    @inlinable public mutating func appendMaxSegmentSize(_ mss: UInt16) {
        appendRaw(4) { out, i in
            out[i] = 2
            out[i + 1] = 4
            out[i + 2] = UInt8(truncatingIfNeeded: mss >> 8)
            out[i + 3] = UInt8(truncatingIfNeeded: mss)
        }
    }

    /// Appends window scale (kind 3, length 3).
    @inlinable public mutating func appendWindowScale(_ shift: UInt8) {
        appendRaw(3) { out, i in
            out[i] = 3
            out[i + 1] = 3
            out[i + 2] = shift
        }
    }

    /// Appends SACK-permitted (kind 4, length 2).
    @inlinable public mutating func appendSackPermitted() {
        appendRaw(2) { out, i in
            out[i] = 4
            out[i + 1] = 2
        }
    }

    /// Appends timestamps (kind 8, length 10), unaligned (a SYN's, after SACK-permitted).
    @inlinable public mutating func appendTimestamps(value: UInt32, echoReply: UInt32) {
        appendRaw(10) { out, i in
            out[i] = 8
            out[i + 1] = 10
            out.storeBytes(of: value.bigEndian, toByteOffset: i + 2, as: UInt32.self)
            out.storeBytes(of: echoReply.bigEndian, toByteOffset: i + 6, as: UInt32.self)
        }
    }

    /// Appends NOP, NOP, TS: `tcp_options_write`'s aligned timestamps, the options of nearly every
    /// segment after the handshake, written without going through `TCPOption`.
    @inlinable public mutating func appendAlignedTimestamps(value: UInt32, echoReply: UInt32) {
        let start = Int(count8)
        if start == 0 {
            // The usual case, an empty list: its first two words (as little-endian values, byte i of a
            // word sits at bits 8i; the bytes past 12 stay zero).
            words.0 = (0x0A08_0101 as UInt64 | UInt64(value.byteSwapped) << 32).littleEndian
            words.1 = UInt64(echoReply.byteSwapped).littleEndian
            count8 = 12
            return
        }
        appendAlignedTimestamps(value: value, echoReply: echoReply, at: start)
    }

    /// NOP, NOP, TS after the options already there (`start` bytes).
    @usableFromInline mutating func appendAlignedTimestamps(value: UInt32, echoReply: UInt32, at start: Int) {
        precondition(start + 12 <= Self.capacity, "TCP options would take \(start + 12) bytes; at most \(Self.capacity) fit in a header")
        Swift.withUnsafeMutableBytes(of: &words) { out in
            out[start] = 1
            out[start + 1] = 1
            out[start + 2] = 8
            out[start + 3] = 10
            out.storeBytes(of: value.bigEndian, toByteOffset: start + 4, as: UInt32.self)
            out.storeBytes(of: echoReply.bigEndian, toByteOffset: start + 8, as: UInt32.self)
        }
        count8 = UInt8(start + 12)
    }

    /// The raw bytes, valid during `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<Int(count8)])) }
    }

    /// The bytes as an array (for tools and tests; the engine reads them in place).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Parses and validates an options area (at most 40 bytes: the caller bounds it by the data offset).
    /// - Throws: `WireError.badOptionLength` for a length byte of 0 or 1, or one running past the area,
    ///   and `.truncated` for a kind byte with no length byte after it.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> TCPOptionList {
        precondition(bytes.count <= capacity, "a TCP options area is at most \(capacity) bytes")
        try validate(bytes)
        var list = TCPOptionList()
        Swift.withUnsafeMutableBytes(of: &list.words) { $0.copyMemory(from: bytes) }
        list.count8 = UInt8(bytes.count)
        return list
    }

    /// Checks that every option's length byte is sound (`tcp_parse_options` stops at a bad one; a
    /// parser that must serialize the header back exactly rejects it instead).
    static func validate(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        var i = 0
        while i < bytes.count {
            let kind = bytes.u8(i)
            if kind == 0 { return }  // EOL: the rest is its trailing bytes
            if kind == 1 { i += 1; continue }
            guard i + 1 < bytes.count else {
                throw .truncated(layer: .tcpOptions, needed: i + 2, available: bytes.count)
            }
            let length = Int(bytes.u8(i + 1))
            guard length >= 2, i + length <= bytes.count else {
                throw .badOptionLength(kind: kind, length: length, offset: i)
            }
            i += length
        }
    }

    /// Decodes validated option bytes.
    static func decode(_ bytes: UnsafeRawBufferPointer, from start: Int = 0) -> (option: TCPOption, next: Int)? {
        guard start < bytes.count else { return nil }
        let kind = bytes[start]
        if kind == 0 { return (.endOfList(trailing: bytes.bytes(start + 1..<bytes.count)), bytes.count) }
        if kind == 1 { return (.noOperation, start + 1) }
        let length = Int(bytes[start + 1])
        let body = UnsafeRawBufferPointer(rebasing: bytes[(start + 2)..<(start + length)])
        return (TCPOption.interpret(kind: kind, body: body), start + length)
    }

    /// The first timestamps option (`tcp_parse_options`' TCPOPT_TIMESTAMP with TCPOLEN_TIMESTAMP).
    @inlinable public var timestamps: (value: UInt32, echoReply: UInt32)? {
        // tcp_fast_parse_options' fast path: NOP NOP TS first, as every Linux segment after the
        // handshake has it, is read without walking, from the words themselves (no copy of the list to
        // take its bytes' address): as little-endian values, byte i of a word sits at bits 8i.
        if count8 >= 12 {
            let w0 = words.0.littleEndian
            if UInt32(truncatingIfNeeded: w0) == 0x0A08_0101 {
                return (UInt32(truncatingIfNeeded: w0 >> 32).byteSwapped, UInt32(truncatingIfNeeded: words.1.littleEndian).byteSwapped)
            }
        }
        return negotiated.timestamps
    }

    /// The first MSS option's value.
    public var maxSegmentSize: UInt16? { negotiated.maxSegmentSize }
    /// The first window-scale option's shift.
    public var windowScale: UInt8? { negotiated.windowScale }
    /// True when a SACK-permitted option is present.
    public var sackPermitted: Bool { negotiated.sackPermitted }

    /// The options a SYN negotiates, read in one walk (`tcp_parse_options` filling
    /// `tcp_options_received`): the first of each, at its RFC size only.
    public var negotiated: NegotiatedOptions {
        var found = NegotiatedOptions()
        let n = Int(count8)
        if n == 20, let linux = linuxSynLayout { return linux }
        // Valid lists only: every list is built by `append` or checked by `parse`, so a length byte
        // follows every kind but EOL and NOP and no option runs past `n`. Read in place from the words
        // (no slice per option).
        Swift.withUnsafeBytes(of: words) { bytes in
            var i = 0
            while i < n {
                let kind = bytes[i]
                if kind == 0 { return }  // EOL
                if kind == 1 { i += 1; continue }
                let length = Int(bytes[i + 1])
                switch (kind, length) {
                case (2, 4):
                    if found.maxSegmentSize == nil { found.maxSegmentSize = UInt16(bytes[i + 2]) << 8 | UInt16(bytes[i + 3]) }
                case (3, 3): if found.windowScale == nil { found.windowScale = bytes[i + 2] }
                case (4, 2): found.sackPermitted = true
                case (8, 10):
                    if found.timestamps == nil {
                        found.timestamps = (UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: i + 2, as: UInt32.self)),
                                            UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: i + 6, as: UInt32.self)))
                    }
                default: break
                }
                i += length
            }
        }
        return found
    }

    /// Linux's SYN and SYN-ACK options (`tcp_options_write`: MSS, SACK_PERM, TS, NOP, WS, 20 bytes),
    /// read at their fixed offsets once the kind and length bytes match; nil for any other layout.
    private var linuxSynLayout: NegotiatedOptions? {
        // Little-endian words: bytes 0-7 are 02 04 m m 04 02 08 0A, bytes 16-19 are 01 03 03 ws.
        guard words.0.littleEndian & 0xFFFF_FFFF_0000_FFFF == 0x0A08_0204_0000_0402,
              words.2.littleEndian & 0x00FF_FFFF == 0x0003_0301
        else { return nil }
        var o = NegotiatedOptions()
        Swift.withUnsafeBytes(of: words) { b in
            o.maxSegmentSize = UInt16(b[2]) << 8 | UInt16(b[3])
            o.timestamps = (UInt32(bigEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
                            UInt32(bigEndian: b.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
            o.windowScale = b[19]
        }
        o.sackPermitted = true
        return o
    }

    /// The SACK blocks of the first SACK option.
    public var sackBlocks: [SACKBlock]? {
        for case let .sack(blocks) in self { return blocks }
        return nil
    }
}

extension TCPOptionList: Sequence {
    /// Decodes the options one at a time.
    public struct Iterator: IteratorProtocol {
        let list: TCPOptionList
        var offset = 0

        public mutating func next() -> TCPOption? {
            guard let (option, next) = list.withUnsafeBytes({ TCPOptionList.decode($0, from: offset) }) else { return nil }
            offset = next
            return option
        }
    }

    public func makeIterator() -> Iterator { Iterator(list: self) }

    /// How many options (a walk over the bytes).
    public var count: Int { reduce(0) { n, _ in n + 1 } }

    /// The `i`th option (a walk over the bytes; for tests and tools).
    public subscript(i: Int) -> TCPOption {
        var it = makeIterator()
        for _ in 0..<i { _ = it.next() }
        guard let option = it.next() else { preconditionFailure("option \(i) of \(count)") }
        return option
    }
}

extension TCPOptionList: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: TCPOption...) { self.init(elements) }
}

extension TCPOptionList: Hashable {
    public static func == (a: TCPOptionList, b: TCPOptionList) -> Bool {
        a.count8 == b.count8 && a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2
            && a.words.3 == b.words.3 && a.words.4 == b.words.4
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count8)
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

extension TCPOptionList: CustomStringConvertible {
    public var description: String { "[" + map { "\($0)" }.joined(separator: ", ") + "]" }
}

/// What `TCPOptionList.negotiated` found.
public struct NegotiatedOptions: Sendable {
    public var maxSegmentSize: UInt16?
    public var windowScale: UInt8?
    public var sackPermitted = false
    public var timestamps: (value: UInt32, echoReply: UInt32)?
    public init() {}
}

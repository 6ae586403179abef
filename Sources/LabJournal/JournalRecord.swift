import Foundation

/// One journal entry being written: `NAME=value` fields in order, back to back in one buffer so that
/// the writer hands them to `sd_journal_sendv` as an iovec array without copying. A name may repeat
/// (journald keeps every value; `TCPLAB_PLUGIN` does).
public struct JournalRecord: Sendable, Equatable {
    /// `NAME=value` pieces, back to back.
    public private(set) var bytes: [UInt8] = []
    /// End offset of each piece in `bytes`.
    public private(set) var ends: [Int] = []

    public init() {}

    /// A record of these fields, in this order.
    public init(_ fields: [(String, String)]) {
        for (n, v) in fields { append(n, v) }
    }

    /// Number of fields.
    public var count: Int { ends.count }

    /// Adds `name=value`. `name` must be a valid journal field name (the writer does not check:
    /// journald drops a field with an invalid name, and `JournalLogHandler.fieldName` makes one).
    public mutating func append(_ name: String, _ value: String) {
        if bytes.isEmpty { bytes.reserveCapacity(640); ends.reserveCapacity(24) }
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: "="))
        bytes.append(contentsOf: value.utf8)
        ends.append(bytes.count)
    }

    /// Adds `name=value` for an integer, in decimal.
    public mutating func append<I: BinaryInteger>(_ name: String, _ value: I) {
        if bytes.isEmpty { bytes.reserveCapacity(640); ends.reserveCapacity(24) }
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: "="))
        bytes.append(contentsOf: String(value).utf8)  // small strings (up to 15 digits) do not allocate
        ends.append(bytes.count)
    }

    /// The fields in order (names may repeat).
    public var fields: [(name: String, value: String)] {
        var out: [(String, String)] = []
        out.reserveCapacity(ends.count)
        var start = 0
        for end in ends {
            let piece = bytes[start..<end]
            let eq = piece.firstIndex(of: UInt8(ascii: "=")) ?? end
            out.append((String(decoding: bytes[start..<eq], as: UTF8.self),
                        String(decoding: bytes[min(eq + 1, end)..<end], as: UTF8.self)))
            start = end
        }
        return out
    }

    /// The first value of `name`.
    public subscript(name: String) -> String? { fields.first { $0.name == name }?.value }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }

    /// The fields of `other` after these.
    public mutating func append(contentsOf other: JournalRecord) {
        let base = bytes.count
        bytes.append(contentsOf: other.bytes)
        ends.append(contentsOf: other.ends.map { $0 + base })
    }
}

// MARK: - The fallback file's line format

extension JournalRecord {
    /// Adds `name=` followed by raw bytes (UTF-8 text, as the other values).
    public mutating func append(_ name: String, utf8 value: [UInt8]) {
        if bytes.isEmpty { bytes.reserveCapacity(640); ends.reserveCapacity(24) }
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: "="))
        bytes.append(contentsOf: value)
        ends.append(bytes.count)
    }

    /// One JSON object per record, shaped like `journalctl -o json` prints an entry: every field a
    /// string, a repeated field an array of strings. `prefix` (the writer's common fields) comes first.
    func appendJSONLine(to out: inout [UInt8], prefix: JournalRecord) {
        // (buffer, start of name, the '=', end) of every piece, prefix first.
        var pieces: [(Int, Int, Int, Int)] = []
        pieces.reserveCapacity(prefix.count + count)
        for (b, r) in [prefix, self].enumerated() {
            var start = 0
            for end in r.ends {
                let eq = r.bytes[start..<end].firstIndex(of: UInt8(ascii: "=")) ?? end
                pieces.append((b, start, eq, end))
                start = end
            }
        }
        let buffers = [prefix.bytes, bytes]
        func sameName(_ x: (Int, Int, Int, Int), _ y: (Int, Int, Int, Int)) -> Bool {
            x.2 - x.1 == y.2 - y.1 && buffers[x.0][x.1..<x.2].elementsEqual(buffers[y.0][y.1..<y.2])
        }
        func value(_ p: (Int, Int, Int, Int)) {
            JSONText.appendBytes(buffers[p.0][min(p.2 + 1, p.3)..<p.3], to: &out)
        }
        out.append(UInt8(ascii: "{"))
        var done = [Bool](repeating: false, count: pieces.count)
        var first = true
        for i in pieces.indices where !done[i] {
            let p = pieces[i]
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONText.appendBytes(buffers[p.0][p.1..<p.2], to: &out)
            out.append(UInt8(ascii: ":"))
            let same = (i + 1..<pieces.count).filter { !done[$0] && sameName(pieces[$0], p) }
            if same.isEmpty {
                value(p)
            } else {
                out.append(UInt8(ascii: "["))
                value(p)
                for j in same {
                    out.append(UInt8(ascii: ","))
                    value(pieces[j])
                    done[j] = true
                }
                out.append(UInt8(ascii: "]"))
            }
        }
        out.append(contentsOf: "}\n".utf8)
    }
}

/// Minimal JSON string writing (RFC 8259 escapes), for the fallback file and event JSON.
enum JSONText {
    static func appendString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendBytes($0, to: &out) }
    }

    /// UTF-8 bytes as a JSON string.
    static func appendBytes<C: Collection>(_ bytes: C, to out: inout [UInt8]) where C.Element == UInt8 {
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(b)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
            case UInt8(ascii: "\n"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case UInt8(ascii: "\t"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}

import Foundation
import LabControl

extension LabEvent {
    /// The event as one JSON object, keys sorted, as `jsonLine()` writes it (and `JSONDecoder` reads it
    /// back into an equal event) but several times faster: `TCPLAB_EVENT_JSON` is written for every
    /// record, and JSONEncoder was most of the cost of formatting one.
    ///
    /// The encoder knows LabEvent's stored properties by name. If LabEvent gains or loses one, the
    /// check below fails and every event goes through `jsonLine()` instead: slower, never inexact.
    public var journalJSON: [UInt8] {
        guard Self.fieldsAsKnown else { return Array(jsonLine().utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(384)
        out.append(UInt8(ascii: "{"))
        var first = true
        func key(_ k: StaticString) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
            out.append(contentsOf: "\":".utf8)
        }
        func string(_ k: StaticString, _ v: String?) {
            guard let v else { return }
            key(k)
            JSONText.appendString(v, to: &out)
        }
        func number<I: BinaryInteger>(_ k: StaticString, _ v: I?) {
            guard let v else { return }
            key(k)
            out.append(contentsOf: String(v).utf8)
        }
        // Sorted keys, as JSONEncoder's .sortedKeys orders them.
        number("ack", ack)
        string("cause", cause)
        string("conn", conn)
        string("dir", dir)
        string("droppedBy", droppedBy)
        string("dst", dst)
        string("error", error)
        string("flags", flags)
        string("from", from)
        string("kind", kind)
        number("len", len)
        string("message", message)
        string("name", name)
        string("node", node)
        string("options", options)
        string("reason", reason)
        number("retransmission", retransmission)
        number("seq", seq)
        number("socket", socket)
        string("src", src)
        number("t", t)
        string("tcpdump", tcpdump)
        string("to", to)
        number("value", value)
        number("win", win)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// LabEvent's stored properties, in declaration order, as `journalJSON` writes them.
    static let knownFields = [
        "t", "node", "kind", "dir", "src", "dst", "flags", "seq", "ack", "win", "len", "options", "tcpdump",
        "retransmission", "droppedBy", "socket", "conn", "from", "to", "cause", "reason", "name", "value", "error", "message",
    ]

    /// Whether LabEvent still has exactly the properties `journalJSON` knows.
    public static let fieldsAsKnown: Bool = {
        Mirror(reflecting: LabEvent(t: 0, node: "", kind: "")).children.compactMap(\.label) == knownFields
    }()
}

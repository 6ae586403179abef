/// Writes the classic pcap format (not pcapng) with nanosecond timestamps (magic 0xa1b23c4d) and the
/// Ethernet link type, the layout tcpdump, tshark and Wireshark read natively.
///
/// The writer only produces bytes; where they go (a file, a pipe) is the caller's business, so this
/// type stays free of I/O.
public struct PcapWriter: Sendable {
    /// LINKTYPE_ETHERNET.
    public static let linkTypeEthernet: UInt32 = 1
    public static let magicNanoseconds: UInt32 = 0xA1B2_3C4D
    public static let magicMicroseconds: UInt32 = 0xA1B2_C3D4

    public let snapLength: UInt32

    public init(snapLength: UInt32 = 262_144) { self.snapLength = snapLength }

    /// The 24-byte file header.
    public func fileHeader() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        appendLE32(&out, Self.magicNanoseconds)
        appendLE16(&out, 2); appendLE16(&out, 4)  // version 2.4
        appendLE32(&out, 0)  // thiszone
        appendLE32(&out, 0)  // sigfigs
        appendLE32(&out, snapLength)
        appendLE32(&out, Self.linkTypeEthernet)
        return out
    }

    /// A record header followed by the frame (cut to the snap length).
    /// - Parameter nanoseconds: time since the Unix epoch (or since the start of a simulated run).
    public func record(nanoseconds: UInt64, frame: [UInt8]) -> [UInt8] {
        let captured = min(frame.count, Int(snapLength))
        var out: [UInt8] = []
        out.reserveCapacity(16 + captured)
        appendLE32(&out, UInt32(truncatingIfNeeded: nanoseconds / 1_000_000_000))
        appendLE32(&out, UInt32(nanoseconds % 1_000_000_000))
        appendLE32(&out, UInt32(captured))
        appendLE32(&out, UInt32(frame.count))
        out.append(contentsOf: frame[0..<captured])
        return out
    }
}

/// One frame read from a pcap file.
public struct PcapRecord: Hashable, Sendable {
    /// Time since the epoch, in nanoseconds.
    public var nanoseconds: UInt64
    public var frame: [UInt8]
    /// The frame's length on the wire (may exceed `frame.count` when the capture was cut).
    public var originalLength: Int
}

/// Reads classic pcap files (both byte orders, micro- and nanosecond magic, Ethernet link type).
public enum PcapReader {
    /// Parses a whole pcap file.
    /// - Throws: `WireError.truncated(layer: .pcap, …)` for a cut file, `.unsupportedProtocol(layer: .pcap, …)`
    ///   for an unknown magic or a link type other than Ethernet.
    public static func read(_ bytes: [UInt8]) throws(WireError) -> [PcapRecord] {
        guard bytes.count >= 24 else { throw .truncated(layer: .pcap, needed: 24, available: bytes.count) }
        let magicLE = readLE32(bytes, 0)
        let swapped: Bool
        let nanos: Bool
        switch magicLE {
        case PcapWriter.magicNanoseconds: (swapped, nanos) = (false, true)
        case PcapWriter.magicMicroseconds: (swapped, nanos) = (false, false)
        case PcapWriter.magicNanoseconds.byteSwapped: (swapped, nanos) = (true, true)
        case PcapWriter.magicMicroseconds.byteSwapped: (swapped, nanos) = (true, false)
        default: throw .unsupportedProtocol(layer: .pcap, value: UInt16(truncatingIfNeeded: magicLE))
        }
        func u32(_ i: Int) -> UInt32 { swapped ? readLE32(bytes, i).byteSwapped : readLE32(bytes, i) }
        let linkType = u32(20)
        guard linkType == PcapWriter.linkTypeEthernet else {
            throw .unsupportedProtocol(layer: .pcap, value: UInt16(truncatingIfNeeded: linkType))
        }
        var records: [PcapRecord] = []
        var i = 24
        while i < bytes.count {
            guard i + 16 <= bytes.count else { throw .truncated(layer: .pcap, needed: i + 16, available: bytes.count) }
            let seconds = UInt64(u32(i)), fraction = UInt64(u32(i + 4))
            let captured = Int(u32(i + 8)), original = Int(u32(i + 12))
            guard i + 16 + captured <= bytes.count else {
                throw .truncated(layer: .pcap, needed: i + 16 + captured, available: bytes.count)
            }
            records.append(PcapRecord(
                nanoseconds: seconds * 1_000_000_000 + (nanos ? fraction : fraction * 1000),
                frame: Array(bytes[i + 16..<i + 16 + captured]), originalLength: original))
            i += 16 + captured
        }
        return records
    }
}

private func appendLE16(_ out: inout [UInt8], _ v: UInt16) {
    out.append(UInt8(truncatingIfNeeded: v)); out.append(UInt8(truncatingIfNeeded: v >> 8))
}

private func appendLE32(_ out: inout [UInt8], _ v: UInt32) {
    for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
}

private func readLE32(_ b: [UInt8], _ i: Int) -> UInt32 {
    UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
}

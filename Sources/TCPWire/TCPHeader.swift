/// A TCP header (RFC 9293 §3.1) with its options.
public struct TCPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequenceNumber: SequenceNumber
    public var acknowledgmentNumber: SequenceNumber
    public var flags: TCPFlags
    /// The raw 16-bit window field (scaled by the receiver's shift, except in SYN segments: RFC 7323 §2.2).
    public var window: UInt16
    /// The checksum as found on parse; `write` computes a fresh one.
    public var checksum: UInt16
    public var urgentPointer: UInt16
    /// The options area, as its bytes (`TCPOptionList`); iterate it for `TCPOption`s.
    public var options: TCPOptionList

    public init(sourcePort: UInt16, destinationPort: UInt16, sequenceNumber: SequenceNumber,
                acknowledgmentNumber: SequenceNumber = SequenceNumber(0), flags: TCPFlags, window: UInt16,
                checksum: UInt16 = 0, urgentPointer: UInt16 = 0, options: TCPOptionList = []) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.flags = flags
        self.window = window
        self.checksum = checksum
        self.urgentPointer = urgentPointer
        self.options = options
    }

    /// Header length in bytes: 20 plus the options, padded with zero bytes to a multiple of 4.
    public var headerLength: Int { 20 + (options.encodedLength + 3) & ~3 }
    /// The data offset field (header length in 32-bit words).
    public var dataOffset: UInt8 { UInt8(headerLength / 4) }

    /// Parses a TCP header from the start of `segment` (header plus payload, as bounded by the IP total length).
    /// - Parameters:
    ///   - pseudoHeader: the IPv4 source and destination; when given, the checksum is verified over the
    ///     pseudo-header and the whole segment, and a mismatch is an error.
    /// - Returns: the header and the payload's range within `segment`.
    public static func parse(_ segment: UnsafeRawBufferPointer, pseudoHeader: (source: IPv4Address, destination: IPv4Address)? = nil)
        throws(WireError) -> (header: TCPHeader, payload: Range<Int>)
    {
        guard segment.count >= 20 else { throw .truncated(layer: .tcp, needed: 20, available: segment.count) }
        let offsetFlags = segment.u16(12)
        let dataOffset = UInt8(offsetFlags >> 12)
        let headerLength = Int(dataOffset) * 4
        guard dataOffset >= 5, headerLength <= segment.count else {
            throw .badDataOffset(dataOffset, segmentLength: segment.count)
        }
        let options = try TCPOptionList.parse(UnsafeRawBufferPointer(rebasing: segment[20..<headerLength]))
        let header = TCPHeader(
            sourcePort: segment.u16(0), destinationPort: segment.u16(2),
            sequenceNumber: SequenceNumber(segment.u32(4)), acknowledgmentNumber: SequenceNumber(segment.u32(8)),
            flags: TCPFlags(rawValue: offsetFlags & 0x0FFF), window: segment.u16(14), checksum: segment.u16(16),
            urgentPointer: segment.u16(18), options: options)
        if let (source, destination) = pseudoHeader,
           InternetChecksum.tcp(source: source, destination: destination, segment: segment) != 0
        {
            var copy = Array(segment)
            copy.storeU16(0, at: 16)
            let expected = copy.withUnsafeBytes { InternetChecksum.tcp(source: source, destination: destination, segment: $0) }
            throw .badChecksum(layer: .tcp, found: header.checksum, expected: expected)
        }
        return (header, headerLength..<segment.count)
    }

    /// Appends the header and `payload`, with the checksum computed over the IPv4 pseudo-header.
    public func write(into out: inout [UInt8], payload: some Collection<UInt8>, source: IPv4Address, destination: IPv4Address) {
        let start = out.count
        writeFields(into: &out, checksum: 0)
        out.append(contentsOf: payload)
        let sum = out.withUnsafeBytes {
            InternetChecksum.tcp(source: source, destination: destination, segment: UnsafeRawBufferPointer(rebasing: $0[start...]))
        }
        out.storeU16(sum, at: start + 16)
    }

    /// Appends the header with its stored `checksum` field untouched (for re-serializing a frame with a
    /// deliberately wrong or offloaded checksum).
    public func writeVerbatim(into out: inout [UInt8]) { writeFields(into: &out, checksum: checksum) }

    private func writeFields(into out: inout [UInt8], checksum: UInt16) {
        let optionLength = options.encodedLength
        let padded = (optionLength + 3) & ~3
        precondition(padded <= 40, "TCP options take \(optionLength) bytes; at most 40 fit in a header")
        out.appendU16(sourcePort)
        out.appendU16(destinationPort)
        out.appendU32(sequenceNumber.rawValue)
        out.appendU32(acknowledgmentNumber.rawValue)
        out.appendU16(UInt16(5 + padded / 4) << 12 | flags.rawValue)
        out.appendU16(window)
        out.appendU16(checksum)
        out.appendU16(urgentPointer)
        options.withUnsafeBytes { out.append(contentsOf: $0) }
        // RFC 9293 §3.1: the header is padded with zeros to a 32-bit boundary.
        for _ in optionLength..<padded { out.append(0) }
    }

    /// Sequence space the segment occupies: payload plus one for SYN and one for FIN (RFC 9293 §3.4).
    public func sequenceLength(payloadLength: Int) -> UInt32 {
        UInt32(payloadLength) + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0)
    }
}

/// The control bits of a TCP header: the eight classic flags plus, for exactness, the AE/NS bit and the
/// three reserved bits (the low 12 bits of header bytes 12–13).
public struct TCPFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }

    public static let fin = TCPFlags(rawValue: 0x001)
    public static let syn = TCPFlags(rawValue: 0x002)
    public static let rst = TCPFlags(rawValue: 0x004)
    public static let psh = TCPFlags(rawValue: 0x008)
    public static let ack = TCPFlags(rawValue: 0x010)
    public static let urg = TCPFlags(rawValue: 0x020)
    public static let ece = TCPFlags(rawValue: 0x040)
    public static let cwr = TCPFlags(rawValue: 0x080)
    /// AccECN's AE bit (RFC 9768; formerly the ECN nonce "NS", RFC 3540).
    public static let ae = TCPFlags(rawValue: 0x100)

    public static let synAck: TCPFlags = [.syn, .ack]
    public static let finAck: TCPFlags = [.fin, .ack]
    public static let rstAck: TCPFlags = [.rst, .ack]
    public static let pshAck: TCPFlags = [.psh, .ack]

    /// The flags as tcpdump prints them between brackets: `S`, `S.`, `.`, `P.`, `F.`, `R`, `R.`, `SEW`;
    /// `none` when no flag is set. Order and letters follow tcpdump 4.99's `tcp_flag_values` table, which
    /// reads only header byte 13: AE and the reserved bits are not shown.
    public var tcpdumpString: String {
        let table: [(TCPFlags, Character)] = [
            (.fin, "F"), (.syn, "S"), (.rst, "R"), (.psh, "P"), (.ack, "."), (.urg, "U"), (.ece, "E"), (.cwr, "W"),
        ]
        var s = ""
        for (flag, letter) in table where contains(flag) { s.append(letter) }
        return s.isEmpty ? "none" : s
    }

    /// Parses tcpdump's flag letters (`S.`, `R`, `P.`…), the inverse of `tcpdumpString`. Also takes `e`,
    /// the letter later tcpdump versions print for AE.
    public init?(tcpdump text: String) {
        var flags = TCPFlags()
        if text == "none" { self = flags; return }
        for ch in text {
            switch ch {
            case "F": flags.insert(.fin)
            case "S": flags.insert(.syn)
            case "R": flags.insert(.rst)
            case "P": flags.insert(.psh)
            case ".": flags.insert(.ack)
            case "U": flags.insert(.urg)
            case "E": flags.insert(.ece)
            case "W": flags.insert(.cwr)
            case "e": flags.insert(.ae)
            default: return nil
            }
        }
        self = flags
    }
}

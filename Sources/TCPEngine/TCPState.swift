/// A socket's TCP state, printed with the kernel's names (`include/net/tcp_states.h`), as `ss` and the
/// seeds show them.
public enum TCPState: UInt8, Hashable, Sendable, CustomStringConvertible, CaseIterable {
    case established = 1, synSent, synRecv, finWait1, finWait2, timeWait, close, closeWait, lastAck, listen, closing
    /// A request sock in the SYN queue (not a full socket).
    case newSynRecv

    public var description: String {
        switch self {
        case .established: "ESTABLISHED"
        case .synSent: "SYN_SENT"
        case .synRecv: "SYN_RECV"
        case .finWait1: "FIN_WAIT1"
        case .finWait2: "FIN_WAIT2"
        case .timeWait: "TIME_WAIT"
        case .close: "CLOSE"
        case .closeWait: "CLOSE_WAIT"
        case .lastAck: "LAST_ACK"
        case .listen: "LISTEN"
        case .closing: "CLOSING"
        case .newSynRecv: "NEW_SYN_RECV"
        }
    }

    /// Parses the kernel's name (`SYN_SENT`, also `SYN-SENT` and `CLOSED`).
    public init?(name: String) {
        let n = name.uppercased().replacingOccurrences(of: "-", with: "_")
        if n == "CLOSED" { self = .close; return }
        guard let s = TCPState.allCases.first(where: { $0.description == n }) else { return nil }
        self = s
    }

    /// A synchronized state (RFC 9293): the handshake is complete.
    public var isSynchronized: Bool {
        switch self {
        case .established, .finWait1, .finWait2, .closeWait, .closing, .lastAck, .timeWait: true
        default: false
        }
    }
}

extension String {
    func replacingOccurrences(of a: Character, with b: Character) -> String {
        String(map { $0 == a ? b : $0 })
    }
}

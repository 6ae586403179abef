// tcpdump's HTTP printer (print-http.c over util-print.c's txtproto_print), the one application
// printer TCPLab reproduces: lab servers listen on 80 and 8080, and tcpdump picks printers by port.

extension TCPSegment {
    /// What tcpdump appends after `length N` for a segment with data to or from port 80 or 8080:
    /// `: HTTP`, then the first line when it looks like a request (`GET / HTTP/1.1`) or a response
    /// (`HTTP/1.1 200 OK`). Empty for other ports and for segments without data.
    var tcpdumpApplicationSuffix: String {
        guard !payload.isEmpty, [tcp.sourcePort, tcp.destinationPort].contains(where: { $0 == 80 || $0 == 8080 }) else {
            return ""
        }
        return ": HTTP" + (HTTPText.startsRequestOrResponse(payload) ? HTTPText.firstLine(payload) : "")
    }
}

/// The parts of txtproto_print that decide what tcpdump shows of a text protocol, in its non-verbose mode.
private enum HTTPText {
    /// print-http.c's `httpcmds`: request methods, compared without regard to case.
    static let methods: Set<String> = [
        "GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY", "BMOVE", "MKCOL", "TRACE", "LABEL",
        "MERGE", "DELETE", "SEARCH", "UNLOCK", "REPORT", "UPDATE", "NOTIFY", "BDELETE", "CONNECT", "OPTIONS",
        "CHECKIN", "PROPFIND", "CHECKOUT", "CCM_POST", "SUBSCRIBE", "PROPPATCH", "BPROPFIND", "BPROPPATCH",
        "UNCHECKOUT", "MKACTIVITY", "MKWORKSPACE", "UNSUBSCRIBE", "RPC_CONNECT", "VERSION-CONTROL", "BASELINE-CONTROL",
    ]
    /// txtproto_print's token buffer holds 128 characters and the terminating NUL; a longer token is no token.
    static let maxToken = 128

    static func isPrintable(_ c: UInt8) -> Bool { (0x20...0x7E).contains(c) }

    /// util-print.c's fetch_token: a run of printable ASCII up to a space, tab, CR or LF, then the spaces
    /// after it. Returns the token and the index past those spaces, or nil.
    static func token(_ bytes: [UInt8], from start: Int) -> (token: [UInt8], next: Int)? {
        var i = start
        var token: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A { break }
            guard isPrintable(c), token.count < maxToken else { return nil }
            token.append(c)
            i += 1
        }
        guard !token.isEmpty else { return nil }
        while i < bytes.count, bytes[i] == 0x20 { i += 1 }
        return (token, i)
    }

    /// A request method first, or a three-digit status code second (`RESP_CODE_SECOND_TOKEN`).
    static func startsRequestOrResponse(_ bytes: [UInt8]) -> Bool {
        guard let first = token(bytes, from: 0) else { return false }
        if methods.contains(String(decoding: first.token, as: UTF8.self).uppercased()) { return true }
        guard let second = token(bytes, from: first.next) else { return false }
        return second.token.count == 3 && second.token.allSatisfy { (0x30...0x39).contains($0) }
    }

    /// util-print.c's print_txt_line from the start: `: ` and the line up to LF or CR LF; ` [|http]` after
    /// it when the data ends first; nothing when a byte is neither printable nor a tab, or CR is not
    /// followed by LF.
    static func firstLine(_ bytes: [UInt8]) -> String {
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x0A { return ": " + String(decoding: bytes[..<i], as: UTF8.self) }
            if c == 0x0D {
                guard i + 1 < bytes.count, bytes[i + 1] == 0x0A else { return "" }
                return ": " + String(decoding: bytes[..<i], as: UTF8.self)
            }
            guard isPrintable(c) || c == 0x09 else { return "" }
            i += 1
        }
        return ": " + String(decoding: bytes, as: UTF8.self) + " [|http]"
    }
}

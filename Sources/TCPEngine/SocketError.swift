/// Errors the socket calls report, named after their errno.
public enum SocketError: String, Error, Hashable, Sendable, CustomStringConvertible {
    case EAGAIN, EINVAL, EADDRINUSE, EADDRNOTAVAIL, EISCONN, ENOTCONN, EALREADY, EINPROGRESS
    case ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, EHOSTUNREACH, ENETUNREACH, EBADF, ENOPROTOOPT, EOPNOTSUPP

    public var description: String {
        switch self {
        case .EAGAIN: "EAGAIN (resource temporarily unavailable)"
        case .EINVAL: "EINVAL (invalid argument)"
        case .EADDRINUSE: "EADDRINUSE (address already in use)"
        case .EADDRNOTAVAIL: "EADDRNOTAVAIL (no free local port or address)"
        case .EISCONN: "EISCONN (already connected)"
        case .ENOTCONN: "ENOTCONN (not connected)"
        case .EALREADY: "EALREADY (connect already in progress)"
        case .EINPROGRESS: "EINPROGRESS (connect in progress)"
        case .ECONNREFUSED: "ECONNREFUSED (connection refused)"
        case .ECONNRESET: "ECONNRESET (connection reset by peer)"
        case .ETIMEDOUT: "ETIMEDOUT (connection timed out)"
        case .EPIPE: "EPIPE (broken pipe)"
        case .EHOSTUNREACH: "EHOSTUNREACH (no route to host)"
        case .ENETUNREACH: "ENETUNREACH (network unreachable)"
        case .EBADF: "EBADF (not an open socket)"
        case .ENOPROTOOPT: "ENOPROTOOPT (option not supported)"
        case .EOPNOTSUPP: "EOPNOTSUPP (operation not supported)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Foundation

/// A failure of LabNetlink, naming the operation, the object it was applied to (a namespace, an
/// interface in a namespace, a ledger file) and why, with a hint when there is an obvious next step.
///
/// `description` is the one line a user sees, for example:
/// `create veth eth0 in tl-3f2a-client (peer eth0 in tl-3f2a-mbox): Object exists (kernel: File exists);
/// an interface of that name already exists there; if an earlier lab left it, run `tcplab clean``
public struct NetlinkError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        /// A namespace, link or address of that name already exists (EEXIST).
        case alreadyExists
        /// The namespace or interface does not exist (ENOENT, ENODEV).
        case notFound
        /// A name or value was rejected before anything was sent to the kernel.
        case invalidArgument
        /// The process lacks CAP_NET_ADMIN or CAP_SYS_ADMIN.
        case notPermitted
        /// Anything else the kernel or libnl reported.
        case failed
    }

    public var code: Code
    /// What was being done: "create namespace", "create veth", "add address", "set up"...
    public var operation: String
    /// What it was done to: "tl-3f2a-client", "eth0 in tl-3f2a-client".
    public var object: String
    /// Why it failed: libnl's text (`nl_geterror`), the kernel's errno text and extended-ACK message.
    public var reason: String
    /// The errno behind the failure, when there was one.
    public var errno: Int32?
    /// The next step for the user, when there is an obvious one.
    public var hint: String?

    public init(_ code: Code, operation: String, object: String, reason: String, errno: Int32? = nil, hint: String? = nil) {
        self.code = code
        self.operation = operation
        self.object = object
        self.reason = reason
        self.errno = errno
        self.hint = hint
    }

    public var description: String {
        var text = "\(operation) \(object): \(reason)"
        if let hint { text += "; \(hint)" }
        return text
    }

    public var errorDescription: String? { description }

    static let cleanHint = "if an earlier lab left it behind, run `tcplab clean`"

    /// An error from a system call that returned `-errno` (the CLabSys convention) or set `errno`.
    static func system(_ operation: String, _ object: String, errno code: Int32, hint: String? = nil) -> NetlinkError {
        let kind: Code
        switch code {
        case EEXIST: kind = .alreadyExists
        case ENOENT, ENODEV: kind = .notFound
        case EPERM, EACCES: kind = .notPermitted
        case EINVAL, ENAMETOOLONG: kind = .invalidArgument
        default: kind = .failed
        }
        var hint = hint
        if hint == nil, kind == .notPermitted { hint = Privileges.requirement }
        return NetlinkError(kind, operation: operation, object: object, reason: errnoText(code), errno: code, hint: hint)
    }

    static func invalid(_ operation: String, _ object: String, _ reason: String) -> NetlinkError {
        NetlinkError(.invalidArgument, operation: operation, object: object, reason: reason)
    }
}

/// `strerror` text with the symbolic name, for example "File exists (EEXIST)".
func errnoText(_ code: Int32) -> String {
    let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EEXIST: "EEXIST", EINVAL: "EINVAL", ENODEV: "ENODEV",
        EBUSY: "EBUSY", EACCES: "EACCES", ENOTCONN: "ENOTCONN", ERANGE: "ERANGE", ENOMEM: "ENOMEM",
        EADDRNOTAVAIL: "EADDRNOTAVAIL", EOPNOTSUPP: "EOPNOTSUPP", ENAMETOOLONG: "ENAMETOOLONG", ENOSPC: "ENOSPC",
    ]
    let text = String(cString: strerror(code))
    return names[code].map { "\(text) (\($0))" } ?? "\(text) (errno \(code))"
}

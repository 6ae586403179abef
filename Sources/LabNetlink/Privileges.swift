#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The capabilities a real lab needs, read from `/proc/self/status` (`CapEff`).
///
/// Creating links and addresses needs CAP_NET_ADMIN; `unshare`/`setns` into a network namespace and
/// the bind mount that names it need CAP_SYS_ADMIN. Root has both.
public enum Privileges {
    /// CAP_NET_ADMIN, bit 12 of the capability sets.
    public static let netAdminBit = 12
    /// CAP_SYS_ADMIN, bit 21.
    public static let sysAdminBit = 21

    static let requirement = "run as root or with CAP_NET_ADMIN and CAP_SYS_ADMIN; or use --backend sim"

    /// The effective capability set, or nil when `/proc/self/status` cannot be read.
    public static func effectiveCapabilities() -> UInt64? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
            return UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        }
        return nil
    }

    /// Throws one error naming everything that is missing, before anything is created.
    public static func check(for operation: String = "build lab network") throws {
        guard let capabilities = effectiveCapabilities() else {
            throw NetlinkError(.notPermitted, operation: operation, object: "/proc/self/status",
                               reason: "cannot read the effective capabilities", hint: requirement)
        }
        var missing: [String] = []
        if capabilities & (1 << UInt64(netAdminBit)) == 0 { missing.append("CAP_NET_ADMIN") }
        if capabilities & (1 << UInt64(sysAdminBit)) == 0 { missing.append("CAP_SYS_ADMIN") }
        guard missing.isEmpty else {
            throw NetlinkError(.notPermitted, operation: operation, object: "this process",
                               reason: "missing \(missing.joined(separator: " and "))", errno: EPERM, hint: requirement)
        }
    }
}

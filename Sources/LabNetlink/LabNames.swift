/// The names a lab gives what it creates, and the checks that keep them valid.
///
/// Namespaces are `tl-<run>-<node>` (DESIGN.md, "Addresses and safety"); interface names are at most
/// 15 bytes because the kernel's IFNAMSIZ is 16 including the terminating NUL.
public enum LabNames {
    /// IFNAMSIZ - 1.
    public static let maxInterfaceNameLength = 15
    /// Longer namespace names work, but nobody wants to type them after `ip -n`.
    public static let maxNamespaceNameLength = 64
    public static let maxRunIDLength = 16
    public static let maxNodeNameLength = 32

    /// The namespace of `node` in run `run`: `tl-<run>-<node>`.
    public static func namespace(run: String, node: String) -> String { "tl-\(run)-\(node)" }

    /// A fresh run id: 4 random lowercase hex digits, enough to keep parallel labs apart.
    public static func randomRunID() -> String {
        String(UInt16.random(in: .min ... .max), radix: 16).leftPadded(to: 4)
    }

    /// Interface names: 1...15 bytes of letters, digits, `-`, `_` and `.`, not `.` or `..`.
    /// The kernel allows more (any byte but `/`, `:` and whitespace), but these also survive shells
    /// and `ip` without quoting.
    public static func validateInterface(_ name: String, operation: String = "check interface name") throws {
        if name.utf8.count > maxInterfaceNameLength {
            throw NetlinkError.invalid(operation, "\"\(name)\"",
                "interface names are at most \(maxInterfaceNameLength) characters (IFNAMSIZ), this one has \(name.utf8.count)")
        }
        try validateToken(name, what: "interface name", operation: operation)
    }

    /// Namespace names become a file in /run/netns: no `/`, not `.` or `..`.
    public static func validateNamespace(_ name: String, operation: String = "check namespace name") throws {
        if name.utf8.count > maxNamespaceNameLength {
            throw NetlinkError.invalid(operation, "\"\(name)\"", "namespace names are at most \(maxNamespaceNameLength) characters")
        }
        try validateToken(name, what: "namespace name", operation: operation)
    }

    /// Run ids: 1...16 lowercase letters and digits, so `tl-<run>-` can never be mistaken for a prefix of
    /// another run's names.
    public static func validateRunID(_ run: String) throws {
        guard !run.isEmpty, run.utf8.count <= maxRunIDLength,
              run.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) })
        else {
            throw NetlinkError.invalid("check run id", "\"\(run)\"", "run ids are 1...\(maxRunIDLength) lowercase letters and digits")
        }
    }

    public static func validateNode(_ node: String) throws {
        if node.utf8.count > maxNodeNameLength {
            throw NetlinkError.invalid("check node name", "\"\(node)\"", "node names are at most \(maxNodeNameLength) characters")
        }
        try validateToken(node, what: "node name", operation: "check node name")
    }

    private static func validateToken(_ name: String, what: String, operation: String) throws {
        guard !name.isEmpty else { throw NetlinkError.invalid(operation, "\"\"", "empty \(what)") }
        guard name != ".", name != "..",
              name.utf8.allSatisfy({ byte in
                  (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                      || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
              })
        else {
            throw NetlinkError.invalid(operation, "\"\(name)\"", "a \(what) may use only letters, digits, '-', '_' and '.'")
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

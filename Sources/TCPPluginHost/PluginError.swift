/// Why a policy could not be loaded or instantiated: which plugin, what is wrong, and how to fix it.
/// `description` is the whole sentence, ready for a terminal or a topology error.
public struct PluginError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Problem: String, Hashable, Sendable {
        /// The file named by a topology or found on the path does not exist.
        case fileNotFound = "file not found"
        /// `dlopen` refused the file (not a shared library, wrong architecture, missing dependency).
        case notALibrary = "not a loadable library"
        /// The library exports no `tcplab_plugin_v1` entry point.
        case notAPlugin = "not a TCPLab plugin"
        /// The plugin was built for another ABI version.
        case abiMismatch = "ABI version mismatch"
        /// The descriptor is incomplete or inconsistent (a NULL function pointer, a bad name…).
        case invalidDescriptor = "invalid descriptor"
        /// No built-in policy and no plugin on the path has this name.
        case unknownPolicy = "unknown policy"
        /// The name exists, but for another policy kind.
        case wrongKind = "wrong policy kind"
        /// A parameter the policy does not declare.
        case unknownParameter = "unknown parameter"
        /// A parameter value of the wrong type or out of range.
        case invalidParameter = "invalid parameter"
        /// A required parameter is missing.
        case missingParameter = "missing parameter"
        /// The plugin's `create` refused the configuration.
        case creationFailed = "instance creation failed"
        /// Two plugins of one kind have the same name; the first on the path is used.
        case duplicateName = "duplicate name"
    }

    public var problem: Problem
    /// The plugin's name, or the file's name when the name is not known.
    public var plugin: String
    /// The library, when there is one.
    public var path: String?
    /// What is wrong.
    public var message: String
    /// What to do about it.
    public var fix: String

    public init(_ problem: Problem, plugin: String, path: String? = nil, message: String, fix: String) {
        self.problem = problem
        self.plugin = plugin
        self.path = path
        self.message = message
        self.fix = fix
    }

    public var description: String {
        "plugin '\(plugin)'\(path.map { " (\($0))" } ?? ""): \(message). Fix: \(fix)"
    }
}

/// The closest of `candidates` to `word` within two edits, for "did you mean …?".
func closest(to word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let old = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = old
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
    let w = Array(word.lowercased())
    let best = candidates.map { ($0, distance(w, Array($0.lowercased()))) }.min { $0.1 < $1.1 }
    guard let best, best.1 <= 2, best.1 < max(w.count, 1) else { return nil }
    return best.0
}

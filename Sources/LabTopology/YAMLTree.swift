import Yams

/// A YAML value with the place it was written, so every problem can be reported as `file:line:column`.
/// Built from Yams' composed node tree; mappings keep their keys' order and locations (and their
/// duplicates, which Yams does not reject and we report).
public struct YAMLNode: Sendable {
    public indirect enum Value: Sendable {
        case null
        /// `quoted`: written in quotes (a string even if it looks like a number).
        case scalar(String, quoted: Bool)
        case mapping([(key: YAMLKey, value: YAMLNode)])
        case sequence([YAMLNode])
    }

    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, _ location: SourceLocation) {
        self.value = value
        self.location = location
    }

    /// "a mapping", "a list", "the text \"x\"": what was found, for type errors.
    public var kindDescription: String {
        switch value {
        case .null: "nothing"
        case let .scalar(s, _): "\"\(s)\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }

    public var scalar: String? {
        if case let .scalar(s, _) = value { return s }
        return nil
    }

    public var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    /// The value under `key` (the last one when written twice).
    public subscript(key: String) -> YAMLNode? {
        guard case let .mapping(pairs) = value else { return nil }
        return pairs.last { $0.key.name == key }?.value
    }
}

/// A mapping key and where it was written.
public struct YAMLKey: Sendable {
    public var name: String
    public var location: SourceLocation
}

extension YAMLNode {
    /// Parses `text`. A syntax error becomes one diagnostic at the place libyaml stopped.
    public static func parse(_ text: String, file: String) throws(TopologyErrors) -> YAMLNode {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw TopologyErrors([Self.diagnostic(for: e, file: file)])
        } catch {
            throw TopologyErrors([Diagnostic(SourceLocation(file: file, line: 1, column: 1), "cannot read the YAML: \(error)")])
        }
        guard let node else {
            throw TopologyErrors([Diagnostic(SourceLocation(file: file, line: 1, column: 1), "the file is empty",
                                             suggestion: "start from Topologies/handshake.yaml")])
        }
        return convert(node, file: file)
    }

    static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let where_ = context.map { " (\($0.text) at \($0.mark.line):\($0.mark.column))" } ?? ""
            return Diagnostic(SourceLocation(file: file, line: mark.line, column: mark.column), "YAML syntax: \(problem)\(where_)",
                              suggestion: "check the indentation and the quotes on this line")
        default:
            return Diagnostic(SourceLocation(file: file, line: 1, column: 1), "cannot read the YAML: \(error)")
        }
    }

    static func convert(_ node: Node, file: String) -> YAMLNode {
        let loc = SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        switch node {
        case let .scalar(s):
            let quoted = s.style != .plain && s.style != .any
            if !quoted && ["", "~", "null", "Null", "NULL"].contains(s.string) { return YAMLNode(.null, loc) }
            return YAMLNode(.scalar(s.string, quoted: quoted), loc)
        case let .mapping(m):
            var pairs: [(key: YAMLKey, value: YAMLNode)] = []
            for (k, v) in m {
                let kl = SourceLocation(file: file, line: k.mark?.line ?? loc.line, column: k.mark?.column ?? loc.column)
                pairs.append((YAMLKey(name: k.scalar?.string ?? "\(k)", location: kl), convert(v, file: file)))
            }
            return YAMLNode(.mapping(pairs), loc)
        case let .sequence(items):
            return YAMLNode(.sequence(items.map { convert($0, file: file) }), loc)
        }
    }

    /// `overlay` laid over `self`: mappings merge key by key (recursively), anything else is replaced.
    public func merged(with overlay: YAMLNode) -> YAMLNode {
        guard case let .mapping(base) = value, case let .mapping(over) = overlay.value else { return overlay }
        var pairs = base
        for (k, v) in over {
            if let i = pairs.lastIndex(where: { $0.key.name == k.name }) {
                pairs[i] = (pairs[i].key, pairs[i].value.merged(with: v))
            } else {
                pairs.append((k, v))
            }
        }
        return YAMLNode(.mapping(pairs), location)
    }
}

/// Why a lab could not be built or run. Every case says what happened, where, and the way out.
public enum LabError: Error, CustomStringConvertible, Sendable {
    case invalidPlan([String])
    case build(String)
    case workerDied(node: String, detail: String)
    case workerTimeout(node: String, op: String)
    case workerNotReady(node: String, detail: String)
    case stepFailed(node: String, op: String, error: String)
    case interrupted(signal: Int32)
    case workerMissing(path: String)

    public var description: String {
        switch self {
        case let .invalidPlan(problems): "the lab plan is not buildable:\n  " + problems.joined(separator: "\n  ")
        case let .build(message): message
        case let .workerDied(node, detail): "worker \(node) died\(detail.isEmpty ? "" : ": \(detail)"); the lab was torn down"
        case let .workerTimeout(node, op): "worker \(node) did not answer \(op) in time; the lab was torn down"
        case let .workerNotReady(node, detail): "worker \(node) did not start: \(detail)"
        case let .stepFailed(node, op, error): "step \(op) on \(node) failed: \(error)"
        case let .interrupted(signal): "interrupted by signal \(signal); the lab was torn down"
        case let .workerMissing(path): "tcplab-worker not found at \(path); build it with `swift build --product tcplab-worker`"
        }
    }
}

import LabImpair
import TCPEngine
import TCPPolicy
import TCPWire

/// One direction of a simulated link: the same impairment model as the middlebox (LabImpair).
public typealias LinkImpairment = Impairment

/// A frame offered to a link's drop hook: the direction, the frame, and how many frames went that way before.
public struct LinkFrame {
    /// Name of the sending host.
    public var from: String
    /// Name of the receiving host.
    public var to: String
    public var frame: Frame
    /// 1 for the first frame in this direction.
    public var index: Int
    public var time: Instant
}

/// A targeted drop rule written as code: returns a description of the rule when the frame is to be dropped.
public typealias DropHook = (LinkFrame) -> String?

/// A point-to-point link between an interface of one host and an interface of another.
public final class SimLink {
    public let a: (host: Int, interface: Int)
    public let b: (host: Int, interface: Int)
    public var aToB: Impairment {
        didSet {
            forward = Impairer(aToB, seed: seed)
            forwardDelayOnly = Self.delayOnly(aToB)
            forwardDelay = aToB.delay
            forwardDrops = aToB.loss > 0 || !aToB.rules.isEmpty
            forwardHasRules = !aToB.rules.isEmpty
        }
    }
    public var bToA: Impairment {
        didSet {
            backward = Impairer(bToA, seed: seed &+ 1)
            backwardDelayOnly = Self.delayOnly(bToA)
            backwardDelay = bToA.delay
            backwardDrops = bToA.loss > 0 || !bToA.rules.isEmpty
            backwardHasRules = !bToA.rules.isEmpty
        }
    }
    /// Called for every frame before the impairments.
    public var dropHook: DropHook? { didSet { hasDropHook = dropHook != nil } }
    var hasDropHook = false
    var sentAToB = 0
    var sentBToA = 0
    var forward: Impairer
    var backward: Impairer
    /// The direction only delays, loses or drops by rule: `Impairer.dropReason` decides (with the same
    /// random draws as `process`) and the frame travels parsed, without a bytes copy or decision array.
    var forwardDelayOnly: Bool
    var backwardDelayOnly: Bool
    /// Each direction's delay, whether it can drop at all (loss or rules), and whether it has rules.
    var forwardDelay: Interval
    var backwardDelay: Interval
    var forwardDrops: Bool
    var backwardDrops: Bool
    var forwardHasRules: Bool
    var backwardHasRules: Bool
    private let seed: UInt64

    static func delayOnly(_ i: Impairment) -> Bool {
        i.jitter == .zero && i.duplicate == 0 && i.reorder == 0 && i.corrupt == 0 && i.rateBitsPerSecond == 0
            && i.rules.allSatisfy { $0.action == .drop }
    }

    init(a: (Int, Int), b: (Int, Int), aToB: Impairment, bToA: Impairment, seed: UInt64) {
        self.a = a
        self.b = b
        self.aToB = aToB
        self.bToA = bToA
        self.seed = seed
        forward = Impairer(aToB, seed: seed)
        backward = Impairer(bToA, seed: seed &+ 1)
        forwardDelayOnly = Self.delayOnly(aToB)
        backwardDelayOnly = Self.delayOnly(bToA)
        forwardDelay = aToB.delay
        backwardDelay = bToA.delay
        forwardDrops = aToB.loss > 0 || !aToB.rules.isEmpty
        backwardDrops = bToA.loss > 0 || !bToA.rules.isEmpty
        forwardHasRules = !aToB.rules.isEmpty
        backwardHasRules = !bToA.rules.isEmpty
    }
}

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
    public var aToB: Impairment { didSet { forward = Impairer(aToB, seed: seed) } }
    public var bToA: Impairment { didSet { backward = Impairer(bToA, seed: seed &+ 1) } }
    /// Called for every frame before the impairments.
    public var dropHook: DropHook?
    var sentAToB = 0
    var sentBToA = 0
    var forward: Impairer
    var backward: Impairer
    private let seed: UInt64

    init(a: (Int, Int), b: (Int, Int), aToB: Impairment, bToA: Impairment, seed: UInt64) {
        self.a = a
        self.b = b
        self.aToB = aToB
        self.bToA = bToA
        self.seed = seed
        forward = Impairer(aToB, seed: seed)
        backward = Impairer(bToA, seed: seed &+ 1)
    }
}

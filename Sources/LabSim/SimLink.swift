import TCPEngine
import TCPPolicy
import TCPWire

/// One direction of a simulated link.
public struct LinkImpairment: Sendable {
    /// Probability in [0, 1] that a frame is lost.
    public var loss: Double
    /// One-way delay.
    public var delay: Interval
    /// Extra delay drawn uniformly from [0, jitter] (frames may then be reordered).
    public var jitter: Interval

    public init(loss: Double = 0, delay: Interval = .microseconds(50), jitter: Interval = .zero) {
        self.loss = loss
        self.delay = delay
        self.jitter = jitter
    }
}

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

/// A targeted drop rule: returns a description of the rule when the frame is to be dropped.
public typealias DropHook = (LinkFrame) -> String?

/// A point-to-point link between an interface of one host and an interface of another.
public final class SimLink {
    public let a: (host: Int, interface: Int)
    public let b: (host: Int, interface: Int)
    public var aToB: LinkImpairment
    public var bToA: LinkImpairment
    /// Called for every frame before loss is drawn.
    public var dropHook: DropHook?
    var sentAToB = 0
    var sentBToA = 0

    init(a: (Int, Int), b: (Int, Int), aToB: LinkImpairment, bToA: LinkImpairment) {
        self.a = a
        self.b = b
        self.aToB = aToB
        self.bToA = bToA
    }
}

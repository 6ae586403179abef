import TCPPolicy
import TCPWire

/// A listening socket (`inet_csk_listen_start`): its address, backlog, accept queue and the counts of
/// its SYN queue (the request socks themselves live in the host's request table, as in Linux's ehash).
final class Listener {
    let id: SocketID
    var local: SocketAddress
    /// `sk_max_ack_backlog`: listen()'s backlog clamped by somaxconn.
    var backlog: Int
    /// Copied to each child as Linux clones the listener, shared until one of them changes it.
    var optionsBox: OptionsBox
    var options: SocketOptions {
        get { optionsBox.value }
        set {
            if isKnownUniquelyReferenced(&optionsBox) { optionsBox.value = newValue } else { optionsBox = OptionsBox(newValue) }
        }
    }
    /// `qlen` and `qlen_young`.
    var synQueueLength = 0
    var young = 0
    /// Children waiting for accept(): `icsk_accept_queue`, oldest first.
    var acceptQueue = ChildQueue()
    /// accept() calls blocked waiting for a child.
    var blockedAccepts = 0
    /// `synflood_warned`: "Possible SYN flooding" is said once per listener.
    var synFloodWarned = false
    /// `tcp_synq_overflow` time: cookies are only checked within 2 minutes of the last overflow.
    var lastOverflow: Instant?
    /// Requests per source address, kept only when the accept-queue policy asks for it.
    var requestsPerSource: [IPv4Address: Int]?
    /// TCP_DEFER_ACCEPT in retransmission periods (`rskq_defer_accept`).
    var deferAcceptPeriods: Int = 0

    init(id: SocketID, local: SocketAddress, backlog: Int, options: SocketOptions) {
        self.id = id
        self.local = local
        self.backlog = backlog
        self.optionsBox = OptionsBox(options)
    }
}

/// A FIFO of children that also lets a policy take one from the middle. The children and what a
/// policy sees of them are kept in two parallel arrays, so `infos` is contiguous storage: a policy
/// (a plugin behind the C ABI included) reads it without a copy.
struct ChildQueue {
    private var children: [SocketID] = []
    private var details: [QueuedChild] = []
    private var head = 0

    var count: Int { children.count - head }
    var isEmpty: Bool { count == 0 }
    /// Oldest first.
    var infos: ArraySlice<QueuedChild> { details[head...] }

    mutating func append(_ child: SocketID, _ info: QueuedChild) {
        children.append(child)
        details.append(info)
    }

    /// Removes the entry at `offset` from the head (0 is the oldest).
    mutating func remove(at offset: Int) -> SocketID {
        let child: SocketID
        if offset == 0 {
            child = children[head]
            head += 1
        } else {
            child = children.remove(at: head + offset)
            details.remove(at: head + offset)
        }
        if head > 32 && head * 2 > children.count {
            children.removeFirst(head)
            details.removeFirst(head)
            head = 0
        }
        return child
    }

    mutating func removeAll() -> [SocketID] {
        let all = Array(children[head...])
        children = []
        details = []
        head = 0
        return all
    }
}

/// A FIFO of bytes with cheap removal from the front: send and receive buffers.
struct ByteQueue {
    private var storage: [UInt8] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(contentsOf bytes: some Collection<UInt8>) { storage.append(contentsOf: bytes) }

    /// Bytes `offset..<offset+length` from the front, without removing them.
    func peek(offset: Int, length: Int) -> ArraySlice<UInt8> {
        storage[(head + offset)..<(head + offset + length)]
    }

    mutating func removeFirst(_ n: Int) {
        precondition(n <= count)
        // Nothing to remove (an ACK of a FIN or of nothing): no state changes.
        guard n > 0 else { return }
        head += n
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096 && head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }

    mutating func popFirst(_ n: Int) -> [UInt8] {
        let out = Array(peek(offset: 0, length: n))
        removeFirst(n)
        return out
    }

    mutating func removeAll() {
        // Only a real buffer is worth a release.
        if storage.capacity > 0 { storage = [] }
        head = 0
    }
}

import TCPPolicy
import TCPWire

/// A key of the engine's hash tables: a cheap keyed hash (as Linux's ehash uses `jhash` with a random
/// secret) instead of `Hasher`'s SipHash, which dominated the per-segment lookup.
protocol TableKey: Equatable {
    func hash(seed: UInt64) -> UInt64
    /// Any value, to fill empty slots.
    static var placeholder: Self { get }
}

/// Mixes 64 bits (the finalizer of MurmurHash3 / SplitMix64).
@inline(__always) func mix64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

extension FourTuple: TableKey {
    @inline(__always) func hash(seed: UInt64) -> UInt64 {
        let addresses = UInt64(local.address.rawValue) << 32 | UInt64(remote.address.rawValue)
        let ports = UInt64(local.port) << 16 | UInt64(remote.port)
        // The ports spread over all 64 bits by an odd multiplier (golden ratio), then one finalizer
        // mixes them with the addresses and the secret.
        return mix64((addresses ^ seed) &+ ports &* 0x9E37_79B9_7F4A_7C15)
    }

    static let placeholder = FourTuple(local: SocketAddress(.any, 0), remote: SocketAddress(.any, 0))
}

extension SocketID: TableKey {
    @inline(__always) func hash(seed: UInt64) -> UInt64 { mix64(UInt64(UInt32(bitPattern: rawValue)) ^ seed) }
    static let placeholder = SocketID(0)
}

/// An open-addressing hash map with linear probing and backward-shift deletion (no tombstones), at
/// most 3/4 full. A slot holds the key and the value together (an empty slot has no value): one cache
/// line serves a probe.
///
/// The slots sit in memory the table manages itself, as the engine looks up a table several times per
/// segment and an Array's bounds and uniqueness checks were a good part of each lookup. The tables are
/// the host's own and never copied: a copy would share the slots.
struct HashTable<Key: TableKey, Value> {
    private struct Slot {
        var key: Key
        var value: Value?
    }

    /// Owns the slots (frees them with the table).
    private final class Storage {
        let slots: UnsafeMutablePointer<Slot>
        let capacity: Int

        init(capacity: Int) {
            slots = .allocate(capacity: capacity)
            slots.initialize(repeating: Slot(key: .placeholder, value: nil), count: capacity)
            self.capacity = capacity
        }

        deinit {
            slots.deinitialize(count: capacity)
            slots.deallocate()
        }
    }

    private var storage: Storage
    /// `storage.slots`, kept here so that a probe does not load it through the object.
    private var slots: UnsafeMutablePointer<Slot>
    private var mask: Int
    private let seed: UInt64
    private(set) var count = 0

    init(seed: UInt64, capacity: Int = 16) {
        var n = 16
        while n * 3 < capacity * 4 { n <<= 1 }
        storage = Storage(capacity: n)
        slots = storage.slots
        mask = n - 1
        self.seed = seed
    }

    /// The slot holding `key`, or the empty slot where it would go.
    @inline(__always) private func find(_ key: Key) -> (index: Int, found: Bool) {
        var i = Int(truncatingIfNeeded: key.hash(seed: seed)) & mask
        while true {
            if slots[i].value == nil { return (i, false) }
            if slots[i].key == key { return (i, true) }
            i = (i + 1) & mask
        }
    }

    subscript(key: Key) -> Value? {
        // Inlined: a lookup is a hash and a probe or two, less than the call around it was.
        @inline(__always) get {
            let (i, found) = find(key)
            return found ? slots[i].value : nil
        }
        set {
            guard let newValue else {
                removeValue(forKey: key)
                return
            }
            let (i, found) = find(key)
            if found {
                slots[i].value = newValue
                return
            }
            slots[i].key = key
            slots[i].value = newValue
            count += 1
            if count * 4 > (mask + 1) * 3 { grow() }
        }
    }

    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        let (found, hit) = find(key)
        guard hit else { return nil }
        var old: Value?
        swap(&old, &slots[found].value)
        count -= 1
        // Backward-shift deletion: pull later entries of the probe run into the hole.
        var hole = found
        var j = hole
        while true {
            j = (j + 1) & mask
            if slots[j].value == nil { break }
            let home = Int(truncatingIfNeeded: slots[j].key.hash(seed: seed)) & mask
            // Move j to the hole unless its home lies cyclically in (hole, j].
            let between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !between {
                // The hole's slot holds no value: j's entry moves in, the emptied one moves to j.
                let empty = (slots + hole).move()
                (slots + hole).moveInitialize(from: slots + j, count: 1)
                (slots + j).initialize(to: empty)
                hole = j
            }
        }
        slots[hole].key = .placeholder
        return old
    }

    /// The first value that satisfies `predicate`, in slot order (a walk over the whole table).
    func firstValue(where predicate: (Value) -> Bool) -> Value? {
        for i in 0...mask {
            if let v = slots[i].value, predicate(v) { return v }
        }
        return nil
    }

    private mutating func grow() {
        let capacity = mask + 1
        let old = storage, oldSlots = slots
        var bigger = HashTable(seed: seed, capacity: capacity)
        // The old slots stay allocated until every value has moved out.
        withExtendedLifetime(old) {
            for i in 0..<capacity where oldSlots[i].value != nil {
                var v: Value?
                swap(&v, &oldSlots[i].value)
                bigger[oldSlots[i].key] = v
            }
        }
        self = bigger
    }
}

extension HashTable where Value: AnyObject {
    /// Removes `key` if it maps to exactly `object` (one probe, where a lookup then a removal take two).
    mutating func remove(_ key: Key, ifIdenticalTo object: Value) {
        guard let old = removeValue(forKey: key) else { return }
        if old !== object { self[key] = old }
    }
}

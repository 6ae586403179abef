/// A hash map whose values sit packed in one array (a removal moves the last value into the hole),
/// with a `HashTable` from key to position beside it. Used for request socks: a slot of the index is
/// 20 bytes where a slot holding the 64-byte request itself would be 80, and an open-addressing table
/// is at most 3/4 full, so a million half-open requests take about 60 % less table memory.
struct DenseTable<Key: TableKey, Value> {
    private var index: HashTable<Key, Int32>
    private var keys: [Key] = []
    private var values: [Value] = []

    init(seed: UInt64) { index = HashTable(seed: seed) }

    var count: Int { values.count }

    subscript(key: Key) -> Value? {
        get { index[key].map { values[Int($0)] } }
        set {
            guard let newValue else {
                removeValue(forKey: key)
                return
            }
            if let i = index[key] {
                values[Int(i)] = newValue
            } else {
                index[key] = Int32(values.count)
                keys.append(key)
                values.append(newValue)
            }
        }
    }

    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        guard let removed = index.removeValue(forKey: key) else { return nil }
        let i = Int(removed), last = values.count - 1
        if i != last {
            values.swapAt(i, last)
            keys.swapAt(i, last)
            index[keys[i]] = removed
        }
        keys.removeLast()
        return values.removeLast()
    }
}

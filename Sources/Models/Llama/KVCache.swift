/// The cached keys and values of one sequence: per layer, keys and values [capacity, KVH * D]. Grows by
/// doubling (copying) up to the context length, so short sequences do not reserve a whole context.
final class SequenceCache {
    let layerCount: Int
    let rowWidth: Int
    private(set) var capacity: Int
    var length = 0
    private var storage: UnsafeMutablePointer<Float>

    init(layerCount: Int, rowWidth: Int, capacity: Int) {
        self.layerCount = layerCount
        self.rowWidth = rowWidth
        self.capacity = max(capacity, 1)
        storage = .allocate(capacity: layerCount * 2 * self.capacity * rowWidth)
    }

    deinit { storage.deallocate() }

    /// keys of `layer`: [capacity, rowWidth]
    func keys(_ layer: Int) -> UnsafeMutablePointer<Float> { storage + (2 * layer) * capacity * rowWidth }
    /// values of `layer`: [capacity, rowWidth]
    func values(_ layer: Int) -> UnsafeMutablePointer<Float> { storage + (2 * layer + 1) * capacity * rowWidth }

    /// Makes room for `required` rows (at most `limit`, the context length).
    func reserve(_ required: Int, limit: Int) {
        guard required > capacity else { return }
        let newCapacity = min(max(required, capacity * 2), max(limit, required))
        let newStorage = UnsafeMutablePointer<Float>.allocate(capacity: layerCount * 2 * newCapacity * rowWidth)
        for block in 0..<(2 * layerCount) {
            (newStorage + block * newCapacity * rowWidth).update(from: storage + block * capacity * rowWidth, count: length * rowWidth)
        }
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    /// A copy holding the same cached rows.
    func copy() -> SequenceCache {
        let clone = SequenceCache(layerCount: layerCount, rowWidth: rowWidth, capacity: capacity)
        clone.length = length
        for layer in 0..<layerCount {
            clone.keys(layer).update(from: keys(layer), count: length * rowWidth)
            clone.values(layer).update(from: values(layer), count: length * rowWidth)
        }
        return clone
    }
}

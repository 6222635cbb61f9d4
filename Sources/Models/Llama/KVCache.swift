import Tensors

/// The cached keys and values of one sequence: per layer, keys and values [capacity, rowWidth] in `format`.
/// Grows by doubling (copying) up to the context length, so short sequences do not reserve a whole context.
final class SequenceCache {
    let layerCount: Int
    let rowWidth: Int
    let format: KeyValueFormat
    private(set) var capacity: Int
    var length = 0
    private var storage: UnsafeMutableRawPointer

    init(layerCount: Int, rowWidth: Int, format: KeyValueFormat, capacity: Int) {
        self.layerCount = layerCount
        self.rowWidth = rowWidth
        self.format = format
        self.capacity = max(capacity, 1)
        storage = Self.allocate(blocks: 2 * layerCount, rows: self.capacity, rowBytes: rowWidth * format.bytesPerElement)
    }

    deinit { storage.deallocate() }

    /// Ordinary pages, not `StreamedMemory`'s huge pages: a cache grows by reallocation, and every huge page it
    /// touches is zeroed whole (measured: 3% of a batch-64 decode in `clear_page_erms`).
    private static func allocate(blocks: Int, rows: Int, rowBytes: Int) -> UnsafeMutableRawPointer {
        .allocate(byteCount: max(blocks * rows * rowBytes, 1), alignment: 64)
    }

    private var rowBytes: Int { rowWidth * format.bytesPerElement }

    /// keys of `layer`: [capacity, rowWidth]
    func keys(_ layer: Int) -> UnsafeMutableRawPointer { storage + (2 * layer) * capacity * rowBytes }
    /// values of `layer`: [capacity, rowWidth]
    func values(_ layer: Int) -> UnsafeMutableRawPointer { storage + (2 * layer + 1) * capacity * rowBytes }

    /// Writes row `position` of `layer`: keys, values: [rowWidth] f32, converted to the cache format.
    func store(layer: Int, position: Int, keys newKeys: UnsafePointer<Float>, values newValues: UnsafePointer<Float>) {
        format.store(newKeys, to: keys(layer) + position * rowBytes, count: rowWidth)
        format.store(newValues, to: values(layer) + position * rowBytes, count: rowWidth)
    }

    /// Makes room for `required` rows (at most `limit`, the context length).
    func reserve(_ required: Int, limit: Int) {
        guard required > capacity else { return }
        let newCapacity = min(max(required, capacity * 2), max(limit, required))
        let newStorage = Self.allocate(blocks: 2 * layerCount, rows: newCapacity, rowBytes: rowBytes)
        for block in 0..<(2 * layerCount) {
            (newStorage + block * newCapacity * rowBytes).copyMemory(from: storage + block * capacity * rowBytes,
                                                                     byteCount: length * rowBytes)
        }
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    /// A copy holding the same cached rows.
    func copy() -> SequenceCache {
        let clone = SequenceCache(layerCount: layerCount, rowWidth: rowWidth, format: format, capacity: capacity)
        clone.length = length
        for layer in 0..<layerCount {
            clone.keys(layer).copyMemory(from: keys(layer), byteCount: length * rowBytes)
            clone.values(layer).copyMemory(from: values(layer), byteCount: length * rowBytes)
        }
        return clone
    }
}

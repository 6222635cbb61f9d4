/// A cache that can be copied for `forkSequence` and knows how many tokens it holds.
protocol SequenceStorage: AnyObject {
    var length: Int { get }
    func copy() -> Self
}

extension SequenceCache: SequenceStorage {}
extension Gemma3Cache: SequenceStorage {}

/// The live sequences of a model: ids handed out in order, each with its cache.
struct SequenceTable<Cache: SequenceStorage> {
    private var caches: [SequenceID: Cache] = [:]
    private var nextNumber = 0

    var count: Int { caches.count }

    mutating func add(_ cache: Cache) -> SequenceID {
        let id = SequenceID(nextNumber)
        nextNumber += 1
        caches[id] = cache
        return id
    }

    /// A new sequence holding a copy of `source`'s cache.
    mutating func fork(_ source: SequenceID) throws -> SequenceID { add(try cache(of: source).copy()) }

    func cache(of sequence: SequenceID) throws -> Cache {
        guard let cache = caches[sequence] else { throw ModelError.unknownSequence(sequence) }
        return cache
    }

    mutating func release(_ sequence: SequenceID) { caches[sequence] = nil }

    func length(of sequence: SequenceID) -> Int { caches[sequence]?.length ?? 0 }
}

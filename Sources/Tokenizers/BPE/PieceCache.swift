import Foundation

/// Token ids of recently encoded pieces. Natural text repeats a small set of words, so most pieces hit.
/// Shared by all threads that encode with one tokenizer; the lock is held only for the lookup or the insert,
/// never while merging.
final class PieceCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [[UInt8]: [Int32]] = [:]
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func tokens(of piece: [UInt8]) -> [Int32]? {
        lock.lock()
        defer { lock.unlock() }
        return entries[piece]
    }

    func store(_ tokens: [Int32], for piece: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        // Dropping everything when full keeps the bound without bookkeeping; the hot words return at once.
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[piece] = tokens
    }
}

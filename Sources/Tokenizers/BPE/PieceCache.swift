import Foundation

/// Token ids of recently encoded pieces. Natural text repeats a small set of words, so most pieces hit.
/// Shared by all threads that encode with one tokenizer; the lock is held only for the lookup or the insert,
/// never while merging. Pieces of up to 15 bytes (nearly all) are keyed by two packed integers, so a lookup
/// neither allocates nor hashes byte by byte.
final class PieceCache: @unchecked Sendable {
    private struct ShortKey: Hashable {
        let low: UInt64
        let high: UInt64  // bytes 8..<15, length in the top byte

        init?(_ piece: UnsafeBufferPointer<UInt8>) {
            guard piece.count <= 15 else { return nil }
            var low: UInt64 = 0, high = UInt64(piece.count) << 56
            for (index, byte) in piece.enumerated() {
                if index < 8 { low |= UInt64(byte) << (8 * index) } else { high |= UInt64(byte) << (8 * (index - 8)) }
            }
            self.low = low
            self.high = high
        }
    }

    static let longestCachedPiece = 256

    private let lock = NSLock()
    private var short: [ShortKey: [Int32]] = [:]
    private var long: [[UInt8]: [Int32]] = [:]
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    private enum Key {
        case short(ShortKey)
        case long([UInt8])

        init(_ piece: UnsafeBufferPointer<UInt8>) {
            if let key = ShortKey(piece) { self = .short(key) } else { self = .long(Array(piece)) }
        }
    }

    func tokens(of piece: UnsafeBufferPointer<UInt8>) -> [Int32]? {
        let key = Key(piece)
        lock.lock()
        defer { lock.unlock() }
        switch key {
        case let .short(key): return short[key]
        case let .long(key): return long[key]
        }
    }

    func store(_ tokens: [Int32], for piece: UnsafeBufferPointer<UInt8>) {
        let key = Key(piece)
        lock.lock()
        defer { lock.unlock() }
        // Dropping everything when full keeps the bound without bookkeeping; the common words return at once.
        if short.count + long.count >= capacity {
            short.removeAll(keepingCapacity: true)
            long.removeAll(keepingCapacity: true)
        }
        switch key {
        case let .short(key): short[key] = tokens
        case let .long(key): long[key] = tokens
        }
    }
}

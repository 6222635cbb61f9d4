/// Byte-level BPE over token ids: a piece starts as one token per byte and adjacent pairs are merged, lowest merge
/// rank first and leftmost first among equal ranks, until no pair has a rule. This is the order of llama.cpp's
/// and Hugging Face's implementations (and of GPT-2's reference `bpe()`, which merges all occurrences of the best
/// pair at once: new pairs always have other ranks, so the results agree).
struct BytePairMerger: Sendable {
    /// byteTokens[b] is the id of the token spelling the single byte b, -1 when the vocabulary has none.
    let byteTokens: [Int32]
    private let spellsEveryByte: Bool
    /// (left id << 32 | right id) → (rank << 32 | merged id).
    private let rules: [UInt64: UInt64]
    /// Whole-piece vocabulary entries that skip merging (Hugging Face `ignore_merges`); nil when off.
    private let wholePieces: [[UInt8]: Int32]?

    init(byteTokens: [Int32], merges: [(left: Int32, right: Int32, merged: Int32)], wholePieces: [[UInt8]: Int32]?) {
        self.byteTokens = byteTokens
        spellsEveryByte = !byteTokens.contains(-1)
        var rules: [UInt64: UInt64] = [:]
        rules.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            let key = Self.key(merge.left, merge.right)
            // A repeated rule keeps its first (best) rank, as in both reference implementations.
            if rules[key] == nil { rules[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merge.merged)) }
        }
        self.rules = rules
        self.wholePieces = wholePieces
    }

    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// The tokens of one piece, appended to `output`. Bytes without a token are dropped and no merge spans them
    /// (llama.cpp keeps such a byte as a symbol no rule mentions, then finds no token for it).
    func encode(_ piece: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        guard spellsEveryByte else {
            var runStart = 0
            for index in 0...piece.count where index == piece.count || byteTokens[Int(piece[index])] < 0 {
                if runStart < index { encodeSpellable(UnsafeBufferPointer(rebasing: piece[runStart..<index]), into: &output) }
                runStart = index + 1
            }
            return
        }
        encodeSpellable(piece, into: &output)
    }

    private func encodeSpellable(_ piece: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        if piece.count == 1 { output.append(byteTokens[Int(piece[0])]); return }
        if let wholePieces, let whole = wholePieces[Array(piece)] { output.append(whole); return }
        var state = MergeState(piece: piece, byteTokens: byteTokens)
        state.run(rules: rules)
        state.emit(into: &output)
    }

    /// Symbols as a doubly linked list over an array, candidate pairs in a min-heap keyed by (rank, left index).
    /// Entries whose symbols changed since they were queued are skipped when popped.
    private struct MergeState {
        var ids: [Int32]
        var previous: [Int32]
        var next: [Int32]
        var heap: [UInt64] = []  // rank << 32 | left index; smaller is better

        init(piece: UnsafeBufferPointer<UInt8>, byteTokens: [Int32]) {
            let count = piece.count
            ids = piece.map { byteTokens[Int($0)] }
            previous = (0..<Int32(count)).map { $0 - 1 }
            next = (0..<Int32(count)).map { $0 + 1 == Int32(count) ? -1 : $0 + 1 }
        }

        mutating func run(rules: [UInt64: UInt64]) {
            heap.reserveCapacity(ids.count)
            for left in 0..<(ids.count - 1) { push(left: Int32(left), rules: rules) }
            while let top = pop() {
                let left = Int32(truncatingIfNeeded: top & 0xFFFF_FFFF)
                let rank = top >> 32
                let right = next[Int(left)]
                // Stale: the left symbol was absorbed (id -1) or the pair changed since it was queued.
                guard ids[Int(left)] >= 0, right >= 0,
                      let rule = rules[BytePairMerger.key(ids[Int(left)], ids[Int(right)])], rule >> 32 == rank
                else { continue }
                ids[Int(left)] = Int32(truncatingIfNeeded: rule & 0xFFFF_FFFF)
                ids[Int(right)] = -1
                let after = next[Int(right)]
                next[Int(left)] = after
                if after >= 0 { previous[Int(after)] = left }
                if previous[Int(left)] >= 0 { push(left: previous[Int(left)], rules: rules) }
                push(left: left, rules: rules)
            }
        }

        func emit(into output: inout [Int32]) {
            var index: Int32 = 0
            while index >= 0 {
                output.append(ids[Int(index)])
                index = next[Int(index)]
            }
        }

        private mutating func push(left: Int32, rules: [UInt64: UInt64]) {
            let right = next[Int(left)]
            guard right >= 0, let rule = rules[BytePairMerger.key(ids[Int(left)], ids[Int(right)])] else { return }
            heap.append((rule >> 32) << 32 | UInt64(UInt32(left)))
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard heap[child] < heap[parent] else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }

        private mutating func pop() -> UInt64? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var parent = 0
                while true {
                    let left = 2 * parent + 1, right = left + 1
                    var smallest = parent
                    if left < heap.count, heap[left] < heap[smallest] { smallest = left }
                    if right < heap.count, heap[right] < heap[smallest] { smallest = right }
                    if smallest == parent { break }
                    heap.swapAt(parent, smallest)
                    parent = smallest
                }
            }
            return top
        }
    }
}

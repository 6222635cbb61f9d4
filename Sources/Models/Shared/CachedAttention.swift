import Tensors

/// Attention of a forward call's query rows against their sequences' key/value caches, shared by the decoders:
/// prefill steps as GEMMs per head, short steps row by row, both spread over the compute pool.
enum CachedAttention {
    struct Shape {
        let heads: Int
        let keyValueHeads: Int
        let headDimension: Int
        var queryWidth: Int { heads * headDimension }
        var keyValueWidth: Int { keyValueHeads * headDimension }
        /// Row width of the fused q, k, v projection: [Q + 2 KV].
        var qkvWidth: Int { queryWidth + 2 * keyValueWidth }
        var group: Int { heads / keyValueHeads }
    }

    /// Steps `which` (each step's rows consecutive, from its cache position on): out: [T, Q] ← q rows of
    /// qkv: [T, Q + 2 KV] attending causally to rows 0...position of layer `cacheLayer` of caches[step].
    static func blocks(_ s: Shape, cacheLayer l: Int, out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
                       steps: [Range<Int>], which: [Int], positions: UnsafeBufferPointer<Int>, caches: [SequenceCache]) {
        let H = s.heads, D = s.headDimension, Q = s.queryWidth, QKV = s.qkvWidth
        ComputePool.parallelFor(which.count * H) { jobs in
            for job in jobs {
                let step = which[job / H], h = job % H, rows = steps[step]
                let cache = caches[step], kvOffset = (h / s.group) * D * cache.format.bytesPerElement
                Attention.forwardBlock(out: out + rows.lowerBound * Q + h * D, outStride: Q,
                                       query: qkv + rows.lowerBound * QKV + h * D, queryStride: QKV,
                                       keys: cache.keys(l) + kvOffset, values: cache.values(l) + kvOffset,
                                       format: cache.format, kvStride: s.keyValueWidth, start: positions[rows.lowerBound],
                                       rows: rows.count, headDimension: D)
            }
        }
    }

    /// Single rows: out[t]: [Q] ← q of qkv[t] attending to rows 0..<length(t) of layer `cacheLayer` of
    /// caches[rowStep[t]] (softmax does not depend on the order of the cached rows, so a ring buffer works too).
    static func rows(_ s: Shape, cacheLayer l: Int, out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
                     rows: [Int], rowStep: [Int], caches: [SequenceCache], length: (Int) -> Int) {
        let H = s.heads, Q = s.queryWidth, QKV = s.qkvWidth
        // Scratch for the longest row of this call, not the whole context: a context-sized block (128 KiB at 4 heads
        // × 8192) reaches malloc's mmap threshold, and every task of every layer would map and fault it anew.
        let lengths = rows.map(length)
        let longest = lengths.max() ?? 1
        ComputePool.parallelFor(rows.count * H, grain: 2) { items in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: Attention.scoreScratchCount(length: longest))
            defer { scores.deallocate() }
            var item = items.lowerBound
            while item < items.upperBound {
                let index = item / H, t = rows[index], firstHead = item % H
                let lastHead = min(H, firstHead + (items.upperBound - item))
                let cache = caches[rowStep[t]]
                Attention.forwardRow(out: out + t * Q, query: qkv + t * QKV, keys: cache.keys(l), values: cache.values(l),
                                     format: cache.format, length: lengths[index], heads: H, keyValueHeads: s.keyValueHeads,
                                     headDimension: s.headDimension, scores: scores, heads: firstHead..<lastHead)
                item += lastHead - firstHead
            }
        }
    }
}

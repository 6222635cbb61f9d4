import CBLAS
import CKernels
import Foundation

/// How a key/value cache stores its rows: f32, or IEEE half precision (half the bytes decode attention reads from
/// memory every step, at a relative rounding of 2^-11 per element).
public enum KeyValueFormat: Sendable {
    case f32, f16

    public var bytesPerElement: Int { self == .f32 ? 4 : 2 }
    var kernelCode: Int32 { self == .f32 ? Int32(TORL_KV_F32) : Int32(TORL_KV_F16) }

    /// dst: [count] in this format ← src: [count] f32
    public func store(_ src: UnsafePointer<Float>, to dst: UnsafeMutableRawPointer, count: Int) {
        switch self {
        case .f32: dst.assumingMemoryBound(to: Float.self).update(from: src, count: count)
        case .f16: torl_f32_to_f16(src, dst.assumingMemoryBound(to: UInt16.self), count)
        }
    }

    /// dst: [count] f32 ← src: [count] in this format
    public func load(_ src: UnsafeRawPointer, to dst: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        case .f16: torl_f16_to_f32(src.assumingMemoryBound(to: UInt16.self), dst, count)
        }
    }
}

/// Causal grouped-query attention of new query rows against a key/value cache.
public enum Attention {
    /// One query row of one sequence: out: [H * D] ← q: [H * D] attending to keys, values: [L, KVH * D] in `format`
    /// (rows 0..<L of the sequence's cache, L including the query's own position), for the query heads `headRange`.
    /// Query head h reads key/value head h / (H / KVH); the heads of one key/value head go to the kernel together,
    /// so each cached row is read once for them. scores: scratch of `scoreScratchCount(length:)` floats.
    public static func forwardRow(out: UnsafeMutablePointer<Float>, query q: UnsafePointer<Float>,
                                  keys: UnsafeRawPointer, values: UnsafeRawPointer, format: KeyValueFormat = .f32, length L: Int,
                                  heads H: Int, keyValueHeads KVH: Int, headDimension D: Int,
                                  scores: UnsafeMutablePointer<Float>, heads headRange: Range<Int>) {
        let stride = KVH * D
        let group = H / KVH
        let scale = Float(1.0 / Double(D).squareRoot())
        var h = headRange.lowerBound
        while h < headRange.upperBound {
            let kvHead = h / group
            let end = min(headRange.upperBound, (kvHead + 1) * group)
            let kvOffset = kvHead * D * format.bytesPerElement
            torl_attention_heads(q + h * D, end - h, keys + kvOffset, values + kvOffset, L, D, stride, format.kernelCode,
                                 scale, out + h * D, scores)
            h = end
        }
    }

    /// Floats of score scratch `forwardRow` needs for `length` cached rows.
    public static func scoreScratchCount(length: Int) -> Int { Int(TORL_ATTENTION_MAX_GROUP) * max(length, 1) }

    /// Query rows processed per GEMM pair in `forwardBlock`; bounds the score scratch to this many rows.
    static let queryBlock = 128

    /// Many consecutive query rows of one sequence and one head, as two GEMMs per block of rows (prefill).
    /// out: [n, D] (row stride outStride) ← q: [n, D] (stride queryStride) attending to keys, values: [start + n, D]
    /// (stride kvStride); query row i sits at position start + i and sees keys 0...start + i, or only the last
    /// `window` of them (sliding-window attention: keys start + i − window + 1 ... start + i).
    /// With f16 keys and values, rows 0..<start + n of the head are widened to f32 first (prefill: a small cost
    /// next to the GEMMs).
    public static func forwardBlock(out: UnsafeMutablePointer<Float>, outStride: Int,
                                    query q: UnsafePointer<Float>, queryStride: Int,
                                    keys: UnsafeRawPointer, values: UnsafeRawPointer, format: KeyValueFormat = .f32,
                                    kvStride: Int, start: Int, rows n: Int, headDimension D: Int, window: Int = .max) {
        switch format {
        case .f32:
            forwardBlock(out: out, outStride: outStride, query: q, queryStride: queryStride,
                         keys: keys.assumingMemoryBound(to: Float.self), values: values.assumingMemoryBound(to: Float.self),
                         kvStride: kvStride, start: start, rows: n, headDimension: D, window: window)
        case .f16:
            let L = start + n
            // keys, values: [L, D] f32
            let widened = UnsafeMutablePointer<Float>.allocate(capacity: 2 * L * D)
            defer { widened.deallocate() }
            for j in 0..<L {
                format.load(keys + j * kvStride * format.bytesPerElement, to: widened + j * D, count: D)
                format.load(values + j * kvStride * format.bytesPerElement, to: widened + (L + j) * D, count: D)
            }
            forwardBlock(out: out, outStride: outStride, query: q, queryStride: queryStride, keys: widened,
                         values: widened + L * D, kvStride: D, start: start, rows: n, headDimension: D, window: window)
        }
    }

    /// The softmax of one row of attention scores over the keys it sees: row[visible] ← exp(row − max) / Σ, every
    /// other entry of row[0..<columns] zeroed. Returns the maximum and the sum (log-sum-exp = maximum + log sum).
    /// Inference's block attention and training's causal attention share it, so their probabilities are the same
    /// floats. row: [columns]
    @inline(__always) @discardableResult
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, visible: Range<Int>,
                           columns: Int) -> (maximum: Float, sum: Float) {
        var maximum = -Float.infinity
        for j in visible { maximum = max(maximum, row[j]) }
        var sum: Float = 0
        for j in visible {
            let e = expf(row[j] - maximum)
            row[j] = e
            sum += e
        }
        let inverse = 1 / sum
        for j in visible { row[j] *= inverse }
        for j in 0..<visible.lowerBound { row[j] = 0 }
        for j in visible.upperBound..<columns { row[j] = 0 }
        return (maximum, sum)
    }

    /// forwardBlock over f32 keys and values.
    static func forwardBlock(out: UnsafeMutablePointer<Float>, outStride: Int,
                             query q: UnsafePointer<Float>, queryStride: Int,
                             keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int,
                             start: Int, rows n: Int, headDimension D: Int, window: Int = .max) {
        let scale = Float(1.0 / Double(D).squareRoot())
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: min(n, queryBlock) * (start + n))
        defer { scores.deallocate() }
        var first = 0
        while first < n {
            let count = min(queryBlock, n - first)
            let L = start + first + count  // keys the last row of this block sees
            // scores: [count, L] = scale · q[first..<first+count] · keys[0..<L]ᵀ
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(L), Int32(D), scale,
                        q + first * queryStride, Int32(queryStride), keys, Int32(kvStride), 0, scores, Int32(L))
            for i in 0..<count {
                let visible = start + first + i + 1
                softmaxRow(scores + i * L, visible: max(0, visible - window)..<visible, columns: L)
            }
            // out[first..<first+count]: [count, D] = scores · values[0..<L]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), Int32(D), Int32(L), 1,
                        scores, Int32(L), values, Int32(kvStride), 0, out + first * outStride, Int32(outStride))
            first += count
        }
    }
}

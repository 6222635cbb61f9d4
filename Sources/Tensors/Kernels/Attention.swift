import CKernels
import Foundation

/// Causal grouped-query attention of new query rows against a key/value cache.
public enum Attention {
    /// One query row of one sequence: out: [H * D] ← q: [H * D] attending to keys, values: [L, KVH * D]
    /// (rows 0..<L of the sequence's cache, L including the query's own position). Query head h reads key/value
    /// head h / (H / KVH). scores: scratch of at least L floats.
    public static func forwardRow(out: UnsafeMutablePointer<Float>, query q: UnsafePointer<Float>,
                                  keys: UnsafePointer<Float>, values: UnsafePointer<Float>, length L: Int,
                                  heads H: Int, keyValueHeads KVH: Int, headDimension D: Int,
                                  scores: UnsafeMutablePointer<Float>, heads headRange: Range<Int>) {
        let stride = KVH * D
        let group = H / KVH
        let scale = Float(1.0 / Double(D).squareRoot())
        for h in headRange {
            let kvOffset = (h / group) * D
            let qh = q + h * D
            var maximum = -Float.infinity
            for j in 0..<L {
                let s = torl_dot(qh, keys + j * stride + kvOffset, D) * scale
                scores[j] = s
                maximum = max(maximum, s)
            }
            var sum: Float = 0
            for j in 0..<L {
                let e = expf(scores[j] - maximum)
                scores[j] = e
                sum += e
            }
            let outHead = out + h * D
            outHead.update(repeating: 0, count: D)
            let inverse = 1 / sum
            for j in 0..<L { torl_axpy(scores[j] * inverse, values + j * stride + kvOffset, outHead, D) }
        }
    }
}

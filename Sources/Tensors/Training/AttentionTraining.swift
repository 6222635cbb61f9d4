import Foundation

/// The training pair of attention: causal multi-head attention with grouped key/value heads over a whole
/// sequence (segment) of `length` tokens at once, where the engine's `forwardRow` serves one decode row and its
/// `forwardBlock` keeps nothing for a backward pass.
///
/// Rows are processed in blocks of `causalBlockRows` so that only the causal part of the score matrix is computed and
/// scratch memory is [causalBlockRows, length], never [length, length] per head. The forward pass keeps only the
/// row log-sum-exp; the backward pass recomputes the probabilities from it (FlashAttention's trade). Heads (forward)
/// and key/value groups (backward: a group's heads all add into its dK and dV) run in parallel on `ComputePool`.
extension Attention {
    public static let causalBlockRows = 128

    public struct CausalShape: Sendable {
        public var length: Int
        public var heads: Int
        public var keyValueHeads: Int
        public var headDimension: Int
        /// Keys a row sees, its own included (Gemma 3's sliding window): row i attends to max(0, i − window + 1)...i.
        public var window: Int
        public init(length: Int, heads: Int, keyValueHeads: Int, headDimension: Int, window: Int = .max) {
            self.length = length
            self.heads = heads
            self.keyValueHeads = keyValueHeads
            self.headDimension = headDimension
            self.window = window
        }
        /// The first key row i sees.
        func firstVisible(_ i: Int) -> Int { i >= window ? i - window + 1 : 0 }
        var queryStride: Int { heads * headDimension }
        var keyValueStride: Int { keyValueHeads * headDimension }
        var scale: Float { 1 / Float(headDimension).squareRoot() }
        var headsPerGroup: Int { heads / keyValueHeads }
        var blockScratchCount: Int { min(Attention.causalBlockRows, max(length, 1)) * max(length, 1) }
    }

    // q: [length, heads, d], k, v: [length, kvHeads, d] → out: [length, heads, d], logSumExp: [heads, length]
    public static func causalForward(out: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>,
                                     q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                     shape: CausalShape) {
        ComputePool.parallelFor(shape.heads) { heads in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: shape.blockScratchCount)
            defer { scores.deallocate() }
            for head in heads {
                causalForwardHead(head, out: out, logSumExp: logSumExp, q: q, k: k, v: v, shape: shape, scores: scores)
            }
        }
    }

    private static func causalForwardHead(_ head: Int, out: UnsafeMutablePointer<Float>,
                                          logSumExp: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                                          k: UnsafePointer<Float>, v: UnsafePointer<Float>, shape: CausalShape,
                                          scores: UnsafeMutablePointer<Float>) {
        let t = shape.length, d = shape.headDimension
        let group = head / shape.headsPerGroup
        var blockStart = 0
        while blockStart < t {
            let blockEnd = min(blockStart + causalBlockRows, t)
            let rows = blockEnd - blockStart, columns = blockEnd
            // scores: [rows, columns] = scale · Q[block] · K[0..<blockEnd]ᵀ
            GEMM.multiplySerial(transposeA: false, transposeB: true, m: rows, n: columns, k: d, alpha: shape.scale,
                                a: q + blockStart * shape.queryStride + head * d, lda: shape.queryStride,
                                b: k + group * d, ldb: shape.keyValueStride, beta: 0, c: scores, ldc: columns)
            for r in 0..<rows {
                let i = blockStart + r
                let (maximum, sum) = softmaxRow(scores + r * columns, visible: shape.firstVisible(i)..<(i + 1),
                                                columns: columns)
                logSumExp[head * t + i] = maximum + logf(sum)
            }
            // out[block, head]: [rows, d] = P · V[0..<blockEnd]
            GEMM.multiplySerial(transposeA: false, transposeB: false, m: rows, n: d, k: columns,
                                a: scores, lda: columns, b: v + group * d, ldb: shape.keyValueStride,
                                beta: 0, c: out + blockStart * shape.queryStride + head * d, ldc: shape.queryStride)
            blockStart = blockEnd
        }
    }

    /// With P the attention probabilities and Dᵢ = Σ dOᵢ·Oᵢ: dS = P ∘ (dO·Vᵀ − D); dQ += scale·dS·K;
    /// dK += scale·dSᵀ·Q; dV += Pᵀ·dO. Accumulates into dq, dk, dv.
    // dOut: [length, heads, d] → dq: [length, heads, d] +=, dk, dv: [length, kvHeads, d] +=
    public static func causalBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                      dv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                      out: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>,
                                      q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                      shape: CausalShape) {
        ComputePool.parallelFor(shape.keyValueHeads) { groups in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * shape.blockScratchCount)
            defer { scratch.deallocate() }
            for group in groups {
                for head in (group * shape.headsPerGroup)..<((group + 1) * shape.headsPerGroup) {
                    causalBackwardHead(head, dq: dq, dk: dk, dv: dv, dOut: dOut, out: out, logSumExp: logSumExp,
                                       q: q, k: k, v: v, shape: shape, scratch: scratch)
                }
            }
        }
    }

    private static func causalBackwardHead(_ head: Int, dq: UnsafeMutablePointer<Float>,
                                           dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                           dOut: UnsafePointer<Float>, out: UnsafePointer<Float>,
                                           logSumExp: UnsafePointer<Float>, q: UnsafePointer<Float>,
                                           k: UnsafePointer<Float>, v: UnsafePointer<Float>, shape: CausalShape,
                                           scratch: UnsafeMutablePointer<Float>) {
        let t = shape.length, d = shape.headDimension
        let group = head / shape.headsPerGroup
        let probabilities = scratch
        let dScores = scratch + shape.blockScratchCount
        var blockStart = 0
        while blockStart < t {
            let blockEnd = min(blockStart + causalBlockRows, t)
            let rows = blockEnd - blockStart, columns = blockEnd
            let qBlock = q + blockStart * shape.queryStride + head * d
            let dOutBlock = dOut + blockStart * shape.queryStride + head * d
            GEMM.multiplySerial(transposeA: false, transposeB: true, m: rows, n: columns, k: d, alpha: shape.scale,
                                a: qBlock, lda: shape.queryStride, b: k + group * d, ldb: shape.keyValueStride,
                                beta: 0, c: probabilities, ldc: columns)
            for r in 0..<rows {
                let i = blockStart + r
                let row = probabilities + r * columns
                let lse = logSumExp[head * t + i]
                let first = shape.firstVisible(i)
                for j in first...i { row[j] = expf(row[j] - lse) }
                for j in 0..<first { row[j] = 0 }
                for j in (i + 1)..<columns { row[j] = 0 }
            }
            // dP: [rows, columns] = dO[block] · V[0..<blockEnd]ᵀ
            GEMM.multiplySerial(transposeA: false, transposeB: true, m: rows, n: columns, k: d,
                                a: dOutBlock, lda: shape.queryStride, b: v + group * d, ldb: shape.keyValueStride,
                                beta: 0, c: dScores, ldc: columns)
            // dV[0..<blockEnd]: [columns, d] += Pᵀ · dO[block]
            GEMM.multiplySerial(transposeA: true, transposeB: false, m: columns, n: d, k: rows,
                                a: probabilities, lda: columns, b: dOutBlock, ldb: shape.queryStride,
                                beta: 1, c: dv + group * d, ldc: shape.keyValueStride)
            for r in 0..<rows {
                let i = blockStart + r
                let outRow = out + i * shape.queryStride + head * d
                let dOutRow = dOutBlock + r * shape.queryStride
                var rowDot: Float = 0
                for c in 0..<d { rowDot += outRow[c] * dOutRow[c] }
                let p = probabilities + r * columns
                let ds = dScores + r * columns
                for j in 0..<columns { ds[j] = p[j] * (ds[j] - rowDot) }
            }
            // dQ[block]: [rows, d] += scale · dS · K[0..<blockEnd]
            GEMM.multiplySerial(transposeA: false, transposeB: false, m: rows, n: d, k: columns, alpha: shape.scale,
                                a: dScores, lda: columns, b: k + group * d, ldb: shape.keyValueStride,
                                beta: 1, c: dq + blockStart * shape.queryStride + head * d, ldc: shape.queryStride)
            // dK[0..<blockEnd]: [columns, d] += scale · dSᵀ · Q[block]
            GEMM.multiplySerial(transposeA: true, transposeB: false, m: columns, n: d, k: rows, alpha: shape.scale,
                                a: dScores, lda: columns, b: qBlock, ldb: shape.queryStride,
                                beta: 1, c: dk + group * d, ldc: shape.keyValueStride)
            blockStart = blockEnd
        }
    }
}

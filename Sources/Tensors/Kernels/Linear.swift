import CBLAS
import CKernels

/// Linear layer Y = X·Wᵀ + b, with W stored [out, in] (docs/ARCHITECTURE.md conventions).
///
/// f32 weights: batches of at least `sgemmMinimumRows` rows run sgemm, smaller ones the bandwidth-bound own kernel.
/// bf16 weights: the activations are rounded to bf16 too and every batch size runs the bf16 dot-product kernel
/// (AVX512_BF16: twice the multiply rate of f32 FMA, half the weight bytes), so results do not depend on how
/// requests were batched.
public enum Linear {
    /// Batches at least this large go to sgemm (f32 weights). Smaller batches are weight-bandwidth bound and run
    /// the own kernel, which streams each weight row once for the whole batch (measured: at batch 8 it gives 213
    /// tok/s against sgemm's 160; the two meet between 32 and 64 rows).
    public static let sgemmMinimumRows = 48
    /// Activation rows one bf16 pass covers: their bf16 copy (rows × C × 2 bytes) stays in L2 while every weight
    /// block passes over it.
    public static let bf16RowsPerPass = 256
    /// Activation rows one int8 pass covers (their quantized copy, rows × C bytes, stays in L2).
    public static let int8RowsPerPass = 256
    /// Activation rows rounded to bf16 per parallel task: fewer rows are rounded on the calling thread.
    static let roundingRowGrain = 8

    /// out: [T, OC] = inp: [T, C] · weight: [OC, C]ᵀ (+ bias: [OC]); with `accumulate`, out += that instead.
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: WeightMatrix,
                               bias: UnsafePointer<Float>?, rows T: Int, accumulate: Bool = false) {
        let C = weight.columns, OC = weight.rows
        guard T > 0, OC > 0 else { return }
        switch weight.precision {
        case .f32 where T >= sgemmMinimumRows:
            // One slice of W per thread: each slice re-packs the activations, so fewer is better.
            ComputePool.parallelFor(OC, grain: max(16, OC / ComputePool.workerCount), alignment: 16) { range in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(range.count), Int32(C),
                            1, inp, Int32(C), weight.float32 + range.lowerBound * C, Int32(C),
                            accumulate ? 1 : 0, out + range.lowerBound, Int32(OC))
            }
        case .f32:
            ComputePool.parallelFor(OC, grain: 16, alignment: 4) { range in
                torl_linear_f32(inp, T, C, weight.float32, range.lowerBound, range.upperBound, out, OC, accumulate ? 1 : 0)
            }
        case .bf16:
            // x rounded to bf16: [T, 2 ceil(C / 2)], the padding column zero when C is odd.
            let stride = (C + 1) / 2 * 2
            let rounded = UnsafeMutablePointer<UInt16>.allocate(capacity: T * stride)
            defer { rounded.deallocate() }
            // Split across the pool for batches (on one thread the other core would idle through it).
            ComputePool.parallelFor(T, grain: roundingRowGrain) { rows in
                for t in rows {
                    BFloat16.narrow(inp + t * C, rounded + t * stride, count: C)
                    if stride > C { rounded[t * stride + C] = 0 }
                }
            }
            var first = 0
            while first < T {
                let count = min(bf16RowsPerPass, T - first)
                let x = UnsafePointer(rounded + first * stride), y = out + first * OC
                ComputePool.parallelFor(weight.panelCount, grain: 1) { panels in
                    torl_linear_bf16_packed(x, stride, count, C, weight.packedBFloat16, OC, panels.lowerBound, panels.upperBound,
                                            y, OC, accumulate ? 1 : 0)
                }
                first += count
            }
        case .int8:
            forwardInt8(out: out, inp: inp, weight: weight, rows: T, accumulate: accumulate)
        }
        if let bias { addBias(out: out, bias: bias, rows: T, columns: OC) }
    }

    /// out: [T, OC] (+)= inp: [T, C] · weight: [OC, C]ᵀ for int8 weights: the activations are quantized per token and
    /// block of `TORL_Q8_BLOCK` inputs (split across the pool), then every batch size runs the VNNI kernel, so
    /// results do not depend on how requests were batched.
    static func forwardInt8(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: WeightMatrix,
                            rows T: Int, accumulate: Bool) {
        let C = weight.columns, OC = weight.rows
        let stride = torl_q8_padded_columns(C), blocks = stride / Int(TORL_Q8_BLOCK)
        // xq: [T, stride] codes; xs, xsum: [T, blocks]
        let quantized = UnsafeMutablePointer<Int8>.allocate(capacity: T * stride)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: 2 * T * blocks)
        let scaledSums = scales + T * blocks
        defer { quantized.deallocate(); scales.deallocate() }
        ComputePool.parallelFor(T, grain: roundingRowGrain) { rows in
            torl_quantize_q8(inp + rows.lowerBound * C, rows.count, C, C, quantized + rows.lowerBound * stride, stride,
                             scales + rows.lowerBound * blocks, scaledSums + rows.lowerBound * blocks)
        }
        var first = 0
        while first < T {
            let count = min(int8RowsPerPass, T - first)
            let x = UnsafePointer(quantized + first * stride)
            let xs = UnsafePointer(scales + first * blocks), xsum = UnsafePointer(scaledSums + first * blocks)
            let y = out + first * OC
            ComputePool.parallelFor(weight.panelCount, grain: 1) { panels in
                torl_linear_q8(x, stride, xs, xsum, count, weight.packedInt8, weight.blockSteps, weight.blockMinimums, OC,
                               panels.lowerBound, panels.upperBound, y, OC, accumulate ? 1 : 0)
            }
            first += count
        }
    }

    /// out: [T, OC] += bias: [OC] on every row
    public static func addBias(out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows T: Int, columns OC: Int) {
        for t in 0..<T {
            let row = out + t * OC
            for o in 0..<OC { row[o] += bias[o] }
        }
    }
}

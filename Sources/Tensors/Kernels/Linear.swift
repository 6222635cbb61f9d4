import CBLAS
import CKernels

/// Linear layer Y = X·Wᵀ + b, with W stored [out, in] (docs/ARCHITECTURE.md conventions).
public enum Linear {
    /// Batches at least this large go to sgemm (f32 weights). Smaller batches are weight-bandwidth bound and run
    /// the own kernel, which streams each weight row once for the whole batch.
    public static let sgemmMinimumRowsF32 = 8
    /// For bf16 weights sgemm needs the weights widened to f32 first (there is no bf16 GEMM in this OpenBLAS);
    /// each task widens a slice of rows small enough to stay in L2 and multiplies it at once.
    public static let sgemmMinimumRowsBF16 = 16
    /// Floats of widened bf16 weights one GEMM task multiplies at once: 1 MiB, the L2 of one core here.
    public static let widenedFloatsPerTask = 1 << 18

    /// out: [T, OC] = inp: [T, C] · weight: [OC, C]ᵀ (+ bias: [OC]); with `accumulate`, out += that instead.
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: WeightMatrix,
                               bias: UnsafePointer<Float>?, rows T: Int, accumulate: Bool = false) {
        let C = weight.columns, OC = weight.rows
        guard T > 0, OC > 0 else { return }
        let useGEMM = T >= (weight.precision == .f32 ? sgemmMinimumRowsF32 : sgemmMinimumRowsBF16)
        if useGEMM {
            // f32: one slice of W per thread (each slice re-packs the activations, so fewer is better);
            // bf16: slices small enough that the widened copy stays in L2 while sgemm reads it.
            let grain = max(16, OC / ComputePool.workerCount)
            let maximumChunk = weight.precision == .bf16 ? max(16, widenedFloatsPerTask / C / 16 * 16) : .max
            ComputePool.parallelFor(OC, grain: grain, alignment: 16, maximumChunk: maximumChunk) { range in
                gemm(out: out, inp: inp, weight: weight, rows: T, outputs: range, accumulate: accumulate)
            }
        } else {
            ComputePool.parallelFor(OC, grain: 16, alignment: 4) { range in
                switch weight.precision {
                case .f32:
                    torl_linear_f32(inp, T, C, weight.float32, range.lowerBound, range.upperBound, out, OC, accumulate ? 1 : 0)
                case .bf16:
                    torl_linear_bf16(inp, T, C, weight.bfloat16, range.lowerBound, range.upperBound, out, OC, accumulate ? 1 : 0)
                }
            }
        }
        if let bias { addBias(out: out, bias: bias, rows: T, columns: OC) }
    }

    /// out[:, outputs]: [T, outputs.count] (+)= inp: [T, C] · W[outputs, :]ᵀ with single-threaded sgemm.
    static func gemm(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: WeightMatrix, rows T: Int,
                     outputs: Range<Int>, accumulate: Bool) {
        let C = weight.columns, OC = weight.rows, N = outputs.count
        func multiply(_ w: UnsafePointer<Float>) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(N), Int32(C),
                        1, inp, Int32(C), w, Int32(C), accumulate ? 1 : 0, out + outputs.lowerBound, Int32(OC))
        }
        switch weight.precision {
        case .f32:
            multiply(weight.float32 + outputs.lowerBound * C)
        case .bf16:
            let widened = UnsafeMutablePointer<Float>.allocate(capacity: N * C)
            defer { widened.deallocate() }
            weight.copyRows(outputs, to: widened)
            multiply(widened)
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

import CBLAS
import CKernels

/// Linear layer Y = X·Wᵀ + b, with W stored [out, in] (docs/ARCHITECTURE.md conventions).
public enum Linear {
    /// Batches at least this large go to OpenBLAS sgemm (f32 weights). Smaller batches are weight-bandwidth
    /// bound and run the own kernel, which streams each weight row once for the whole batch.
    public static var sgemmMinimumRowsF32 = 8
    /// For bf16 weights sgemm needs the weights widened to f32 first (there is no bf16 GEMM in this OpenBLAS),
    /// which pays off only for large batches (prefill).
    public static var sgemmMinimumRowsBF16 = 48
    /// Rows of W widened per sgemm call on the bf16 path: bounds the f32 scratch (this x in x 4 bytes).
    static let widenedRowsPerChunk = 2048

    /// out: [T, OC] = inp: [T, C] · weight: [OC, C]ᵀ (+ bias: [OC]); with `accumulate`, out += that instead.
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: WeightMatrix,
                               bias: UnsafePointer<Float>?, rows T: Int, accumulate: Bool = false) {
        let C = weight.columns, OC = weight.rows
        guard T > 0, OC > 0 else { return }
        switch weight.precision {
        case .f32 where T >= sgemmMinimumRowsF32:
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(OC), Int32(C),
                        1, inp, Int32(C), weight.float32, Int32(C), accumulate ? 1 : 0, out, Int32(OC))
        case .bf16 where T >= sgemmMinimumRowsBF16:
            widenedGEMM(out: out, inp: inp, weight: weight, rows: T, accumulate: accumulate)
        case .f32:
            let w = weight.float32
            ComputePool.parallelFor(OC, grain: 16, alignment: 4) { range in
                torl_linear_f32(inp, T, C, w, range.lowerBound, range.upperBound, out, OC, accumulate ? 1 : 0)
            }
        case .bf16:
            let w = weight.bfloat16
            ComputePool.parallelFor(OC, grain: 16, alignment: 4) { range in
                torl_linear_bf16(inp, T, C, w, range.lowerBound, range.upperBound, out, OC, accumulate ? 1 : 0)
            }
        }
        if let bias { addBias(out: out, bias: bias, rows: T, columns: OC) }
    }

    /// out: [T, OC] (+)= inp: [T, C] · widen(weight)ᵀ, a chunk of weight rows at a time.
    static func widenedGEMM(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: WeightMatrix,
                            rows T: Int, accumulate: Bool) {
        let C = weight.columns, OC = weight.rows
        let chunkRows = min(OC, widenedRowsPerChunk)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunkRows * C)
        defer { scratch.deallocate() }
        var start = 0
        while start < OC {
            let count = min(chunkRows, OC - start)
            ComputePool.parallelFor(count, grain: 64) { range in
                weight.copyRows((start + range.lowerBound)..<(start + range.upperBound), to: scratch + range.lowerBound * C)
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(count), Int32(C),
                        1, inp, Int32(C), scratch, Int32(C), accumulate ? 1 : 0, out + start, Int32(OC))
            start += count
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

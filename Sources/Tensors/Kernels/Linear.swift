import CKernels

/// Linear layer Y = X·Wᵀ + b, with W stored [out, in] (docs/ARCHITECTURE.md conventions).
///
/// Every precision runs its own panel kernel for every batch size (one kernel from decode's single token to a
/// prefill's hundreds), so a token's result does not depend on how requests were batched. f32 weights: FMA over
/// f32 panels (faster than OpenBLAS sgemm on these shapes, and bandwidth-bound at batch 1). bf16 weights: the
/// activations are rounded to bf16 too and run the bf16 dot-product kernel (AVX512_BF16: twice the multiply rate of
/// f32 FMA, half the weight bytes). int8: 8-bit activation codes against 8-bit weight codes (AVX512_VNNI).
public enum Linear {
    /// Bytes of activations one pass over the weights covers: that slice of X stays in L2 (1 MiB here) while every
    /// weight panel streams past it.
    static let activationBytesPerPass = 256 * 1024
    /// Activation rows converted (bf16 rounding, int8 quantization) per parallel task: fewer rows are converted on
    /// the calling thread.
    static let conversionRowGrain = 8

    /// out: [T, OC] = inp: [T, C] · weight: [OC, C]ᵀ (+ bias: [OC]); with `accumulate`, out += that instead.
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: WeightMatrix,
                               bias: UnsafePointer<Float>?, rows T: Int, accumulate: Bool = false) {
        let C = weight.columns, OC = weight.rows
        guard T > 0, OC > 0 else { return }
        let add: Int32 = accumulate ? 1 : 0
        switch weight.precision {
        case .f32:
            inPasses(rows: T, rowBytes: C * 4, weight: weight) { first, count, panels in
                torl_linear_f32_packed(inp + first * C, C, count, C, weight.packedFloat32, OC, panels.lowerBound,
                                       panels.upperBound, out + first * OC, OC, add)
            }
        case .bf16:
            // x rounded to bf16: [T, 2 ceil(C / 2)], the padding column zero when C is odd.
            let stride = (C + 1) / 2 * 2
            let rounded = UnsafeMutablePointer<UInt16>.allocate(capacity: T * stride)
            defer { rounded.deallocate() }
            ComputePool.parallelFor(T, grain: conversionRowGrain) { rows in
                for t in rows {
                    BFloat16.narrow(inp + t * C, rounded + t * stride, count: C)
                    if stride > C { rounded[t * stride + C] = 0 }
                }
            }
            inPasses(rows: T, rowBytes: stride * 2, weight: weight) { first, count, panels in
                torl_linear_bf16_packed(rounded + first * stride, stride, count, C, weight.packedBFloat16, OC,
                                        panels.lowerBound, panels.upperBound, out + first * OC, OC, add)
            }
        case .int8:
            // x as 8-bit codes: [T, stride]; block scales and scaled code sums: [T, blocks] each.
            let stride = torl_q8_padded_columns(C), blocks = stride / Int(TORL_Q8_BLOCK)
            let codes = UnsafeMutablePointer<Int8>.allocate(capacity: T * stride)
            let scales = UnsafeMutablePointer<Float>.allocate(capacity: 2 * T * blocks)
            let scaledSums = scales + T * blocks
            defer { codes.deallocate(); scales.deallocate() }
            ComputePool.parallelFor(T, grain: conversionRowGrain) { rows in
                torl_quantize_q8(inp + rows.lowerBound * C, rows.count, C, C, codes + rows.lowerBound * stride, stride,
                                 scales + rows.lowerBound * blocks, scaledSums + rows.lowerBound * blocks)
            }
            inPasses(rows: T, rowBytes: stride, weight: weight) { first, count, panels in
                torl_linear_q8(codes + first * stride, stride, scales + first * blocks, scaledSums + first * blocks, count,
                               weight.packedInt8, weight.blockSteps, weight.blockMinimums, OC, panels.lowerBound,
                               panels.upperBound, out + first * OC, OC, add)
            }
        }
        if let bias { addBias(out: out, bias: bias, rows: T, columns: OC) }
    }

    /// Calls `kernel(first, count, panels)` for consecutive slices of the T activation rows (each at most
    /// `activationBytesPerPass`), each slice split across the pool by weight panels.
    static func inPasses(rows T: Int, rowBytes: Int, weight: WeightMatrix,
                         _ kernel: @escaping (_ first: Int, _ count: Int, _ panels: Range<Int>) -> Void) {
        let rowsPerPass = max(1, activationBytesPerPass / max(rowBytes, 1))
        var first = 0
        while first < T {
            let count = min(rowsPerPass, T - first), start = first
            // Ranges of whole 4-panel groups: a range ending inside a group runs its last panels one at a time.
            ComputePool.parallelFor(weight.panelCount, grain: 1, alignment: 4) { panels in kernel(start, count, panels) }
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

/// The training pair of the engine's `Linear` over raw f32 weights (trainable parameters live in one flat
/// buffer, not in `WeightMatrix` objects): y = x · wᵀ + b with w stored [out, in] row-major.
extension Linear {
    // x: [rows, inFeatures], weight: [outFeatures, inFeatures], bias: [outFeatures] → y: [rows, outFeatures]
    public static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int) {
        GEMM.multiply(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                      a: x, lda: inFeatures, b: weight, ldb: inFeatures, beta: 0, c: y, ldc: outFeatures)
        if let bias { addBias(out: y, bias: bias, rows: rows, columns: outFeatures) }
    }

    /// Accumulates (+=) every gradient it is given; pass nil for the ones not needed.
    // dy: [rows, out] → dx: [rows, in] += dy · w; dWeight: [out, in] += dyᵀ · x; dBias: [out] += Σ_rows dy
    public static func backward(dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                                dBias: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>,
                                x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                rows: Int, inFeatures: Int, outFeatures: Int) {
        if let dx {
            GEMM.multiply(transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                          a: dy, lda: outFeatures, b: weight, ldb: inFeatures, beta: 1, c: dx, ldc: inFeatures)
        }
        if let dWeight {
            GEMM.multiply(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                          a: dy, lda: outFeatures, b: x, ldb: inFeatures, beta: 1, c: dWeight, ldc: inFeatures)
        }
        if let dBias {
            for row in 0..<rows {
                let g = dy + row * outFeatures
                for j in 0..<outFeatures { dBias[j] += g[j] }
            }
        }
    }
}

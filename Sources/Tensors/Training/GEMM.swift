import CBLAS

/// Row-major single-precision GEMM, the entry point training kernels use into BLAS:
/// C = alpha · op(A) · op(B) + beta · C, with op(A): [m, k], op(B): [k, n], C: [m, n].
///
/// OpenBLAS runs one thread per call (`ComputePool` owns the cores), so `multiply` splits C into column or row
/// slices across the pool, each a single-threaded sgemm. `multiplySerial` is for callers that are already one
/// task of a parallel loop (the pool does not nest).
public enum GEMM {
    /// Smallest slice of C's columns or rows one task computes.
    static let minimumSlice = 64

    public static func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        let threads = ComputePool.workerCount
        if threads == 1 || max(m, n) < 2 * minimumSlice {
            multiplySerial(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a,
                           lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        // One slice per thread along the larger side of C: each slice re-reads the other operand, so few is best.
        if n >= m {
            ComputePool.parallelFor(n, grain: max(minimumSlice, n / threads), alignment: 16) { columns in
                // op(B)[:, columns]: column j of op(B) is column j of B, or row j of Bᵀ's storage.
                let bSlice = transposeB ? b + columns.lowerBound * ldb : b + columns.lowerBound
                multiplySerial(transposeA: transposeA, transposeB: transposeB, m: m, n: columns.count, k: k,
                               alpha: alpha, a: a, lda: lda, b: bSlice, ldb: ldb, beta: beta,
                               c: c + columns.lowerBound, ldc: ldc)
            }
        } else {
            ComputePool.parallelFor(m, grain: max(minimumSlice, m / threads), alignment: 16) { rows in
                let aSlice = transposeA ? a + rows.lowerBound : a + rows.lowerBound * lda
                multiplySerial(transposeA: transposeA, transposeB: transposeB, m: rows.count, n: n, k: k,
                               alpha: alpha, a: aSlice, lda: lda, b: b, ldb: ldb, beta: beta,
                               c: c + rows.lowerBound * ldc, ldc: ldc)
            }
        }
    }

    public static func multiplySerial(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                      alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                      b: UnsafePointer<Float>, ldb: Int,
                                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // BLAS leaves C untouched for k == 0 only when beta == 1; make the beta semantics hold for any beta.
            for row in 0..<m { for column in 0..<n { c[row * ldc + column] *= beta } }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

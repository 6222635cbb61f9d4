import CBLAS

/// Row-major single-precision GEMM, the one entry point training kernels use into BLAS:
/// C = alpha · op(A) · op(B) + beta · C, with op(A): [m, k], op(B): [k, n], C: [m, n].
public enum GEMM {
    public static func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
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

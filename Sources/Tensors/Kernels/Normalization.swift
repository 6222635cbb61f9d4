import CKernels

/// RMSNorm: y = x / sqrt(mean(x²) + eps) * weight, per row (the mean of squares in double precision).
public enum RMSNorm {
    /// out: [T, C] ← inp: [T, C], weight: [C]. out may alias inp.
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               rows T: Int, channels C: Int, epsilon: Float) {
        torl_rmsnorm(inp, weight, out, T, C, epsilon)
    }
}

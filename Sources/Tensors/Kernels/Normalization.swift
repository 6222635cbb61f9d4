/// RMSNorm: y = x / sqrt(mean(x²) + eps) * weight, per row.
public enum RMSNorm {
    /// out: [T, C] ← inp: [T, C], weight: [C]. out may alias inp.
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               rows T: Int, channels C: Int, epsilon: Float) {
        for t in 0..<T {
            let x = inp + t * C, y = out + t * C
            // Double accumulation: C-long sums of squares lose digits in f32.
            var sumOfSquares = 0.0
            for c in 0..<C { sumOfSquares += Double(x[c]) * Double(x[c]) }
            let scale = Float(1.0 / (sumOfSquares / Double(C) + Double(epsilon)).squareRoot())
            for c in 0..<C { y[c] = x[c] * scale * weight[c] }
        }
    }
}

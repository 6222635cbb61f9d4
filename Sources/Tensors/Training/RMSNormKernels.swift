/// RMSNorm: y = x / sqrt(mean(x²) + ε) · weight.
public enum RMSNormKernels {
    // x: [rows, channels], weight: [channels] → y: [rows, channels], reciprocalRMS: [rows] (kept for backward)
    public static func forward(y: UnsafeMutablePointer<Float>, reciprocalRMS: UnsafeMutablePointer<Float>,
                               x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               rows: Int, channels: Int, epsilon: Float) {
        for row in 0..<rows {
            let input = x + row * channels
            let output = y + row * channels
            var sumOfSquares: Float = 0
            for c in 0..<channels { sumOfSquares += input[c] * input[c] }
            let r = 1 / (sumOfSquares / Float(channels) + epsilon).squareRoot()
            reciprocalRMS[row] = r
            for c in 0..<channels { output[c] = input[c] * r * weight[c] }
        }
    }

    /// With x̂ = x·r: dx = r · (dy·w − x̂ · mean(dy·w·x̂)); dWeight += Σ_rows dy·x̂. Accumulates into dx and dWeight.
    // dy: [rows, channels] → dx: [rows, channels] +=, dWeight: [channels] +=
    public static func backward(dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
                                dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                reciprocalRMS: UnsafePointer<Float>, rows: Int, channels: Int) {
        for row in 0..<rows {
            let input = x + row * channels
            let g = dy + row * channels
            let out = dx + row * channels
            let r = reciprocalRMS[row]
            var dot: Float = 0
            for c in 0..<channels { dot += g[c] * weight[c] * input[c] * r }
            let meanDot = dot / Float(channels)
            for c in 0..<channels {
                let normalized = input[c] * r
                out[c] += r * (g[c] * weight[c] - normalized * meanDot)
                dWeight[c] += g[c] * normalized
            }
        }
    }
}

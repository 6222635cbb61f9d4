import Foundation

/// GeGLU MLP activation (Gemma): gelu(gate) * up with GELU's tanh approximation,
/// gelu(x) = x/2 · (1 + tanh(sqrt(2/π) · x · (1 + 0.044715 x²))) (ggml's and PyTorch's `gelu(approximate="tanh")`).
public enum GeGLU {
    static let sqrtTwoOverPi: Float = 0.797_884_560_802_865_4
    static let cubicCoefficient: Float = 0.044_715

    @inline(__always) public static func gelu(_ x: Float) -> Float {
        0.5 * x * (1 + tanhf(sqrtTwoOverPi * x * (1 + cubicCoefficient * x * x)))
    }

    /// out: [T, F] ← gateUp: [T, 2F] (gate in the first F columns of each row, up in the last F)
    public static func forward(out: UnsafeMutablePointer<Float>, gateUp: UnsafePointer<Float>, rows T: Int, features F: Int) {
        for t in 0..<T {
            let gate = gateUp + t * 2 * F, up = gate + F, y = out + t * F
            for i in 0..<F { y[i] = gelu(gate[i]) * up[i] }
        }
    }
}

import CKernels
import Foundation

/// GeGLU MLP activation (Gemma): gelu(gate) * up with GELU's tanh approximation,
/// gelu(x) = x/2 · (1 + tanh(sqrt(2/π) · x · (1 + 0.044715 x²))) (ggml's and PyTorch's `gelu(approximate="tanh")`).
public enum GeGLU {
    static let sqrtTwoOverPi: Float = 0.797_884_560_802_865_4
    static let cubicCoefficient: Float = 0.044_715

    @inline(__always) public static func gelu(_ x: Float) -> Float {
        0.5 * x * (1 + tanhf(sqrtTwoOverPi * x * (1 + cubicCoefficient * x * x)))
    }

    /// out: [T, F] ← gateUp: [T, 2F] (gate in the first F columns of each row, up in the last F), by the C kernel of
    /// the run's path (the portable one is this formula; the vector ones g / (1 + exp(-2u)), within 1e-6 of it).
    public static func forward(out: UnsafeMutablePointer<Float>, gateUp: UnsafePointer<Float>, rows T: Int, features F: Int) {
        for t in 0..<T { torl_geglu(gateUp + t * 2 * F, gateUp + t * 2 * F + F, out + t * F, F) }
    }
}

import CKernels
import Foundation

/// SwiGLU MLP activation: silu(gate) * up.
public enum SwiGLU {
    /// out: [T, F] ← gateUp: [T, 2F] (gate in the first F columns of each row, up in the last F)
    public static func forward(out: UnsafeMutablePointer<Float>, gateUp: UnsafePointer<Float>, rows T: Int, features F: Int) {
        for t in 0..<T { torl_swiglu(gateUp + t * 2 * F, gateUp + t * 2 * F + F, out + t * F, F) }
    }
}

/// Token embedding lookup.
public enum Embedding {
    /// out: [T, C] ← table: [V, C] rows `tokens`: [T] (ids already checked to be in 0..<V)
    public static func forward(out: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>, tokens: UnsafePointer<Int32>,
                               rows T: Int, channels C: Int) {
        for t in 0..<T { (out + t * C).update(from: table + Int(tokens[t]) * C, count: C) }
    }
}

import Foundation

/// The gated MLP activation h = silu(gate) · up, silu(g) = g · σ(g).
public enum SwiGLUKernels {
    // gate, up: [count] → h: [count]
    public static func forward(h: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                               count: Int) {
        for i in 0..<count {
            let g = gate[i]
            h[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// dgate = dh·up·σ(g)·(1 + g·(1 − σ(g))), dup = dh·silu(g). Overwrites dGate and dUp.
    // dh: [count] → dGate, dUp: [count]
    public static func backward(dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>,
                                dh: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                count: Int) {
        for i in 0..<count {
            let g = gate[i]
            let sigma = 1 / (1 + expf(-g))
            let d = dh[i]
            dUp[i] = d * g * sigma
            dGate[i] = d * up[i] * sigma * (1 + g * (1 - sigma))
        }
    }
}

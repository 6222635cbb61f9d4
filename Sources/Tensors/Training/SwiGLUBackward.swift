import Foundation

/// Backward of the engine's `SwiGLU.forward` (gate and up fused in one [T, 2F] row: gate first).
extension SwiGLU {
    /// dgate = dh·up·σ(g)·(1 + g·(1 − σ(g))), dup = dh·silu(g). Overwrites dGateUp.
    // dh: [T, F], gateUp: [T, 2F] → dGateUp: [T, 2F]
    public static func backward(dGateUp: UnsafeMutablePointer<Float>, dh: UnsafePointer<Float>,
                                gateUp: UnsafePointer<Float>, rows T: Int, features F: Int) {
        ComputePool.parallelFor(T, grain: 16) { rows in for t in rows {
            let gate = gateUp + t * 2 * F, up = gate + F
            let dGate = dGateUp + t * 2 * F, dUp = dGate + F
            let d = dh + t * F
            for f in 0..<F {
                let g = gate[f]
                let sigma = 1 / (1 + expf(-g))
                dUp[f] = d[f] * g * sigma
                dGate[f] = d[f] * up[f] * sigma * (1 + g * (1 - sigma))
            }
        } }
    }
}

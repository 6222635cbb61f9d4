import Foundation

/// Backward of `GeGLU.forward` (gate and up fused in one [T, 2F] row: gate first).
extension GeGLU {
    /// With u = sqrt(2/π)·g·(1 + 0.044715 g²) and gelu(g) = g/2·(1 + tanh u):
    /// gelu'(g) = (1 + tanh u)/2 + g/2·(1 − tanh² u)·sqrt(2/π)·(1 + 3·0.044715 g²);
    /// dgate = dh·up·gelu'(g), dup = dh·gelu(g). Overwrites dGateUp.
    // dh: [T, F], gateUp: [T, 2F] → dGateUp: [T, 2F]
    public static func backward(dGateUp: UnsafeMutablePointer<Float>, dh: UnsafePointer<Float>,
                                gateUp: UnsafePointer<Float>, rows T: Int, features F: Int) {
        ComputePool.parallelFor(T, grain: 16) { rows in for t in rows {
            let gate = gateUp + t * 2 * F, up = gate + F
            let dGate = dGateUp + t * 2 * F, dUp = dGate + F
            let d = dh + t * F
            for f in 0..<F {
                let g = gate[f]
                let tanhU = tanhf(sqrtTwoOverPi * g * (1 + cubicCoefficient * g * g))
                let derivative = 0.5 * (1 + tanhU)
                    + 0.5 * g * (1 - tanhU * tanhU) * sqrtTwoOverPi * (1 + 3 * cubicCoefficient * g * g)
                dUp[f] = d[f] * 0.5 * g * (1 + tanhU)
                dGate[f] = d[f] * up[f] * derivative
            }
        } }
    }
}

import Foundation

/// SwiGLU MLP activation: silu(gate) * up.
public enum SwiGLU {
    /// out: [T, F] ← gateUp: [T, 2F] (gate in the first F columns of each row, up in the last F)
    public static func forward(out: UnsafeMutablePointer<Float>, gateUp: UnsafePointer<Float>, rows T: Int, features F: Int) {
        for t in 0..<T {
            let g = gateUp + t * 2 * F, u = g + F, y = out + t * F
            for f in 0..<F { y[f] = g[f] / (1 + expf(-g[f])) * u[f] }
        }
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

/// Residual connection.
public enum Residual {
    /// x: [n] += y: [n]
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] += y[i] }
    }
}

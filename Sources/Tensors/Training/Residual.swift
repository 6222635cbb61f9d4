/// Residual connection of the trainable model's forward and backward passes (the engine fuses its own).
public enum Residual {
    /// x: [n] += y: [n]
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] += y[i] }
    }
}

/// Residual connection (and gradient accumulation into rows): the training pass's element-wise sum.
public enum Residual {
    // x: [n] += y: [n]
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] += y[i] }
    }
}

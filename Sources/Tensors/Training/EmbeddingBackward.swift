/// Backward of the engine's `Embedding.forward`.
extension Embedding {
    /// Scatter-adds each row of dOut into its token's row (repeated tokens collect several rows).
    // dOut: [T, C] → dTable: [V, C] +=
    public static func backward(dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                tokens: UnsafePointer<Int32>, rows T: Int, channels C: Int) {
        for t in 0..<T {
            let target = dTable + Int(tokens[t]) * C
            let source = dOut + t * C
            for c in 0..<C { target[c] += source[c] }
        }
    }
}

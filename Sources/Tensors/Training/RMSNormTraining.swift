/// The training pair of the engine's `RMSNorm.forward`: the forward also keeps each row's reciprocal RMS for the
/// backward pass (same arithmetic as the inference kernel, so both give identical outputs).
extension RMSNorm {
    // x: [T, C], weight: [C] → y: [T, C], reciprocalRMS: [T]
    public static func forward(y: UnsafeMutablePointer<Float>, reciprocalRMS: UnsafeMutablePointer<Float>,
                               x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows T: Int, channels C: Int,
                               epsilon: Float) {
        ComputePool.parallelFor(T, grain: 16) { rows in for t in rows {
            let input = x + t * C, output = y + t * C
            var sumOfSquares = 0.0
            for c in 0..<C { sumOfSquares += Double(input[c]) * Double(input[c]) }
            let r = Float(1.0 / (sumOfSquares / Double(C) + Double(epsilon)).squareRoot())
            reciprocalRMS[t] = r
            for c in 0..<C { output[c] = input[c] * r * weight[c] }
        } }
    }

    /// With x̂ = x·r: dx = r·(dy·w − x̂·mean(dy·w·x̂)); dWeight = Σ_rows dy·x̂. Accumulates into dx and dWeight.
    // dy: [T, C] → dx: [T, C] +=, dWeight: [C] +=
    public static func backward(dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
                                dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                reciprocalRMS: UnsafePointer<Float>, rows T: Int, channels C: Int) {
        // Row slices run in parallel; each sums its share of dWeight into its own partial, added up in slice order
        // (deterministic for a given thread count).
        let slices = min(max(T / 16, 1), ComputePool.workerCount)
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: slices * C)
        partials.initialize(repeating: 0, count: slices * C)
        defer { partials.deallocate() }
        let sliceRows = (T + slices - 1) / slices
        ComputePool.parallelFor(slices) { range in for slice in range {
            let partial = partials + slice * C
            for t in (slice * sliceRows)..<min(T, (slice + 1) * sliceRows) {
                let input = x + t * C, g = dy + t * C, out = dx + t * C
                let r = reciprocalRMS[t]
                var dot: Float = 0
                for c in 0..<C { dot += g[c] * weight[c] * input[c] * r }
                let meanDot = dot / Float(C)
                for c in 0..<C {
                    let normalized = input[c] * r
                    out[c] += r * (g[c] * weight[c] - normalized * meanDot)
                    partial[c] += g[c] * normalized
                }
            }
        } }
        for slice in 0..<slices { for c in 0..<C { dWeight[c] += partials[slice * C + c] } }
    }
}

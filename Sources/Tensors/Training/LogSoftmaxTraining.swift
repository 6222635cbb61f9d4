import Foundation

/// The training pair of log-softmax: log-probability of a target token and the entropy of the distribution softmax(logits / temperature), row by
/// row. Callers feed rows in chunks so that a [tokens, vocabulary] matrix never exists at once.
extension LogSoftmax {
    // logits: [rows, vocabulary], targets: [rows] → logProbs, entropies, logSumExps: [rows]
    public static func tokenStatistics(logProbs: UnsafeMutablePointer<Float>, entropies: UnsafeMutablePointer<Float>,
                               logSumExps: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
                               targets: UnsafePointer<Int32>, rows: Int, vocabulary: Int, temperature: Float) {
        let inverseTemperature = 1 / temperature
        // Rows are independent: split them across the cores (a chunk is 10⁶–10⁷ exponentials).
        ComputePool.parallelFor(rows) { range in for row in range {
            let z = logits + row * vocabulary
            var maximum = -Float.infinity
            for j in 0..<vocabulary { maximum = max(maximum, z[j]) }
            maximum *= inverseTemperature
            var sum: Float = 0
            var weighted: Float = 0
            for j in 0..<vocabulary {
                let scaled = z[j] * inverseTemperature
                let e = expf(scaled - maximum)
                sum += e
                weighted += e * scaled
            }
            let lse = maximum + logf(sum)
            logSumExps[row] = lse
            logProbs[row] = z[Int(targets[row])] * inverseTemperature - lse
            // H = lse − E_p[z/τ]
            entropies[row] = lse - weighted / sum
        } }
    }

    /// Overwrites `logits` with dL/dlogits given dL/dlogp and dL/dH per row. With u = logits/τ and p = softmax(u):
    /// dlogp/du = onehot − p; dH/du_j = −p_j (u_j − E_p[u]) with E_p[u] = lse − H; then divide by τ.
    // logits: [rows, vocabulary] in, dLogits: [rows, vocabulary] out (same memory)
    public static func tokenStatisticsBackward(logitsToGradients: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>,
                                logSumExps: UnsafePointer<Float>, entropies: UnsafePointer<Float>,
                                dLogProbs: UnsafePointer<Float>, dEntropies: UnsafePointer<Float>,
                                rows: Int, vocabulary: Int, temperature: Float) {
        let inverseTemperature = 1 / temperature
        ComputePool.parallelFor(rows) { range in for row in range {
            let z = logitsToGradients + row * vocabulary
            let lse = logSumExps[row]
            let expected = lse - entropies[row]
            let gLogP = dLogProbs[row], gEntropy = dEntropies[row]
            for j in 0..<vocabulary {
                let u = z[j] * inverseTemperature
                let p = expf(u - lse)
                z[j] = (-gLogP * p - gEntropy * p * (u - expected)) * inverseTemperature
            }
            z[Int(targets[row])] += gLogP * inverseTemperature
        } }
    }
}

import Foundation

/// Log-probabilities from logits.
public enum LogSoftmax {
    /// log Σ exp(logits), computed stably. logits: [n]
    public static func logSumExp(_ logits: UnsafeBufferPointer<Float>) -> Double {
        guard let maximum = logits.max(), maximum.isFinite else { return logits.max().map(Double.init) ?? -.infinity }
        var sum = 0.0
        for v in logits { sum += exp(Double(v - maximum)) }
        return Double(maximum) + log(sum)
    }

    /// out: [n] ← log softmax(logits: [n])
    public static func forward(_ logits: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>) {
        let normalizer = logSumExp(logits)
        for i in logits.indices { out[i] = Float(Double(logits[i]) - normalizer) }
    }

    /// log p(token) under softmax(logits)
    public static func logProbability(of token: Int, logits: UnsafeBufferPointer<Float>) -> Float {
        Float(Double(logits[token]) - logSumExp(logits))
    }

    public static func logProbability<C: Collection>(of token: Int, logits: C) -> Float where C.Element == Float, C.Index == Int {
        let values = Array(logits)
        return values.withUnsafeBufferPointer { logProbability(of: token, logits: $0) }
    }
}

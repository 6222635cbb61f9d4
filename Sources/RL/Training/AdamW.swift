import Foundation
import Models
import Tensors

public struct AdamWConfiguration: Sendable, Codable, Equatable {
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    /// Whether norm weights and biases (one-dimensional tensors) decay too; conventionally they do not.
    public var decayVectors: Bool

    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0.01,
                decayVectors: Bool = false) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decayVectors = decayVectors
    }
}

/// AdamW (Loshchilov & Hutter) over a model's flat parameter buffer: bias-corrected moments, decoupled weight
/// decay p ← p − lr·λ·p.
public final class AdamW {
    /// Changeable between steps (the moments do not depend on it).
    public internal(set) var configuration: AdamWConfiguration
    public let firstMoment: FloatBuffer
    public let secondMoment: FloatBuffer
    /// Updates taken so far (the bias-correction exponent).
    public internal(set) var stepCount: Int = 0
    private let decays: [(range: Range<Int>, decay: Bool)]

    public convenience init(layout: ParameterLayout, configuration: AdamWConfiguration) {
        self.init(entries: layout.entries, configuration: configuration)
    }

    /// Over the trained tensors `entries` (a whole model's, or LoRA adapters'), which tile [0, count).
    public init(entries: [ParameterLayout.Entry], configuration: AdamWConfiguration) {
        self.configuration = configuration
        let count = entries.map(\.range.upperBound).max() ?? 0
        firstMoment = FloatBuffer(count: count)
        secondMoment = FloatBuffer(count: count)
        decays = entries.map { ($0.range, configuration.decayVectors || $0.shape.count >= 2) }
    }

    // parameters, gradients: [count] → parameters updated in place
    public func step(parameters: FloatBuffer, gradients: FloatBuffer, learningRate: Double) {
        stepCount += 1
        let c = configuration
        let beta1 = Float(c.beta1), beta2 = Float(c.beta2), epsilon = Float(c.epsilon)
        let correction1 = Float(1 - pow(c.beta1, Double(stepCount)))
        let correction2 = Float(1 - pow(c.beta2, Double(stepCount)))
        let lr = Float(learningRate)
        let p = parameters.pointer, g = gradients.pointer, m = firstMoment.pointer, v = secondMoment.pointer
        for (range, decay) in decays {
            let shrink: Float = decay ? 1 - lr * Float(c.weightDecay) : 1
            ComputePool.parallelFor(range.count, grain: 1 << 16) { slice in for i in (range.lowerBound + slice.lowerBound)..<(range.lowerBound + slice.upperBound) {
                let gradient = g[i]
                m[i] = beta1 * m[i] + (1 - beta1) * gradient
                v[i] = beta2 * v[i] + (1 - beta2) * gradient * gradient
                let mHat = m[i] / correction1
                let vHat = v[i] / correction2
                p[i] = p[i] * shrink - lr * mHat / (vHat.squareRoot() + epsilon)
            } }
        }
    }
}

/// Global L2 norm clipping.
public enum GradientClipping {
    /// The norm before clipping; scales `gradients` to `maxNorm` when it is larger (maxNorm <= 0 disables).
    @discardableResult
    public static func clip(_ gradients: FloatBuffer, maxNorm: Double) -> Double {
        var sum = 0.0
        let g = gradients.pointer
        for i in 0..<gradients.count { sum += Double(g[i]) * Double(g[i]) }
        let norm = sum.squareRoot()
        if maxNorm > 0, norm > maxNorm {
            let scale = Float(maxNorm / (norm + 1e-6))
            for i in 0..<gradients.count { g[i] *= scale }
        }
        return norm
    }
}

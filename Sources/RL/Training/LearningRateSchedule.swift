import Foundation

public enum LearningRateSchedule: Sendable, Codable, Equatable {
    case constant(Double)
    /// Linear warmup from 0 over `warmupSteps`, then cosine decay to `peak · minimumRatio` at `totalSteps`.
    case warmupCosine(peak: Double, warmupSteps: Int, totalSteps: Int, minimumRatio: Double)

    /// The rate of update number `step` (0-based).
    public func learningRate(step: Int) -> Double {
        switch self {
        case let .constant(rate):
            return rate
        case let .warmupCosine(peak, warmupSteps, totalSteps, minimumRatio):
            if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
            let decaySteps = max(totalSteps - warmupSteps, 1)
            let progress = min(Double(step - warmupSteps) / Double(decaySteps), 1)
            let minimum = peak * minimumRatio
            return minimum + (peak - minimum) * 0.5 * (1 + cos(Double.pi * progress))
        }
    }
}

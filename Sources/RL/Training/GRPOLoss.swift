import Foundation

/// How per-token losses are averaged into the step's loss.
public enum LossAggregation: String, Sendable, Codable {
    /// Σ over every trained token of the whole batch / their count (TORL, DAPO). Not per micro-batch.
    case tokenMean
    /// Mean over sequences of each sequence's token mean (original GRPO).
    case sequenceMeanTokenMean
    /// Dr. GRPO: Σ over tokens / (sequences · a constant length budget), no length normalisation per sequence.
    case drGRPO
}

public struct GRPOLossConfiguration: Sendable, Codable, Equatable {
    public var clipLow: Double
    public var clipHigh: Double
    /// Coefficient of the k3 KL estimate to the frozen reference; 0 in TORL.
    public var klCoefficient: Double
    /// Coefficient of the entropy bonus (subtracted from the loss); 0 in TORL.
    public var entropyCoefficient: Double
    public var aggregation: LossAggregation
    /// The constant length divisor of `.drGRPO` aggregation (the generation budget in tokens).
    public var drGRPOLengthBudget: Int
    /// Sampling temperature of the rollout: log-probabilities are taken under log softmax(logits / temperature).
    public var temperature: Double
    /// The log-ratio (and the KL log-ratio) are clamped to ± this before exponentiation.
    public var logRatioClamp: Double

    public init(clipLow: Double = 0.2, clipHigh: Double = 0.2, klCoefficient: Double = 0, entropyCoefficient: Double = 0,
                aggregation: LossAggregation = .tokenMean, drGRPOLengthBudget: Int = 3072, temperature: Double = 1,
                logRatioClamp: Double = 20) {
        self.clipLow = clipLow
        self.clipHigh = clipHigh
        self.klCoefficient = klCoefficient
        self.entropyCoefficient = entropyCoefficient
        self.aggregation = aggregation
        self.drGRPOLengthBudget = drGRPOLengthBudget
        self.temperature = temperature
        self.logRatioClamp = logRatioClamp
    }
}

/// One token's share of the GRPO objective before aggregation weighting.
public struct TokenLossTerms: Sendable, Equatable {
    /// max(−A·ρ, −A·clip(ρ, 1 − ε_low, 1 + ε_high)) + β·k3 − c_H·H
    public var loss: Double
    /// dloss/dlogp
    public var dLogProbability: Double
    /// dloss/dH = −c_H
    public var dEntropy: Double
    public var ratio: Double
    /// The clipped branch is the active one (its gradient is zero).
    public var clipped: Bool
    /// k3 = exp(d) − d − 1 with d = logp_ref − logp; 0 without a reference.
    public var kl: Double
}

public enum GRPOLoss {
    /// The per-token objective and its derivative w.r.t. the token's current log-probability.
    public static func tokenTerms(logProbability: Double, oldLogProbability: Double, referenceLogProbability: Double?,
                                  advantage: Double, entropy: Double,
                                  configuration c: GRPOLossConfiguration) -> TokenLossTerms {
        let logRatio = logProbability - oldLogProbability
        let clampedLogRatio = min(max(logRatio, -c.logRatioClamp), c.logRatioClamp)
        let ratio = exp(clampedLogRatio)
        let unclipped = -advantage * ratio
        let clippedRatio = min(max(ratio, 1 - c.clipLow), 1 + c.clipHigh)
        let clippedObjective = -advantage * clippedRatio
        let clipped = clippedObjective > unclipped
        var loss = max(unclipped, clippedObjective)
        // d(−A·ρ)/dlogp = −A·ρ, unless the clamp or the clipped branch holds ρ constant.
        var dLogProbability = clipped || logRatio != clampedLogRatio ? 0 : -advantage * ratio
        var kl = 0.0
        if let referenceLogProbability {
            let d = referenceLogProbability - logProbability
            let clampedD = min(max(d, -c.logRatioClamp), c.logRatioClamp)
            kl = exp(clampedD) - clampedD - 1
            loss += c.klCoefficient * kl
            // dk3/dlogp = (exp(d) − 1)·dd/dlogp = 1 − exp(d)
            if d == clampedD { dLogProbability += c.klCoefficient * (1 - exp(clampedD)) }
        }
        loss -= c.entropyCoefficient * entropy
        return TokenLossTerms(loss: loss, dLogProbability: dLogProbability, dEntropy: -c.entropyCoefficient,
                              ratio: ratio, clipped: clipped, kl: kl)
    }

    /// Whether the step's loss has an exactly zero gradient whatever the policy computes: every advantage is 0
    /// (dℓ/dlogp = −A·ρ vanishes on either branch, for any finite ρ), no KL term and no entropy bonus.
    public static func gradientIsExactlyZero(advantages: [Double], configuration c: GRPOLossConfiguration) -> Bool {
        c.klCoefficient == 0 && c.entropyCoefficient == 0 && advantages.allSatisfy { $0 == 0 }
    }

    /// The aggregation weight of each trained token of sequence s (the step loss is Σ weight · token loss), given
    /// the trained-token count of every sequence in the whole batch.
    public static func tokenWeights(trainedTokenCounts: [Int], configuration c: GRPOLossConfiguration) -> [Double] {
        let total = trainedTokenCounts.reduce(0, +)
        let sequences = trainedTokenCounts.filter { $0 > 0 }.count
        return trainedTokenCounts.map { n in
            guard n > 0 else { return 0 }
            switch c.aggregation {
            case .tokenMean: return 1 / Double(total)
            case .sequenceMeanTokenMean: return 1 / (Double(sequences) * Double(n))
            case .drGRPO: return 1 / (Double(sequences) * Double(max(c.drGRPOLengthBudget, 1)))
            }
        }
    }
}

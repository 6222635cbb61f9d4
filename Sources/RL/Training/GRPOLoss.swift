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
    /// Dual-clip (Ye et al. 2020, verl's `clip_ratio_c`): for a negative advantage the token loss is at most
    /// −A·c, so a token whose ratio has grown far past 1 + ε cannot dominate the step; nil turns it off.
    public var dualClipRatio: Double?
    /// The k3 KL value is clamped to ± this (verl's `low_var_kl`); its gradient is zero where the clamp holds.
    public var klValueClamp: Double
    /// Where the old policy of the clipped ratio comes from.
    public var oldLogProbabilities: OldLogProbabilitySource
    /// Truncated importance sampling of the rollout/trainer mismatch: each token's loss is weighted by
    /// min(exp(logp_old − logp_rollout), cap), held constant; nil turns it off.
    public var truncatedImportanceSamplingCap: Double?

    public init(clipLow: Double = 0.2, clipHigh: Double = 0.2, klCoefficient: Double = 0, entropyCoefficient: Double = 0,
                aggregation: LossAggregation = .tokenMean, drGRPOLengthBudget: Int = 3072, temperature: Double = 1,
                logRatioClamp: Double = 20, dualClipRatio: Double? = 3, klValueClamp: Double = 10,
                oldLogProbabilities: OldLogProbabilitySource = .rollout, truncatedImportanceSamplingCap: Double? = nil) {
        self.clipLow = clipLow
        self.clipHigh = clipHigh
        self.klCoefficient = klCoefficient
        self.entropyCoefficient = entropyCoefficient
        self.aggregation = aggregation
        self.drGRPOLengthBudget = drGRPOLengthBudget
        self.temperature = temperature
        self.logRatioClamp = logRatioClamp
        self.dualClipRatio = dualClipRatio
        self.klValueClamp = klValueClamp
        self.oldLogProbabilities = oldLogProbabilities
        self.truncatedImportanceSamplingCap = truncatedImportanceSamplingCap
    }

    enum CodingKeys: String, CodingKey {
        case clipLow, clipHigh, klCoefficient, entropyCoefficient, aggregation, drGRPOLengthBudget, temperature,
             logRatioClamp, dualClipRatio, klValueClamp, oldLogProbabilities, truncatedImportanceSamplingCap
    }

    /// Checkpoints written before dual-clip and the KL value clamp existed decode with both off: the objective
    /// they were trained with.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clipLow = try c.decode(Double.self, forKey: .clipLow)
        clipHigh = try c.decode(Double.self, forKey: .clipHigh)
        klCoefficient = try c.decode(Double.self, forKey: .klCoefficient)
        entropyCoefficient = try c.decode(Double.self, forKey: .entropyCoefficient)
        aggregation = try c.decode(LossAggregation.self, forKey: .aggregation)
        drGRPOLengthBudget = try c.decode(Int.self, forKey: .drGRPOLengthBudget)
        temperature = try c.decode(Double.self, forKey: .temperature)
        logRatioClamp = try c.decode(Double.self, forKey: .logRatioClamp)
        dualClipRatio = try c.decodeIfPresent(Double.self, forKey: .dualClipRatio)
        klValueClamp = try c.decodeIfPresent(Double.self, forKey: .klValueClamp) ?? .infinity
        oldLogProbabilities = try c.decodeIfPresent(OldLogProbabilitySource.self, forKey: .oldLogProbabilities) ?? .rollout
        truncatedImportanceSamplingCap = try c.decodeIfPresent(Double.self, forKey: .truncatedImportanceSamplingCap)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clipLow, forKey: .clipLow)
        try c.encode(clipHigh, forKey: .clipHigh)
        try c.encode(klCoefficient, forKey: .klCoefficient)
        try c.encode(entropyCoefficient, forKey: .entropyCoefficient)
        try c.encode(aggregation, forKey: .aggregation)
        try c.encode(drGRPOLengthBudget, forKey: .drGRPOLengthBudget)
        try c.encode(temperature, forKey: .temperature)
        try c.encode(logRatioClamp, forKey: .logRatioClamp)
        try c.encodeIfPresent(dualClipRatio, forKey: .dualClipRatio)
        // JSON has no infinity: an unclamped KL (an old checkpoint's) is written by leaving the key out.
        if klValueClamp.isFinite { try c.encode(klValueClamp, forKey: .klValueClamp) }
        try c.encode(oldLogProbabilities, forKey: .oldLogProbabilities)
        try c.encodeIfPresent(truncatedImportanceSamplingCap, forKey: .truncatedImportanceSamplingCap)
    }
}

/// The old policy π_old of the clipped ratio π/π_old.
public enum OldLogProbabilitySource: String, Sendable, Codable {
    /// The sampler's log-probabilities, stored with the rollout: exact when the rollout ran the trainer's weights
    /// at f32, off-policy by the rounding of bf16 or int8 inference weights otherwise.
    case rollout
    /// The trainer's own log-probabilities of the sampled tokens under the policy before the update (verl
    /// recomputes them the same way). One update per batch, so they are the same forward pass's values, held
    /// constant: the ratio starts at exactly 1 whatever precision the rollouts ran at.
    case recompute
}

/// One token's share of the GRPO objective before aggregation weighting.
public struct TokenLossTerms: Sendable, Equatable {
    /// max(−A·ρ, −A·clip(ρ, 1 − ε_low, 1 + ε_high)), for A < 0 at most −A·c (dual-clip), + β·k3 − c_H·H
    public var loss: Double
    /// dloss/dlogp
    public var dLogProbability: Double
    /// dloss/dH = −c_H
    public var dEntropy: Double
    public var ratio: Double
    /// The clipped branch is the active one (its gradient is zero).
    public var clipped: Bool
    /// A < 0 and the dual-clip bound −A·c is below the clipped objective, so it is the loss (gradient zero);
    /// verl's `pg_clipfrac_lower` counts these tokens.
    public var dualClipped: Bool
    /// k3 = exp(d) − d − 1 with d = logp_ref − logp, clamped to ± `klValueClamp`; 0 without a reference.
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
        var dualClipped = false
        if let dualClipRatio = c.dualClipRatio, advantage < 0, loss > -advantage * dualClipRatio {
            loss = -advantage * dualClipRatio
            dLogProbability = 0
            dualClipped = true
        }
        var kl = 0.0
        if let referenceLogProbability {
            let d = referenceLogProbability - logProbability
            let clampedD = min(max(d, -c.logRatioClamp), c.logRatioClamp)
            let k3 = exp(clampedD) - clampedD - 1
            kl = min(max(k3, -c.klValueClamp), c.klValueClamp)
            loss += c.klCoefficient * kl
            // dk3/dlogp = (exp(d) − 1)·dd/dlogp = 1 − exp(d)
            if d == clampedD && k3 == kl { dLogProbability += c.klCoefficient * (1 - exp(clampedD)) }
        }
        loss -= c.entropyCoefficient * entropy
        return TokenLossTerms(loss: loss, dLogProbability: dLogProbability, dEntropy: -c.entropyCoefficient,
                              ratio: ratio, clipped: clipped, dualClipped: dualClipped, kl: kl)
    }

    /// The truncated importance weight min(exp(logp_old − logp_rollout), cap) of one token (1 without a cap):
    /// corrects the rollout/trainer mismatch of reduced-precision sampling (Yao et al. 2025, "Your efficient RL
    /// framework secretly brings you off-policy RL training"; verl's `tis_imp_ratio_cap`). A constant factor of
    /// the token's loss: no gradient flows through it.
    public static func importanceWeight(oldLogProbability: Double, rolloutLogProbability: Double,
                                        configuration c: GRPOLossConfiguration) -> Double {
        guard let cap = c.truncatedImportanceSamplingCap else { return 1 }
        return min(exp(min(oldLogProbability - rolloutLogProbability, c.logRatioClamp)), cap)
    }

    /// Whether the step's loss has an exactly zero gradient whatever the policy computes: every advantage is 0
    /// (dℓ/dlogp = −A·ρ vanishes on either branch, for any finite ρ), no KL term and no entropy bonus.
    public static func gradientIsExactlyZero(advantages: [Double], configuration c: GRPOLossConfiguration) -> Bool {
        zeroAdvantageHasZeroGradient(c) && advantages.allSatisfy { $0 == 0 }
    }

    /// Whether a sequence whose advantage is 0 adds nothing to the gradient: no KL term, no entropy bonus.
    public static func zeroAdvantageHasZeroGradient(_ c: GRPOLossConfiguration) -> Bool {
        c.klCoefficient == 0 && c.entropyCoefficient == 0
    }

    /// The aggregation weight of each trained token of sequence s (the step loss is Σ weight · token loss), given
    /// the trained-token count of every sequence in the whole batch.
    public static func tokenWeights(trainedTokenCounts: [Int], configuration c: GRPOLossConfiguration) -> [Double] {
        tokenWeights(trainedTokenCounts: trainedTokenCounts, totals: TrainedTotals(trainedTokenCounts: trainedTokenCounts),
                     configuration: c)
    }

    /// The weights of a share of a batch whose whole has `totals` (a data-parallel rank's sequences).
    public static func tokenWeights(trainedTokenCounts: [Int], totals: TrainedTotals,
                                    configuration c: GRPOLossConfiguration) -> [Double] {
        trainedTokenCounts.map { n in
            guard n > 0 else { return 0 }
            switch c.aggregation {
            case .tokenMean: return 1 / Double(totals.tokens)
            case .sequenceMeanTokenMean: return 1 / (Double(totals.sequences) * Double(n))
            case .drGRPO: return 1 / (Double(totals.sequences) * Double(max(c.drGRPOLengthBudget, 1)))
            }
        }
    }

    /// What the loss aggregation divides by: the batch's trained tokens and the sequences that have any.
    public struct TrainedTotals: Equatable, Sendable {
        public var tokens: Int
        public var sequences: Int

        public init(tokens: Int, sequences: Int) {
            self.tokens = tokens
            self.sequences = sequences
        }

        public init(trainedTokenCounts: [Int]) {
            self.init(tokens: trainedTokenCounts.reduce(0, +), sequences: trainedTokenCounts.filter { $0 > 0 }.count)
        }
    }
}

import Models
import Tensors

/// The GRPO and optimizer settings a user chooses, validated in one place for the CLI and the daemon. Defaults
/// are TORL's published ones (docs/TORL_PROTOCOL.md): lr 1e-6 constant, clip 0.2/0.2, no KL, no entropy bonus,
/// token-mean loss, group-normalised advantages, gradient-norm clip 1, no weight decay.
public struct TrainingHyperParameters: Sendable, Equatable {
    public var learningRate = 1e-6
    /// Linear warmup steps; with `cosineTotalSteps` the rate then decays along a cosine.
    public var warmupSteps = 0
    /// Step at which the cosine reaches `learningRate · minimumLearningRateRatio`; nil keeps the rate constant
    /// after warmup.
    public var cosineTotalSteps: Int?
    public var minimumLearningRateRatio = 0.0
    public var clipLow = 0.2
    public var clipHigh = 0.2
    /// Dual-clip bound c for negative advantages (verl's `clip_ratio_c`, default 3); nil turns dual-clip off.
    public var dualClipRatio: Double? = 3
    public var klCoefficient = 0.0
    public var entropyCoefficient = 0.0
    public var advantage = AdvantageEstimator.groupNormalized
    public var aggregation = LossAggregation.tokenMean
    public var microBatchTokens = 4096
    /// What the forward pass keeps for the backward pass: every layer's activations, or only each layer's input
    /// (the layer is recomputed in the backward pass: activations of one layer instead of all, for one more forward
    /// pass of each layer).
    public var activationPolicy = ActivationPolicy.keepAll
    /// The old policy of the ratio; nil chooses by the rollouts' weight precision: `recompute` for bf16 and int8
    /// (their log-probabilities are off by the rounding), `rollout` for f32 (exact).
    public var oldLogProbabilities: OldLogProbabilitySource?
    /// Truncated importance sampling cap of the rollout/trainer ratio (e.g. 2); nil: off.
    public var truncatedImportanceSamplingCap: Double?
    /// 0 disables clipping.
    public var maxGradientNorm = 1.0
    public var weightDecay = 0.0

    public init() {}

    /// Throws `TrainingLoopError.invalidHyperParameter` naming the first bad value (snake_case, as on the wire).
    public func validate() throws {
        func require(_ condition: Bool, _ name: String, _ reason: String) throws {
            if !condition { throw TrainingLoopError.invalidHyperParameter(name: name, reason: reason) }
        }
        try require(learningRate.isFinite && learningRate >= 0, "learning_rate", "must be a finite number >= 0")
        try require(warmupSteps >= 0, "warmup_steps", "must be >= 0")
        if let cosineTotalSteps {
            try require(cosineTotalSteps > warmupSteps, "cosine_total_steps", "must be > warmup_steps")
        }
        try require((0...1).contains(minimumLearningRateRatio), "min_lr_ratio", "must be in [0, 1]")
        try require(clipLow.isFinite && (0..<1).contains(clipLow), "eps_low", "must be in [0, 1)")
        try require(clipHigh.isFinite && clipHigh >= 0, "eps_high", "must be a finite number >= 0")
        if let dualClipRatio {
            try require(dualClipRatio.isFinite && dualClipRatio > 1, "clip_ratio_c", "must be a finite number > 1")
        }
        try require(klCoefficient.isFinite && klCoefficient >= 0, "kl_coef", "must be a finite number >= 0")
        try require(entropyCoefficient.isFinite, "entropy_coef", "must be finite")
        if let truncatedImportanceSamplingCap {
            try require(truncatedImportanceSamplingCap.isFinite && truncatedImportanceSamplingCap > 0, "tis_cap",
                        "must be a finite number > 0")
        }
        try require(microBatchTokens >= 1, "micro_batch", "must be >= 1 token")
        try require(maxGradientNorm.isFinite && maxGradientNorm >= 0, "max_grad_norm", "must be a finite number >= 0 (0: off)")
        try require(weightDecay.isFinite && weightDecay >= 0, "weight_decay", "must be a finite number >= 0")
    }

    public var schedule: LearningRateSchedule {
        if let cosineTotalSteps {
            return .warmupCosine(peak: learningRate, warmupSteps: warmupSteps, totalSteps: cosineTotalSteps,
                                 minimumRatio: minimumLearningRateRatio)
        }
        if warmupSteps > 0 {
            // Warmup then constant: a cosine whose decay never starts.
            return .warmupCosine(peak: learningRate, warmupSteps: warmupSteps, totalSteps: Int.max / 2,
                                 minimumRatio: 1)
        }
        return .constant(learningRate)
    }

    /// The trainer's configuration for rollouts sampled at `temperature` (the loss scores tokens under the same
    /// tempered distribution the sampler drew them from) by a model with `rolloutPrecision` weights.
    public func trainerConfiguration(samplingTemperature temperature: Double, responseBudget: Int,
                                     rolloutPrecision: WeightPrecision = .f32) -> TrainerConfiguration {
        TrainerConfiguration(
            loss: GRPOLossConfiguration(clipLow: clipLow, clipHigh: clipHigh, klCoefficient: klCoefficient,
                                        entropyCoefficient: entropyCoefficient, aggregation: aggregation,
                                        drGRPOLengthBudget: responseBudget, temperature: temperature,
                                        dualClipRatio: dualClipRatio,
                                        oldLogProbabilities: oldLogProbabilities ?? (rolloutPrecision == .f32 ? .rollout : .recompute),
                                        truncatedImportanceSamplingCap: truncatedImportanceSamplingCap),
            advantage: advantage, optimizer: AdamWConfiguration(weightDecay: weightDecay), schedule: schedule,
            maxGradientNorm: maxGradientNorm, microBatchTokens: microBatchTokens, activationPolicy: activationPolicy)
    }
}

public enum TrainingLoopError: Error, Equatable, CustomStringConvertible {
    case invalidHyperParameter(name: String, reason: String)
    /// Greedy rollouts have no sampling distribution to take a policy-gradient step on.
    case greedySampling
    case checkpointModelMismatch(path: String)
    case noTrajectories

    public var description: String {
        switch self {
        case let .invalidHyperParameter(name, reason): return "\(name) \(reason)"
        case .greedySampling:
            return "training needs sampled rollouts: temperature must be > 0 (greedy decoding has no log-probabilities to train on)"
        case let .checkpointModelMismatch(path):
            return "checkpoint \(path) was saved from a model with another configuration than the loaded one"
        case .noTrajectories: return "the step has no trajectories to train on"
        }
    }
}

extension AdvantageEstimator {
    /// Names on the wire and the command line.
    public static let wireNames: [String: AdvantageEstimator] = ["std": .groupNormalized, "dr_grpo": .drGRPO]
}

extension LossAggregation {
    /// Names on the wire and the command line.
    public static let wireNames: [String: LossAggregation] = [
        "token_mean": .tokenMean, "seq_mean_token_mean": .sequenceMeanTokenMean, "dr_grpo": .drGRPO,
    ]
}

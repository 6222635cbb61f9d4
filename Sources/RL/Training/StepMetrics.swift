import SystemSupport
/// Seconds the rollout side spent on the batch a step trains on; the trainer adds its own update time.
public struct RolloutTimings: Sendable, Codable, Equatable {
    public var generationSeconds: Double
    public var sandboxSeconds: Double
    public var gradingSeconds: Double
    public init(generationSeconds: Double = 0, sandboxSeconds: Double = 0, gradingSeconds: Double = 0) {
        self.generationSeconds = generationSeconds
        self.sandboxSeconds = sandboxSeconds
        self.gradingSeconds = gradingSeconds
    }
}

/// Everything one GRPO step reports. Token averages are over trained tokens (loss mask 1). A metric that does not
/// exist for a step is nil and encodes as null: every key is in every line of a metrics file and every wire object.
public struct StepMetrics: Sendable, Codable, Equatable {
    public var step: Int
    /// null on the wire when not finite (a poisoned step; its update is skipped, see `updateSkipped`).
    @NullWhenNotFinite public var loss: Double
    public var learningRate: Double
    public var rewardMean: Double
    public var rewardStandardDeviation: Double
    /// Share of responses answered correctly.
    public var accuracy: Double
    public var codeShare: Double
    /// Of the responses that made tool calls, the share whose calls all ran ok (as in evaluation); nil when no
    /// response made one (e.g. C = 0: code written but never run).
    @EncodesNull public var codeExecutedShare: Double?
    /// Share of responses whose answer came after the output of a successful tool call.
    public var effectiveCodeShare: Double
    public var answeredShare: Double
    public var meanToolCalls: Double
    /// Response tokens (sampled and inserted tool output).
    public var meanResponseLength: Double
    public var truncationRate: Double
    /// Before clipping; null on the wire when not finite (the update was then skipped).
    @NullWhenNotFinite public var gradientNorm: Double
    /// Mean k3 to the reference; nil without a reference model and when the passes were skipped.
    @EncodesNull public var kl: Double?
    /// Mean entropy of the trained tokens' distributions; nil when the passes were skipped.
    @EncodesNull public var entropy: Double?
    /// Exactly 0 when every advantage is 0 (both branches of the clipped objective are equal), so it is known
    /// without the forward pass.
    public var clipFraction: Double
    /// Share of trained tokens held by the dual-clip bound (negative advantage, ratio past c): verl's
    /// `pg_clipfrac_lower`. 0 with dual-clip off.
    public var dualClipFraction: Double
    @EncodesNull public var meanRatio: Double?
    /// Mean and max |logp_train − logp_rollout| over trained tokens: how far the trainer's numerics (and any
    /// policy lag) are from the sampler's; nil when the passes were skipped.
    @EncodesNull public var logProbabilityMismatchMean: Double?
    @EncodesNull public var logProbabilityMismatchMax: Double?
    public var trainedTokens: Int
    /// Groups (prompts) in the step, and those whose advantages were all zero (equal rewards): with no KL term
    /// and no entropy bonus such a group adds nothing to the gradient, so its sequences skip the passes (their
    /// tokens still count in the loss's token totals). Token averages (entropy, ratio, mismatch) are over the
    /// sequences that ran.
    public var groups: Int
    public var skippedGroups: Int
    /// All tokens through forward + backward (prompt and tool output included) per update second; nil when the
    /// passes were skipped.
    @EncodesNull public var tokensPerSecond: Double?
    /// The step's loss had an exactly zero gradient (every advantage 0, no KL term, no entropy bonus), so the
    /// policy's forward and backward passes were not run; AdamW still stepped with the zero gradient (moments
    /// decay, the weights move by the remaining momentum and weight decay, the step count and schedule advance).
    /// 1 or 0 on the wire, whose metrics are numbers.
    @EncodesAsZeroOrOne public var forwardBackwardSkipped: Bool
    /// The gradient norm was NaN or infinite, so no update was applied: the weights, both AdamW moments, the step
    /// count and the schedule are as before the call (verl skips such steps the same way). 1 or 0 on the wire.
    @EncodesAsZeroOrOne public var updateSkipped: Bool
    public var generationSeconds: Double
    public var sandboxSeconds: Double
    public var gradingSeconds: Double
    public var updateSeconds: Double
    /// Part of the update: the frozen reference's forward pass (0 without KL).
    public var referenceSeconds: Double
    /// Parts of the update: the policy's forward pass through the layers, the backward pass (the chunked head's
    /// log-probabilities and entropies included: they are computed on the way back), and the optimizer (gradient
    /// clipping and AdamW). All-reduces of a data-parallel step are in none of them.
    public var forwardSeconds: Double
    public var backwardSeconds: Double
    public var optimizerSeconds: Double
}

import Foundation
import Models
import Tensors

public struct TrainerConfiguration: Sendable, Codable, Equatable {
    public var loss: GRPOLossConfiguration
    public var advantage: AdvantageEstimator
    public var optimizer: AdamWConfiguration
    public var schedule: LearningRateSchedule
    /// Global gradient-norm clip; 0 disables.
    public var maxGradientNorm: Double
    /// Sequences are packed into micro-batches of at most this many tokens (a longer sequence goes alone);
    /// gradients accumulate across micro-batches, activations exist for one micro-batch at a time. Fewer tokens
    /// when their activations would pass `GRPOTrainer.activationBudgetBytes`.
    public var microBatchTokens: Int
    public var activationPolicy: ActivationPolicy
    public var headChunkRows: Int

    /// TORL's published settings: lr 1e-6 constant, clip 0.2, no KL, no entropy, grad-norm clip 1, token-mean.
    public init(loss: GRPOLossConfiguration = .init(), advantage: AdvantageEstimator = .groupNormalized,
                optimizer: AdamWConfiguration = .init(weightDecay: 0), schedule: LearningRateSchedule = .constant(1e-6),
                maxGradientNorm: Double = 1, microBatchTokens: Int = 4096, activationPolicy: ActivationPolicy = .keepAll,
                headChunkRows: Int = TrainableTransformer.defaultHeadChunkRows) {
        self.loss = loss
        self.advantage = advantage
        self.optimizer = optimizer
        self.schedule = schedule
        self.maxGradientNorm = maxGradientNorm
        self.microBatchTokens = microBatchTokens
        self.activationPolicy = activationPolicy
        self.headChunkRows = headChunkRows
    }
}

/// One GRPO update per call: advantages, clipped surrogate over micro-batches with gradient accumulation,
/// gradient clipping and AdamW. The trainer owns the policy's gradients and optimizer state.
///
/// Not thread-safe: the daemon's compute thread is its one owner.
public final class GRPOTrainer {
    public let policy: TrainableTransformer
    /// Frozen copy for the KL term; made from the initial policy when KL is on and none is given.
    public private(set) var reference: TrainableTransformer?
    public private(set) var configuration: TrainerConfiguration
    public let optimizer: AdamW
    /// Completed updates.
    public var step: Int { optimizer.stepCount }
    /// Steps whose update was not applied because their gradient norm was not finite (since this trainer was
    /// made; not part of a checkpoint).
    public private(set) var skippedUpdates = 0
    /// Whether a step whose gradient is exactly zero skips the forward and backward passes (see
    /// `gradientIsExactlyZero`); off only in tests that compare the shortcut with the full passes.
    var skipsPassesWithZeroGradient = true
    /// Checksum of the parameters after the last data-parallel step, equal on every rank (see `ParameterChecksum`).
    public private(set) var parameterChecksum: UInt64?

    public init(policy: TrainableTransformer, configuration: TrainerConfiguration,
                reference: TrainableTransformer? = nil) throws {
        self.policy = policy
        self.configuration = configuration
        if let reference, reference.configuration != policy.configuration {
            throw TrainingModelError.invalidConfiguration("the reference model's configuration differs from the policy's")
        }
        self.reference = configuration.loss.klCoefficient != 0 ? try reference ?? policy.copy() : reference
        optimizer = AdamW(entries: policy.trainableEntries, configuration: configuration.optimizer)
    }

    /// New hyper-parameters for the following steps; optimizer moments and the step count stay. The KL reference
    /// is the policy before the first update, so KL can only be switched on before it.
    public func reconfigure(_ newConfiguration: TrainerConfiguration) throws {
        if newConfiguration.loss.klCoefficient != 0 && reference == nil {
            guard step == 0 else {
                throw TrainingModelError.invalidConfiguration(
                    "a KL term needs the reference (the policy before the first update): enable it from the first step")
            }
            reference = try policy.copy()
        }
        configuration = newConfiguration
        optimizer.configuration = newConfiguration.optimizer
    }

    /// One update. `isCancelled` is polled before each micro-batch (once when the passes are skipped); when it
    /// returns true the step throws `TrainingInputError.cancelled` and the parameters and optimizer state stay as
    /// they were. A step whose gradient is exactly zero skips the forward and backward passes but still takes the
    /// AdamW step on the zero gradient, exactly the update the passes would have led to.
    ///
    /// With `dataParallel`, `sequences` are this rank's share of the step (whole groups; possibly none): the token
    /// counts that weight the loss, the gradient and every sum behind the metrics are summed over the ranks, so
    /// every rank takes the update one trainer given all the sequences would (up to the order of the sums) and
    /// returns the whole step's metrics. The step ends by checking that the ranks' parameters are bit-identical
    /// (`DataParallelError.parametersDiverged`). A failed collective throws; if it was the final check, this
    /// rank's update is already applied, so a caller retrying the step restores a checkpoint first.
    public func step(_ sequences: [TrainingSequence], timings: RolloutTimings = .init(),
                     dataParallel group: DataParallelGroup? = nil,
                     isCancelled: () -> Bool = { false }) throws -> StepMetrics {
        let started = DispatchTime.now().uptimeNanoseconds
        var accumulated = try accumulateGradients(sequences, dataParallel: group, isCancelled: isCancelled)
        if let group { try accumulated.reduce(gradients: policy.gradients, over: group) }
        let optimizerStarted = DispatchTime.now().uptimeNanoseconds
        // A skipped step's gradients are all +0: their norm is 0 and there is nothing to clip.
        let gradientNorm = accumulated.passesSkipped
            ? 0 : GradientClipping.clip(policy.gradients, maxNorm: configuration.maxGradientNorm)
        let learningRate = configuration.schedule.learningRate(step: optimizer.stepCount)
        // A NaN or infinite norm fails every comparison, so clipping would pass the gradient through and AdamW
        // would write NaN into the weights and both moments for good: such an update is not taken.
        let updateSkipped = !gradientNorm.isFinite
        if updateSkipped {
            skippedUpdates += 1
        } else {
            optimizer.step(parameters: policy.trainableValues, gradients: policy.gradients, learningRate: learningRate)
        }
        accumulated.optimizerSeconds = Self.seconds(since: optimizerStarted)
        if let group {
            let checksum = ParameterChecksum.of(policy.trainableValues)
            let range = try group.allReduceRange(checksum)
            guard range.minimum == range.maximum else {
                throw DataParallelError.parametersDiverged(step: optimizer.stepCount, minimum: range.minimum,
                                                           maximum: range.maximum)
            }
            parameterChecksum = checksum
        }
        let updateSeconds = Self.seconds(since: started)
        var sequenceSums = SequenceSums(sequences)
        if let group { try sequenceSums.reduce(over: group) }
        var metrics = accumulated.metrics(step: optimizer.stepCount, outcomes: sequenceSums, learningRate: learningRate,
                                          gradientNorm: gradientNorm, hasReference: reference != nil,
                                          updateSeconds: updateSeconds, timings: timings)
        metrics.updateSkipped = updateSkipped
        return metrics
    }

    /// Sets the policy's gradients to those of the step's loss over `sequences` (all micro-batches) and returns
    /// the loss and token statistics. Parameters are not changed. When the gradient is exactly zero the passes
    /// are skipped: the gradients are set to zero and only what is known without them is accumulated.
    func accumulateGradients(_ sequences: [TrainingSequence], dataParallel group: DataParallelGroup? = nil,
                             isCancelled: () -> Bool = { false }) throws -> StepAccumulator {
        guard !sequences.isEmpty || group != nil else { throw TrainingInputError.emptyBatch }
        for (index, sequence) in sequences.enumerated() {
            try sequence.validate(index: index, model: policy.configuration)
        }
        let lossConfiguration = configuration.loss
        let advantages = configuration.advantage.advantages(rewards: sequences.map(\.reward),
                                                            groups: sequences.map(\.group))
        let trainedPositions = sequences.map(\.trainedPositions)
        var totals = GRPOLoss.TrainedTotals(trainedTokenCounts: trainedPositions.map(\.count))
        if let group {
            var sums = [Double(totals.tokens), Double(totals.sequences)]
            try group.allReduceSum(&sums)
            totals = GRPOLoss.TrainedTotals(tokens: Int(sums[0]), sequences: Int(sums[1]))
        }
        guard totals.tokens > 0 else { throw TrainingInputError.noTrainedTokens }
        let weights = GRPOLoss.tokenWeights(trainedTokenCounts: trainedPositions.map(\.count), totals: totals,
                                            configuration: lossConfiguration)

        var accumulator = StepAccumulator()
        policy.zeroGradients()
        // Every token of a sequence whose advantage is 0 has loss max(−0·ρ, −0·clip(ρ)) = 0, never on the clipped
        // branch, and (without KL and entropy terms) a zero gradient: its passes are skipped, its tokens still
        // count in the totals above. A group of equal rewards has all-zero advantages.
        let skipsZeroAdvantages = skipsPassesWithZeroGradient
            && GRPOLoss.zeroAdvantageHasZeroGradient(lossConfiguration)
        let groupIDs = Set(sequences.map(\.group))
        accumulator.groups = groupIDs.count
        let running = skipsZeroAdvantages ? sequences.indices.filter { advantages[$0] != 0 } : Array(sequences.indices)
        if skipsZeroAdvantages {
            accumulator.skippedGroups = groupIDs.subtracting(running.map { sequences[$0].group }).count
            let skippedTokens = sequences.indices.filter { advantages[$0] == 0 }.reduce(0) { $0 + trainedPositions[$1].count }
            accumulator.tokens += skippedTokens
        }
        if skipsZeroAdvantages && running.isEmpty {
            if isCancelled() { throw TrainingInputError.cancelled }
            // The loss and clip counts the passes would give are known; entropy, ratio and mismatch are not.
            accumulator.passesSkipped = true
            return accumulator
        }
        let temperature = Float(lossConfiguration.temperature)
        for batch in microBatches(running.map { sequences[$0].tokens.count }) {
            let members = batch.map { running[$0] }
            if isCancelled() { throw TrainingInputError.cancelled }
            var packed = PackedSequences()
            // Per prediction row: (sequence index, token position).
            var targets: [(sequence: Int, position: Int)] = []
            var rows: [Int] = []
            for s in members {
                let offset = packed.count
                packed.append(sequences[s].tokens)
                for t in trainedPositions[s] {
                    rows.append(offset + t - 1)
                    targets.append((s, t))
                }
            }
            var referenceLogProbabilities: [Float]?
            if let reference {
                let referenceStarted = DispatchTime.now().uptimeNanoseconds
                let pass = try reference.forward(packed, policy: .recomputePerLayer)
                referenceLogProbabilities = try reference.tokenStatistics(
                    pass, rows: rows, temperature: temperature, chunkRows: configuration.headChunkRows).logProbabilities
                accumulator.referenceSeconds += Self.seconds(since: referenceStarted)
            }
            let forwardStarted = DispatchTime.now().uptimeNanoseconds
            let pass = try policy.forward(packed, policy: configuration.activationPolicy)
            let backwardStarted = DispatchTime.now().uptimeNanoseconds
            accumulator.forwardSeconds += Self.seconds(since: forwardStarted)
            defer { accumulator.backwardSeconds += Self.seconds(since: backwardStarted) }
            _ = try policy.backward(pass, rows: rows, temperature: temperature,
                                    chunkRows: configuration.headChunkRows) { range, logP, entropy, dLogP, dEntropy in
                for i in range {
                    let (s, t) = targets[i]
                    let local = i - range.lowerBound
                    let logProbability = Double(logP[local])
                    let sampled = Double(sequences[s].oldLogProbabilities[t])
                    let old = lossConfiguration.oldLogProbabilities == .recompute ? logProbability : sampled
                    let terms = GRPOLoss.tokenTerms(
                        logProbability: logProbability, oldLogProbability: old,
                        referenceLogProbability: referenceLogProbabilities.map { Double($0[i]) },
                        advantage: advantages[s], entropy: Double(entropy[local]), configuration: lossConfiguration)
                    let tokenWeight = weights[s] * GRPOLoss.importanceWeight(
                        oldLogProbability: old, rolloutLogProbability: sampled, configuration: lossConfiguration)
                    dLogP[local] = Float(tokenWeight * terms.dLogProbability)
                    dEntropy[local] = Float(tokenWeight * terms.dEntropy)
                    accumulator.add(terms, weight: tokenWeight, entropy: Double(entropy[local]),
                                    mismatch: abs(logProbability - sampled))
                }
            }
            accumulator.processedTokens += packed.count
        }
        return accumulator
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Most bytes of activations one micro-batch may hold (`TrainableTransformer.activationBytesPerToken`), whatever
    /// `microBatchTokens` allows: about 1 MB a token for SmolLM2 and Gemma 3 270M alike under keepAll, so 4,096
    /// tokens would take 4 GiB, which beside Gemma 3's 4.3 GB of weights, gradients and moments breaks 8 GiB.
    public static let activationBudgetBytes = 2 << 30

    /// The tokens one micro-batch packs: `microBatchTokens`, fewer when their activations would exceed the budget.
    public var microBatchTokenLimit: Int {
        let perToken = policy.activationBytesPerToken(policy: configuration.activationPolicy)
        return max(1, min(configuration.microBatchTokens, Self.activationBudgetBytes / perToken))
    }

    /// Consecutive sequences packed up to `microBatchTokenLimit` tokens each (a longer sequence goes alone).
    func microBatches(_ lengths: [Int]) -> [[Int]] {
        let limit = microBatchTokenLimit
        var batches: [[Int]] = []
        var current: [Int] = []
        var tokens = 0
        for (index, length) in lengths.enumerated() {
            if !current.isEmpty && tokens + length > limit {
                batches.append(current)
                current = []
                tokens = 0
            }
            current.append(index)
            tokens += length
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }
}

/// Sums over trained tokens that become the step's metrics.
struct StepAccumulator {
    var loss = 0.0
    var tokens = 0
    var clipped = 0
    var dualClipped = 0
    var kl = 0.0
    var entropy = 0.0
    var ratio = 0.0
    var mismatch = 0.0
    var mismatchMax = 0.0
    /// Trained tokens whose passes ran: the denominator of the averages that only the passes measure.
    var measuredTokens = 0
    var processedTokens = 0
    var groups = 0
    var skippedGroups = 0
    var referenceSeconds = 0.0
    var forwardSeconds = 0.0
    var backwardSeconds = 0.0
    var optimizerSeconds = 0.0
    /// No forward or backward pass ran (on any rank): only `tokens` (and the zero loss and clip count) hold.
    var passesSkipped = false

    mutating func add(_ terms: TokenLossTerms, weight: Double, entropy tokenEntropy: Double, mismatch tokenMismatch: Double) {
        loss += weight * terms.loss
        tokens += 1
        measuredTokens += 1
        clipped += terms.clipped ? 1 : 0
        dualClipped += terms.dualClipped ? 1 : 0
        kl += terms.kl
        entropy += tokenEntropy
        ratio += terms.ratio
        mismatch += tokenMismatch
        mismatchMax = max(mismatchMax, tokenMismatch)
    }

    /// Sums the gradient and every sum of this accumulator over the ranks: afterwards it describes the whole step.
    /// Passes count as skipped only when they were skipped on every rank.
    mutating func reduce(gradients: FloatBuffer, over group: DataParallelGroup) throws {
        try group.allReduceSum(gradients)
        var sums = [loss, Double(tokens), Double(measuredTokens), Double(clipped), Double(dualClipped), kl, entropy,
                    ratio, mismatch, Double(processedTokens), passesSkipped ? 1 : 0, Double(groups),
                    Double(skippedGroups)]
        try group.allReduceSum(&sums)
        var maxima = [mismatchMax]
        try group.allReduceMaximum(&maxima)
        loss = sums[0]
        tokens = Int(sums[1])
        measuredTokens = Int(sums[2])
        clipped = Int(sums[3])
        dualClipped = Int(sums[4])
        kl = sums[5]
        entropy = sums[6]
        ratio = sums[7]
        mismatch = sums[8]
        processedTokens = Int(sums[9])
        passesSkipped = Int(sums[10]) == group.worldSize
        groups = Int(sums[11])
        skippedGroups = Int(sums[12])
        mismatchMax = maxima[0]
    }

    func metrics(step: Int, outcomes: SequenceSums, learningRate: Double, gradientNorm: Double,
                 hasReference: Bool, updateSeconds: Double, timings: RolloutTimings) -> StepMetrics {
        let n = max(outcomes.sequences, 1)
        let rewardMean = outcomes.reward / n
        let rewardVariance = max(0, outcomes.rewardSquares / n - rewardMean * rewardMean)
        let tokenCount = Double(max(tokens, 1))
        // A token average exists when the passes ran; a NaN one (a poisoned forward pass) is reported as absent.
        func average(_ sum: Double, exists: Bool = true) -> Double? {
            let value = sum / Double(max(measuredTokens, 1))
            return exists && measuredTokens > 0 && value.isFinite ? value : nil
        }
        return StepMetrics(
            step: step, loss: loss, learningRate: learningRate, rewardMean: rewardMean,
            rewardStandardDeviation: rewardVariance.squareRoot(), accuracy: outcomes.correct / n,
            codeShare: outcomes.withCode / n,
            codeExecutedShare: outcomes.withCalls == 0 ? nil : outcomes.executedWithCalls / outcomes.withCalls,
            effectiveCodeShare: outcomes.effective / n,
            answeredShare: outcomes.answered / n,
            meanToolCalls: outcomes.toolCalls / n, meanResponseLength: outcomes.responseLength / n,
            truncationRate: outcomes.truncated / n, gradientNorm: gradientNorm,
            kl: average(kl, exists: hasReference), entropy: average(entropy),
            clipFraction: Double(clipped) / tokenCount, dualClipFraction: Double(dualClipped) / tokenCount,
            meanRatio: average(ratio), logProbabilityMismatchMean: average(mismatch),
            logProbabilityMismatchMax: passesSkipped || !mismatchMax.isFinite ? nil : mismatchMax,
            trainedTokens: tokens, groups: groups, skippedGroups: skippedGroups,
            tokensPerSecond: passesSkipped ? nil : Double(processedTokens) / max(updateSeconds, 1e-9),
            forwardBackwardSkipped: passesSkipped, updateSkipped: false,
            generationSeconds: timings.generationSeconds, sandboxSeconds: timings.sandboxSeconds,
            gradingSeconds: timings.gradingSeconds, updateSeconds: updateSeconds, referenceSeconds: referenceSeconds,
            forwardSeconds: forwardSeconds, backwardSeconds: backwardSeconds, optimizerSeconds: optimizerSeconds)
    }
}

/// Sums over a batch's sequences behind the reward and outcome metrics; summed over the ranks of a data-parallel
/// step, they give the whole step's figures.
struct SequenceSums {
    var sequences = 0.0
    var reward = 0.0
    var rewardSquares = 0.0
    var correct = 0.0
    var answered = 0.0
    var withCode = 0.0
    var withCalls = 0.0
    var executedWithCalls = 0.0
    var toolCalls = 0.0
    var responseLength = 0.0
    var truncated = 0.0
    var effective = 0.0

    init(_ batch: [TrainingSequence]) {
        for sequence in batch {
            let outcome = sequence.outcome
            sequences += 1
            reward += sequence.reward
            rewardSquares += sequence.reward * sequence.reward
            correct += outcome.answered && outcome.correct ? 1 : 0
            answered += outcome.answered ? 1 : 0
            withCode += outcome.hasCode ? 1 : 0
            withCalls += outcome.toolCalls > 0 ? 1 : 0
            executedWithCalls += outcome.toolCalls > 0 && outcome.codeExecuted ? 1 : 0
            toolCalls += Double(outcome.toolCalls)
            responseLength += Double(sequence.responseLength)
            truncated += outcome.truncated ? 1 : 0
            effective += outcome.effectiveCode ? 1 : 0
        }
    }

    mutating func reduce(over group: DataParallelGroup) throws {
        var sums = [sequences, reward, rewardSquares, correct, answered, withCode, withCalls, executedWithCalls,
                    toolCalls, responseLength, truncated, effective]
        try group.allReduceSum(&sums)
        effective = sums[11]
        (sequences, reward, rewardSquares, correct, answered, withCode) = (sums[0], sums[1], sums[2], sums[3], sums[4],
                                                                           sums[5])
        (withCalls, executedWithCalls, toolCalls, responseLength, truncated) = (sums[6], sums[7], sums[8], sums[9],
                                                                               sums[10])
    }
}

import Foundation
import Models
import Tensors
import XCTest
@testable import RL

final class GRPOTrainerTests: XCTestCase {
    private static let headChunkRows = 3

    /// Four sequences in two groups, with a tool observation (mask 0) inside the second one.
    private func batch(_ model: TrainableTransformer, logRatioOffsets: [Float]) throws -> [TrainingSequence] {
        let tokens: [[Int32]] = [[1, 2, 3, 4, 5, 6], [1, 2, 7, 9, 10, 8, 3, 4], [2, 5, 5, 6, 1], [2, 5, 0, 3, 9, 4, 4]]
        let masks: [[UInt8]] = [[0, 0, 1, 1, 1, 1], [0, 0, 1, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]]
        let rewards: [Double] = [1, -1, -1, 1]
        var sequences: [TrainingSequence] = []
        var k = 0
        for s in tokens.indices {
            let positions = masks[s].indices.filter { masks[s][$0] != 0 }
            // One sequence per forward and the head in chunks of 3 rows, as the trainer of `configuration` runs
            // them (micro-batches of 9 tokens hold one of these sequences each): OpenBLAS's sgemm for some core
            // types (Haswell, Zen) gives bits that depend on the number of rows multiplied, so "the trainer's own
            // log-probabilities" must come from the same shapes.
            let statistics = try model.tokenStatistics(try model.forward(PackedSequences([tokens[s]])),
                                                       rows: positions.map { $0 - 1 }, temperature: 0.9,
                                                       chunkRows: Self.headChunkRows)
            var old = [Float](repeating: 0, count: tokens[s].count)
            for (i, t) in positions.enumerated() {
                old[t] = statistics.logProbabilities[i] - logRatioOffsets[k % logRatioOffsets.count]
                k += 1
            }
            sequences.append(TrainingSequence(tokens: tokens[s], promptLength: 2, lossMask: masks[s],
                                              oldLogProbabilities: old, reward: rewards[s], group: s / 2,
                                              outcome: ResponseOutcome(answered: true, correct: rewards[s] > 0)))
        }
        return sequences
    }

    private func configuration(_ aggregation: LossAggregation, kl: Double = 0.1, entropy: Double = 0.05,
                               microBatchTokens: Int = 9) -> TrainerConfiguration {
        TrainerConfiguration(loss: GRPOLossConfiguration(klCoefficient: kl, entropyCoefficient: entropy,
                                                         aggregation: aggregation, drGRPOLengthBudget: 10,
                                                         temperature: 0.9),
                             microBatchTokens: microBatchTokens, headChunkRows: Self.headChunkRows)
    }

    /// The full step loss (clipping on both sides, KL to a different reference, entropy, several micro-batches,
    /// chunked head) against finite differences, for each aggregation mode.
    func testStepLossGradientMatchesFiniteDifferences() throws {
        for aggregation in [LossAggregation.tokenMean, .sequenceMeanTokenMean, .drGRPO] {
            let model = try TinyModels.model(TinyModels.configuration())
            let reference = try TinyModels.model(TinyModels.configuration(), seed: 7)
            let sequences = try batch(model, logRatioOffsets: [0, 0.3, -0.3, 0.05, -0.5])
            let trainer = try GRPOTrainer(policy: model, configuration: configuration(aggregation), reference: reference)
            let accumulated = try trainer.accumulateGradients(sequences)
            XCTAssertGreaterThan(accumulated.clipped, 0, "some tokens must be clipped for this test to mean something")
            XCTAssertLessThan(accumulated.clipped, accumulated.tokens)
            let analytic = model.gradients.copy()
            GradientCheck.assertMatches("GRPO step \(aggregation)", parameter: model.parameters, analytic: analytic,
                                        indices: TinyModels.parameterSample(model.layout), step: 2e-3,
                                        tolerance: 2e-2) { try! trainer.accumulateGradients(sequences).loss }
        }
    }

    /// On-policy (old = current log-probs), no KL or entropy: ρ = 1, so the loss is −Σ_s w_s·n_s·A_s.
    func testOnPolicyLossValueForEachAggregation() throws {
        let model = try TinyModels.model(TinyModels.configuration())
        let sequences = try batch(model, logRatioOffsets: [0])
        let counts = sequences.map { $0.trainedPositions.count }  // [4, 4, 3, 5]
        let a = 1 / ((2.0).squareRoot() + 1e-6)  // groups {1, −1} and {−1, 1}: std √2
        let advantages = [a, -a, -a, a]
        let expectations: [(LossAggregation, Double)] = [
            (.tokenMean, -zip(counts, advantages).reduce(0) { $0 + Double($1.0) * $1.1 } / 16),
            (.sequenceMeanTokenMean, -advantages.reduce(0, +) / 4),
            (.drGRPO, -zip(counts, advantages).reduce(0) { $0 + Double($1.0) * $1.1 } / (4 * 10)),
        ]
        for (aggregation, expected) in expectations {
            var c = configuration(aggregation, kl: 0, entropy: 0, microBatchTokens: 100)
            // The trainer's own old log-probabilities: every ratio is exactly 1, so the loss is the formula's up to
            // the double-precision sums.
            c.loss.oldLogProbabilities = .recompute
            let recomputed = try GRPOTrainer(policy: model, configuration: c).accumulateGradients(sequences)
            XCTAssertEqual(recomputed.loss, expected, accuracy: 1e-12, "\(aggregation)")
            XCTAssertEqual(recomputed.clipped, 0)
            // The stored ones were computed one sequence at a time, the step packs all four: the BLAS kernels
            // block the two differently, so log-probabilities differ by float rounding (more on AVX2 than on
            // AVX-512, measured 5e-6 in the loss). The loss then departs from the formula by at most
            // Σ w·|A|·(e^δ − 1) <= max|A|·(e^δmax − 1), with δmax the measured mismatch, itself float rounding.
            c.loss.oldLogProbabilities = .rollout
            let stored = try GRPOTrainer(policy: model, configuration: c).accumulateGradients(sequences)
            XCTAssertLessThan(stored.mismatchMax, 1e-4, "beyond float rounding of the same computation")
            XCTAssertEqual(stored.loss, expected, accuracy: a * expm1(stored.mismatchMax) + 1e-12, "\(aggregation)")
            XCTAssertEqual(stored.clipped, 0)
        }
        XCTAssertNotEqual(expectations[0].1, expectations[2].1)
    }

    /// Tool observation tokens are not trained on: their old log-probs do not matter, and observation tokens at the
    /// end of a response (influencing no trained token) get exactly zero gradient on their embedding rows.
    func testToolOutputTokensReceiveExactlyZeroGradient() throws {
        let model = try TinyModels.model(TinyModels.configuration(vocabulary: 13, tied: false))
        let trainer = try GRPOTrainer(policy: model, configuration: configuration(.tokenMean))
        // Prompt [1, 2]; sampled 3 4; tool output 9 10 (mask 0); sampled 5 6; final tool output 11 12 (mask 0).
        let tokens: [Int32] = [1, 2, 3, 4, 9, 10, 5, 6, 11, 12]
        let mask: [UInt8] = [0, 0, 1, 1, 0, 0, 1, 1, 0, 0]
        func sequences(toolOldLogProbability: Float, toolMask: UInt8 = 0) -> [TrainingSequence] {
            let old: [Float] = [0, 0, -2, -2, toolOldLogProbability, toolOldLogProbability, -2, -2,
                                toolOldLogProbability, toolOldLogProbability]
            let m = mask.enumerated().map { $0.offset >= 2 && $0.element == 0 ? toolMask : $0.element }
            return [1.0, -1.0].enumerated().map { i, r in
                TrainingSequence(tokens: tokens, promptLength: 2, lossMask: m, oldLogProbabilities: old, reward: r,
                                 group: 0, outcome: ResponseOutcome(answered: true, correct: r > 0))
            }.map { s in var s = s; if s.reward < 0 { s.tokens[3] = 7 }; return s }
        }
        _ = try trainer.accumulateGradients(sequences(toolOldLogProbability: -1))
        let gradients = model.gradients.copy()
        let embedding = model.layout.embedding, hidden = model.configuration.hiddenSize
        for token in [11, 12] {
            XCTAssertTrue((0..<hidden).allSatisfy { gradients[embedding + token * hidden + $0] == 0 },
                          "embedding row of trailing tool token \(token)")
        }
        XCTAssertTrue((0..<hidden).contains { gradients[embedding + 9 * hidden + $0] != 0 },
                      "a tool token in the middle is context for later sampled tokens")
        _ = try trainer.accumulateGradients(sequences(toolOldLogProbability: -7))
        XCTAssertEqual(model.gradients.array(), gradients.array(), "tool tokens' old log-probs must not matter")
        _ = try trainer.accumulateGradients(sequences(toolOldLogProbability: -1, toolMask: 1))
        XCTAssertNotEqual(model.gradients.array(), gradients.array(), "with mask 1 they would be trained on")
    }

    func testBadTrainingInputsAndCancellationChangeNothing() throws {
        let model = try TinyModels.model(TinyModels.configuration())
        let trainer = try GRPOTrainer(policy: model, configuration: TrainerConfiguration(microBatchTokens: 3))
        let good = TrainingSequence(tokens: [1, 2, 3], promptLength: 2, lossMask: [0, 0, 1],
                                    oldLogProbabilities: [0, 0, -1], reward: 1, group: 0,
                                    outcome: ResponseOutcome(answered: true, correct: true))
        XCTAssertThrowsError(try trainer.step([])) { XCTAssertEqual($0 as? TrainingInputError, .emptyBatch) }
        var s = good; s.lossMask = [0, 1, 1]
        XCTAssertThrowsError(try trainer.step([s])) {
            XCTAssertEqual($0 as? TrainingInputError, .promptTokenInLoss(sequence: 0, position: 1))
        }
        s = good; s.oldLogProbabilities = [0, 0]
        XCTAssertThrowsError(try trainer.step([s]))
        s = good; s.oldLogProbabilities = [0, 0, .nan]
        XCTAssertThrowsError(try trainer.step([s]))
        s = good; s.promptLength = 0
        XCTAssertThrowsError(try trainer.step([s]))
        s = good; s.lossMask = [0, 0, 0]
        XCTAssertThrowsError(try trainer.step([s])) { XCTAssertEqual($0 as? TrainingInputError, .noTrainedTokens) }
        s = good; s.tokens = [1, 2, 99]
        XCTAssertThrowsError(try trainer.step([s])) { XCTAssertTrue($0 is TrainingModelError) }
        let before = model.parameters.array()
        var polls = 0
        // Different rewards: a gradient, so the passes run, micro-batch by micro-batch.
        var worse = good; worse.reward = -1
        XCTAssertThrowsError(try trainer.step([good, worse, good], isCancelled: { polls += 1; return polls > 1 })) {
            XCTAssertEqual($0 as? TrainingInputError, .cancelled)
        }
        XCTAssertEqual(polls, 2, "polled before each micro-batch until cancelled")
        XCTAssertEqual(model.parameters.array(), before)
        XCTAssertEqual(trainer.step, 0, "failed steps change nothing")
    }

    /// Rollouts sampled with rounded (int8-like) weights store log-probabilities up to ±0.5 off the trainer's.
    /// Taken as the old policy they clip on-policy tokens; recomputed by the trainer, the first update is the one
    /// exact (f32) rollouts give: clip fraction 0, ratio 1 and the same gradient, bit for bit.
    func testRecomputedOldLogProbabilitiesUndoTheRolloutMismatch() throws {
        let model = try TinyModels.model(TinyModels.configuration())
        let exact = try batch(model, logRatioOffsets: [0])
        let rounded = try batch(model, logRatioOffsets: [0.5, -0.4, 0.3, -0.5, 0.25])
        func gradient(_ sequences: [TrainingSequence], _ source: OldLogProbabilitySource,
                      tisCap: Double? = nil) throws -> (StepAccumulator, [Float]) {
            var c = configuration(.tokenMean, kl: 0, entropy: 0, microBatchTokens: 9)
            c.loss.oldLogProbabilities = source
            c.loss.truncatedImportanceSamplingCap = tisCap
            let trainer = try GRPOTrainer(policy: model, configuration: c)
            let accumulated = try trainer.accumulateGradients(sequences)
            return (accumulated, model.gradients.array())
        }
        let (reference, exactGradient) = try gradient(exact, .rollout)
        XCTAssertEqual(reference.clipped, 0)
        let (offPolicy, offGradient) = try gradient(rounded, .rollout)
        XCTAssertGreaterThan(offPolicy.clipped, 0, "the rounded log-probabilities clip tokens when taken as the old policy")
        XCTAssertNotEqual(offGradient, exactGradient)
        let (recomputed, recomputedGradient) = try gradient(rounded, .recompute)
        XCTAssertEqual(recomputed.clipped, 0)
        XCTAssertEqual(recomputed.ratio, Double(recomputed.tokens), "every ratio is exactly 1")
        XCTAssertEqual(recomputedGradient, exactGradient)
        XCTAssertEqual(recomputed.loss, reference.loss)
        XCTAssertGreaterThan(recomputed.mismatchMax, 0.4, "the mismatch metric still compares with the rollout")

        // TIS weights each token by min(exp(logp − logp_rollout), cap) = min(exp(offset), cap): every offset is
        // >= −0.5, so at cap 0.5 (< exp(−0.5)) each weight is the cap and the gradient is half the exact one.
        let (_, capped) = try gradient(rounded, .recompute, tisCap: 0.5)
        for (a, b) in zip(capped, exactGradient) { XCTAssertEqual(a, 0.5 * b, accuracy: 1e-6 * max(1, abs(b))) }
        let (weighted, _) = try gradient(rounded, .recompute, tisCap: 100)
        XCTAssertNotEqual(weighted.loss, reference.loss, "uncapped weights exp(±offset) change the loss")
    }

    /// A NaN anywhere in the passes makes the gradient norm NaN, which fails `norm > maxNorm`: before the fix AdamW
    /// wrote NaN into every weight and both moments. Now the update is skipped and reported, and the next good
    /// step proceeds from the untouched state.
    func testNonFiniteGradientSkipsTheUpdateAndKeepsWeightsAndMoments() throws {
        let model = try TinyModels.model(TinyModels.configuration())
        let sequences = try batch(model, logRatioOffsets: [0, 0.1])
        let trainer = try GRPOTrainer(policy: model, configuration: configuration(.tokenMean, kl: 0, entropy: 0,
                                                                                  microBatchTokens: 100))
        _ = try trainer.step(sequences)  // moments that are not all zero, so "unchanged" means something
        let norm = model.layout.entries.first { $0.name.contains("norm") } ?? model.layout.entries[0]
        let poisoned = norm.range.lowerBound
        let saved = model.parameters.pointer[poisoned]
        model.parameters.pointer[poisoned] = .nan
        let parameters = model.parameters.array(), first = trainer.optimizer.firstMoment.array()
        let second = trainer.optimizer.secondMoment.array()
        let metrics = try trainer.step(sequences)
        XCTAssertTrue(metrics.updateSkipped)
        XCTAssertTrue(metrics.gradientNorm.isNaN)
        XCTAssertEqual(trainer.step, 1, "no update was taken")
        XCTAssertEqual(metrics.step, 1)
        XCTAssertEqual(trainer.skippedUpdates, 1)
        func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }
        XCTAssertEqual(bits(model.parameters.array()), bits(parameters), "weights unchanged (the NaN included)")
        XCTAssertEqual(bits(trainer.optimizer.firstMoment.array()), bits(first))
        XCTAssertEqual(bits(trainer.optimizer.secondMoment.array()), bits(second))
        XCTAssertFalse(trainer.optimizer.firstMoment.array().contains { $0.isNaN })
        // The step is still reported: non-finite figures are null, never an encoding error.
        let fields = try metrics.snakeCaseFields()
        XCTAssertEqual(fields["update_skipped"], 1)
        XCTAssertEqual(fields["gradient_norm"], .some(nil))
        XCTAssertNotNil(fields["loss"], "the key is present")
        let decoded = try JSONDecoder().decode(StepMetrics.self, from: JSONEncoder().encode(metrics))
        XCTAssertTrue(decoded.gradientNorm.isNaN)
        XCTAssertEqual(decoded, metrics)

        model.parameters.pointer[poisoned] = saved
        let good = try trainer.step(sequences)
        XCTAssertFalse(good.updateSkipped)
        XCTAssertEqual(trainer.step, 2)
        XCTAssertTrue(good.gradientNorm.isFinite)
        XCTAssertFalse(model.parameters.array().contains { $0.isNaN })
    }

    /// The proof that it learns: a random tiny model's mean reward rises clearly within a few dozen GRPO steps.
    func testMeanRewardRisesOnToyTask() throws {
        let (metrics, _) = try ToyTask.train(seed: 3, steps: 30, configuration: ToyTask.trainerConfiguration)
        let early = metrics.prefix(2).map(\.rewardMean).reduce(0, +) / 2
        let late = metrics.suffix(5).map(\.rewardMean).reduce(0, +) / 5
        XCTAssertLessThan(early, -0.4, "the task must start hard (1 in 8 by chance)")
        XCTAssertGreaterThan(late, 0.6, "mean reward \(early) → \(late)")
        XCTAssertGreaterThan(metrics.last!.accuracy, 0.5)
        // Rollout log-probs come from the same forward: the mismatch is rounding only.
        XCTAssertLessThan(try XCTUnwrap(metrics[0].logProbabilityMismatchMax), 1e-4)
        XCTAssertEqual(metrics[0].clipFraction, 0)
        XCTAssertGreaterThan(metrics[0].gradientNorm, 0)
    }

    func testSameSeedAndConfigurationReproduceRolloutsAndUpdates() throws {
        let first = try ToyTask.train(seed: 11, steps: 3, configuration: ToyTask.trainerConfiguration)
        let second = try ToyTask.train(seed: 11, steps: 3, configuration: ToyTask.trainerConfiguration)
        XCTAssertEqual(first.metrics.map(\.rewardMean), second.metrics.map(\.rewardMean))
        XCTAssertEqual(first.metrics.map(\.loss), second.metrics.map(\.loss))
        XCTAssertEqual(first.model.parameters.array(), second.model.parameters.array())
        let other = try ToyTask.train(seed: 12, steps: 1, configuration: ToyTask.trainerConfiguration)
        XCTAssertNotEqual(other.model.parameters.array(), first.model.parameters.array())
    }

    func testCodeExecutedShareIsNullWhenNoCodeRan() throws {
        // C = 0: responses hold code that never runs, so no share of executed code exists.
        let model = try TinyModels.model(TinyModels.configuration())
        let trainer = try GRPOTrainer(policy: model, configuration: TrainerConfiguration())
        let sequences = try batch(model, logRatioOffsets: [0]).enumerated().map { i, s -> TrainingSequence in
            var s = s
            s.outcome = ResponseOutcome(answered: true, correct: i == 0, hasCode: true, toolCalls: 0)
            s.reward = i == 0 ? 1 : -1
            return s
        }
        let m = try trainer.step(sequences)
        XCTAssertEqual(m.codeShare, 1)
        XCTAssertNil(m.codeExecutedShare)
        XCTAssertNil(m.kl, "no reference model")
        // One rule for every optional metric: present and null, in the JSONL line and in the wire's fields.
        let line = String(decoding: try m.jsonLine(), as: UTF8.self)
        XCTAssertTrue(line.contains("\"code_executed_share\":null"), line)
        XCTAssertTrue(line.contains("\"kl\":null"), line)
        let fields = try m.snakeCaseFields()
        for key in ["code_executed_share", "kl"] {
            XCTAssertTrue(fields.keys.contains(key), "\(key) is missing from \(fields.keys.sorted())")
            XCTAssertEqual(fields[key], .some(nil), key)
        }
        XCTAssertEqual(fields["code_share"], 1)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        XCTAssertEqual(try decoder.decode(StepMetrics.self, from: try m.jsonLine()), m)
    }

    /// Present optional metrics encode as numbers; a line that leaves an optional metric out still decodes (nil).
    func testOptionalStepMetricsEncodeTheirValueAndDecodeWhenLeftOut() throws {
        let model = try TinyModels.model(TinyModels.configuration())
        let trainer = try GRPOTrainer(policy: model, configuration: TrainerConfiguration(loss: .init(klCoefficient: 0.1)))
        let sequences = try batch(model, logRatioOffsets: [0]).enumerated().map { i, s -> TrainingSequence in
            var s = s
            s.outcome = ResponseOutcome(answered: true, correct: i == 0, hasCode: true, codeExecuted: i < 2, toolCalls: 1)
            return s
        }
        let m = try trainer.step(sequences)
        let fields = try m.snakeCaseFields()
        XCTAssertEqual(fields["code_executed_share"], 0.5)
        XCTAssertEqual(try XCTUnwrap(fields["kl"] ?? nil), 0, accuracy: 1e-9, "the reference is the policy before the step")
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: try m.jsonLine()) as? [String: Any])
        object["kl"] = nil
        object["code_executed_share"] = nil
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let decoded = try decoder.decode(StepMetrics.self, from: try JSONSerialization.data(withJSONObject: object))
        XCTAssertNil(decoded.kl)
        XCTAssertNil(decoded.codeExecutedShare)
        XCTAssertEqual(decoded.loss, m.loss)
    }

    func testStepMetricsSummariseTheRolloutOutcomes() throws {
        let model = try TinyModels.model(TinyModels.configuration())
        let trainer = try GRPOTrainer(policy: model, configuration: TrainerConfiguration(loss: .init(klCoefficient: 0.1, temperature: 0.9)))
        let outcomes = [
            ResponseOutcome(answered: true, correct: true, hasCode: true, codeFailed: false, codeExecuted: true, toolCalls: 2),
            ResponseOutcome(answered: true, correct: false, hasCode: true, codeFailed: true, toolCalls: 1),
            ResponseOutcome(answered: false, correct: false, hasCode: false, toolCalls: 0, truncated: true),
            ResponseOutcome(answered: true, correct: true, hasCode: false, toolCalls: 0),
        ]
        let rewards: [Double] = [1, -1, -1, 1]
        let sequences = try batch(model, logRatioOffsets: [0]).enumerated().map { i, s -> TrainingSequence in
            var s = s
            s.outcome = outcomes[i]
            s.reward = rewards[i]
            return s
        }
        let timings = RolloutTimings(generationSeconds: 3, sandboxSeconds: 2, gradingSeconds: 1)
        let m = try trainer.step(sequences, timings: timings)
        XCTAssertEqual(m.step, 1)
        XCTAssertEqual(m.rewardMean, 0)
        XCTAssertEqual(m.rewardStandardDeviation, 1)
        XCTAssertEqual(m.accuracy, 0.5)
        XCTAssertEqual(m.codeShare, 0.5)
        XCTAssertEqual(m.codeExecutedShare, 0.5)  // of the 2 responses with tool calls, 1 ran ok
        XCTAssertEqual(m.answeredShare, 0.75)
        XCTAssertEqual(m.meanToolCalls, 0.75)
        XCTAssertEqual(m.truncationRate, 0.25)
        XCTAssertEqual(m.meanResponseLength, Double(4 + 6 + 3 + 5) / 4)
        XCTAssertEqual(m.trainedTokens, 16)
        XCTAssertEqual(m.kl ?? -1, 0, accuracy: 1e-9, "the reference is the policy before the step")
        XCTAssertGreaterThan(try XCTUnwrap(m.entropy), 0)
        XCTAssertEqual(m.clipFraction, 0)
        XCTAssertEqual(try XCTUnwrap(m.meanRatio), 1, accuracy: 1e-5)
        XCTAssertEqual(m.generationSeconds, 3)
        XCTAssertEqual(m.sandboxSeconds, 2)
        XCTAssertEqual(m.gradingSeconds, 1)
        XCTAssertGreaterThan(m.updateSeconds, 0)
        XCTAssertGreaterThan(try XCTUnwrap(m.tokensPerSecond), 0)
        XCTAssertFalse(m.forwardBackwardSkipped)
        XCTAssertEqual(m.learningRate, 1e-6)
        XCTAssertGreaterThan(m.gradientNorm, 0)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(m)) as? [String: Any]
        XCTAssertEqual(json?["clipFraction"] as? Double, 0)
    }
}

import Foundation
import Models
import Tensors
import XCTest
@testable import RL

/// A step whose loss gradient is exactly zero (every advantage 0, no KL, no entropy bonus) skips the policy's
/// forward and backward passes; its update must be the one the passes would have given.
final class ZeroGradientStepTests: XCTestCase {
    /// Two groups of two responses, trained tokens after a prompt of 2; old log-probs off-policy so that a
    /// nonzero advantage gives clipped and unclipped tokens.
    private func batch(rewards: [Double]) -> [TrainingSequence] {
        let tokens: [[Int32]] = [[1, 2, 3, 4, 5, 6], [1, 2, 7, 9, 10], [2, 5, 5, 6, 1, 8], [2, 5, 0, 3]]
        return tokens.indices.map { s in
            let mask = tokens[s].indices.map { UInt8($0 >= 2 ? 1 : 0) }
            let old = tokens[s].indices.map { Float($0 >= 2 ? -1.5 - 0.3 * Double($0 % 3) : 0) }
            return TrainingSequence(tokens: tokens[s], promptLength: 2, lossMask: mask, oldLogProbabilities: old,
                                    reward: rewards[s], group: s / 2,
                                    outcome: ResponseOutcome(answered: true, correct: rewards[s] > 0))
        }
    }

    /// Different rewards inside each group: nonzero advantages.
    private var mixedRewards: [Double] { [1, -1, -1, 1] }
    /// Equal rewards inside each group (not across groups): every advantage is exactly 0.
    private var equalRewards: [Double] { [1, 1, -1, -1] }

    /// Weight decay on, a schedule that changes the rate every step, gradient clipping on.
    private func configuration(kl: Double = 0, entropy: Double = 0) -> TrainerConfiguration {
        TrainerConfiguration(loss: GRPOLossConfiguration(klCoefficient: kl, entropyCoefficient: entropy),
                             optimizer: AdamWConfiguration(weightDecay: 0.1),
                             schedule: .warmupCosine(peak: 3e-2, warmupSteps: 2, totalSteps: 10, minimumRatio: 0.1),
                             maxGradientNorm: 1, microBatchTokens: 8)
    }

    private func bits(_ buffer: FloatBuffer) -> [UInt32] { buffer.array().map(\.bitPattern) }

    /// Two trainers in the same state (two real updates, so AdamW's moments are nonzero) take an all-zero-advantage
    /// step, one with the full forward and backward passes and one with the shortcut. The passes' gradient is a sum
    /// of products with ±0 factors, so it is ±0 everywhere; AdamW then computes the same m, v and weights from it as
    /// from the shortcut's +0 (a ±0 gradient adds +0 to m and v), so weights, moments and step agree bit for bit.
    func testZeroAdvantageStepSkipsThePassesAndUpdatesBitIdenticallyToThem() throws {
        let model = TinyModels.configuration()
        let shortcut = try GRPOTrainer(policy: try TinyModels.model(model), configuration: configuration())
        let full = try GRPOTrainer(policy: try TinyModels.model(model), configuration: configuration())
        full.skipsPassesWithZeroGradient = false
        for trainer in [shortcut, full] {
            for _ in 0..<2 { XCTAssertFalse(try trainer.step(batch(rewards: mixedRewards)).forwardBackwardSkipped) }
        }
        XCTAssertEqual(bits(shortcut.policy.parameters), bits(full.policy.parameters), "same state before the step")
        let weightsBefore = shortcut.policy.parameters.array()
        let firstMomentBefore = shortcut.optimizer.firstMoment.array()
        XCTAssertGreaterThan(firstMomentBefore.filter { $0 != 0 }.count, firstMomentBefore.count / 2)

        let skipped = try shortcut.step(batch(rewards: equalRewards))
        let computed = try full.step(batch(rewards: equalRewards))

        XCTAssertTrue(skipped.forwardBackwardSkipped)
        XCTAssertFalse(computed.forwardBackwardSkipped)
        XCTAssertEqual(shortcut.step, 3)
        XCTAssertEqual(full.step, 3)
        XCTAssertEqual(bits(shortcut.policy.parameters), bits(full.policy.parameters), "weights")
        XCTAssertEqual(bits(shortcut.optimizer.firstMoment), bits(full.optimizer.firstMoment), "first moments")
        XCTAssertEqual(bits(shortcut.optimizer.secondMoment), bits(full.optimizer.secondMoment), "second moments")
        XCTAssertEqual(bits(shortcut.policy.gradients), bits(full.policy.gradients).map { $0 & 0x7FFF_FFFF },
                       "the passes' gradient is ±0 everywhere, the shortcut's +0")

        // A zero gradient is still an AdamW step: m decays by β1 exactly, momentum and decay move the weights.
        XCTAssertEqual(shortcut.optimizer.firstMoment.array(), firstMomentBefore.map { Float(0.9) * $0 })
        let moved = zip(weightsBefore, shortcut.policy.parameters.array()).filter { $0 != $1 }.count
        XCTAssertGreaterThan(moved, weightsBefore.count / 2, "the zero-gradient step must move the weights")
        XCTAssertEqual(skipped.learningRate, configuration().schedule.learningRate(step: 2))
        XCTAssertNotEqual(skipped.learningRate, configuration().schedule.learningRate(step: 3),
                          "the schedule must tell the steps apart for this test to mean something")

        // What is known without the passes equals what they give; what is not is null.
        XCTAssertEqual(skipped.loss, 0)
        XCTAssertEqual(computed.loss, 0)
        XCTAssertEqual(skipped.gradientNorm, 0)
        XCTAssertEqual(computed.gradientNorm, 0)
        XCTAssertEqual(skipped.clipFraction, computed.clipFraction)
        XCTAssertEqual(skipped.trainedTokens, computed.trainedTokens)
        XCTAssertEqual(skipped.referenceSeconds, 0)
        XCTAssertNil(skipped.entropy)
        XCTAssertNil(skipped.meanRatio)
        XCTAssertNil(skipped.logProbabilityMismatchMean)
        XCTAssertNil(skipped.logProbabilityMismatchMax)
        XCTAssertNil(skipped.tokensPerSecond)
        XCTAssertNil(skipped.kl)
        XCTAssertNotNil(computed.entropy)
        XCTAssertNotNil(computed.meanRatio)
        XCTAssertNotNil(computed.logProbabilityMismatchMax)
        XCTAssertNotNil(computed.tokensPerSecond)
    }

    /// The shortcut only where the gradient is provably zero: a KL term, an entropy bonus (either sign) or one
    /// nonzero advantage each give a gradient, and the passes run.
    func testPassesRunWhenTheLossCanHaveAGradient() throws {
        let model = TinyModels.configuration()
        let cases: [(String, TrainerConfiguration, [Double])] = [
            ("KL term", configuration(kl: 0.1), equalRewards),
            ("entropy bonus", configuration(entropy: 0.05), equalRewards),
            ("entropy penalty", configuration(entropy: -0.05), equalRewards),
            ("one group with different rewards", configuration(), [1, 1, -1, 1]),
        ]
        for (name, trainerConfiguration, rewards) in cases {
            // The KL term needs a reference different from the policy to have a gradient at the first step.
            let reference = try TinyModels.model(model, seed: 7)
            let trainer = try GRPOTrainer(policy: try TinyModels.model(model), configuration: trainerConfiguration,
                                          reference: trainerConfiguration.loss.klCoefficient != 0 ? reference : nil)
            let metrics = try trainer.step(batch(rewards: rewards))
            XCTAssertFalse(metrics.forwardBackwardSkipped, name)
            XCTAssertGreaterThan(metrics.gradientNorm, 0, name)
            XCTAssertNotNil(metrics.entropy, name)
            XCTAssertNotNil(metrics.logProbabilityMismatchMax, name)
        }
    }

    /// Bad input fails the same way on a step that would skip the passes (the forward is what checked tokens),
    /// and a cancelled skipped step changes nothing.
    func testSkippedStepsStillRejectBadInputAndHonourCancellation() throws {
        let trainer = try GRPOTrainer(policy: try TinyModels.model(TinyModels.configuration()),
                                      configuration: configuration())
        var sequences = batch(rewards: equalRewards)
        sequences[1].tokens[3] = 11
        XCTAssertThrowsError(try trainer.step(sequences)) {
            XCTAssertEqual($0 as? TrainingModelError, .tokenOutOfRange(token: 11, vocabularySize: 11))
        }
        sequences = batch(rewards: equalRewards)
        sequences[2].tokens = [Int32](repeating: 1, count: 65)
        sequences[2].lossMask = [0, 0] + [UInt8](repeating: 1, count: 63)
        sequences[2].oldLogProbabilities = [Float](repeating: -1, count: 65)
        XCTAssertThrowsError(try trainer.step(sequences)) {
            XCTAssertEqual($0 as? TrainingModelError, .sequenceTooLong(length: 65, contextLength: 64))
        }
        let before = trainer.policy.parameters.array()
        XCTAssertThrowsError(try trainer.step(batch(rewards: equalRewards), isCancelled: { true })) {
            XCTAssertEqual($0 as? TrainingInputError, .cancelled)
        }
        XCTAssertEqual(trainer.policy.parameters.array(), before)
        XCTAssertEqual(trainer.step, 0)
    }

    /// The flag is a number on the wire (whose metrics are numbers and nulls), next to the nulls of the skipped
    /// metrics; every key is present and the line decodes back to the same metrics.
    func testSkippedStepMetricsEncodeTheFlagAsANumberAndTheUnknownMetricsAsNull() throws {
        let trainer = try GRPOTrainer(policy: try TinyModels.model(TinyModels.configuration()),
                                      configuration: configuration())
        let skipped = try trainer.step(batch(rewards: equalRewards))
        let fields = try skipped.snakeCaseFields()
        XCTAssertEqual(fields["forward_backward_skipped"], 1)
        for key in ["entropy", "mean_ratio", "log_probability_mismatch_mean", "log_probability_mismatch_max",
                    "tokens_per_second", "kl"] {
            XCTAssertTrue(fields.keys.contains(key), "\(key) is missing from \(fields.keys.sorted())")
            XCTAssertEqual(fields[key], .some(nil), key)
        }
        XCTAssertEqual(fields["loss"], 0)
        let computed = try trainer.step(batch(rewards: mixedRewards))
        XCTAssertEqual(try computed.snakeCaseFields()["forward_backward_skipped"], 0)
        XCTAssertEqual(Set(try computed.snakeCaseFields().keys), Set(fields.keys))

        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        XCTAssertEqual(try decoder.decode(StepMetrics.self, from: try skipped.jsonLine()), skipped)
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: try skipped.jsonLine()) as? [String: Any])
        object["forward_backward_skipped"] = 2
        XCTAssertThrowsError(try decoder.decode(StepMetrics.self, from: try JSONSerialization.data(withJSONObject: object)))
    }
    /// A step with one group of equal rewards and one of different rewards: the equal group skips the passes (it
    /// adds nothing to the gradient) yet its tokens still count in the token-mean's denominator, so loss, gradient
    /// and update equal those of the passes over every sequence (up to the order of float sums: the micro-batches
    /// differ), for each loss aggregation. The metrics count the groups and the skipped ones.
    func testAnEqualRewardGroupSkipsItsPassesWithoutChangingTheUpdate() throws {
        let model = TinyModels.configuration()
        for aggregation in [LossAggregation.tokenMean, .sequenceMeanTokenMean, .drGRPO] {
            var trainerConfiguration = configuration()
            trainerConfiguration.loss.aggregation = aggregation
            let shortcut = try GRPOTrainer(policy: try TinyModels.model(model), configuration: trainerConfiguration)
            let full = try GRPOTrainer(policy: try TinyModels.model(model), configuration: trainerConfiguration)
            full.skipsPassesWithZeroGradient = false
            let rewards: [Double] = [1, 1, -1, 1]  // group 0 equal, group 1 mixed
            let skipped = try shortcut.step(batch(rewards: rewards))
            let computed = try full.step(batch(rewards: rewards))
            let name = "\(aggregation)"
            XCTAssertEqual(skipped.groups, 2, name)
            XCTAssertEqual(skipped.skippedGroups, 1, name)
            XCTAssertEqual(computed.groups, 2, name)
            XCTAssertEqual(computed.skippedGroups, 0, name)
            XCTAssertFalse(skipped.forwardBackwardSkipped, name)
            XCTAssertEqual(skipped.trainedTokens, computed.trainedTokens, name)
            XCTAssertEqual(skipped.loss, computed.loss, accuracy: 1e-6 * max(1, abs(computed.loss)), name)
            XCTAssertEqual(skipped.clipFraction, computed.clipFraction, name)
            XCTAssertGreaterThan(computed.gradientNorm, 0, name)
            XCTAssertEqual(skipped.gradientNorm, computed.gradientNorm, accuracy: 1e-5 * computed.gradientNorm, name)
            let a = shortcut.policy.parameters.array(), b = full.policy.parameters.array()
            let largest = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(largest, 1e-6, name)
            XCTAssertNotEqual(a, try TinyModels.model(model).parameters.array(), "the update must move the weights")
            // The token averages are over the sequences that ran: the mixed group's tokens only.
            XCTAssertNotNil(skipped.entropy, name)
        }
    }
}

import Foundation
import Models
import Tensors
import XCTest
@testable import RL

/// Advantages, token terms, aggregation weights, schedules and AdamW against hand-computed values.
final class GRPOLossTests: XCTestCase {
    func testGroupNormalizedAdvantagesUseUnbiasedStandardDeviation() {
        let rewards: [Double] = [1, -1, -1, 1, 0.5, 0.5, 0.5, 2]
        let groups = [0, 0, 0, 0, 1, 1, 1, 7]
        let a = AdvantageEstimator.groupNormalized.advantages(rewards: rewards, groups: groups)
        // Group 0: mean 0, unbiased std sqrt(4/3).
        let expected = 1 / ((4.0 / 3).squareRoot() + 1e-6)
        XCTAssertEqual(a[0], expected, accuracy: 1e-12)
        XCTAssertEqual(a[1], -expected, accuracy: 1e-12)
        XCTAssertEqual(Array(a[4...7]), [0, 0, 0, 0], "all-equal and single-response groups give exactly 0")
    }

    func testDrGRPOAdvantagesOnlyCentre() {
        let a = AdvantageEstimator.drGRPO.advantages(rewards: [1, -1, -1, 0.1, 0.1, 0.1], groups: [3, 3, 3, 4, 4, 4])
        XCTAssertEqual(a[0], 4.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(a[1], -2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(Array(a[3...5]), [0, 0, 0])
    }

    private func terms(ratio: Double, advantage: Double, clipHigh: Double = 0.2) -> TokenLossTerms {
        GRPOLoss.tokenTerms(logProbability: log(ratio * 0.5), oldLogProbability: log(0.5), referenceLogProbability: nil,
                            advantage: advantage, entropy: 0,
                            configuration: GRPOLossConfiguration(clipLow: 0.2, clipHigh: clipHigh))
    }

    func testClippedSurrogateOnBothSides() {
        // A > 0, ρ above 1 + ε: the clipped branch −A·1.2 wins, no gradient.
        var t = terms(ratio: 1.4, advantage: 1)
        XCTAssertEqual(t.loss, -1.2, accuracy: 1e-12); XCTAssertEqual(t.dLogProbability, 0); XCTAssertTrue(t.clipped)
        // A > 0, ρ below 1 − ε: the unclipped −A·ρ is larger, gradient −A·ρ.
        t = terms(ratio: 0.7, advantage: 1)
        XCTAssertEqual(t.loss, -0.7, accuracy: 1e-12); XCTAssertEqual(t.dLogProbability, -0.7, accuracy: 1e-12)
        XCTAssertFalse(t.clipped)
        // A < 0, ρ below 1 − ε: clipped at 0.8.
        t = terms(ratio: 0.7, advantage: -1)
        XCTAssertEqual(t.loss, 0.8, accuracy: 1e-12); XCTAssertEqual(t.dLogProbability, 0); XCTAssertTrue(t.clipped)
        // A < 0, ρ above 1 + ε: unclipped, gradient +|A|·ρ pushes logp down.
        t = terms(ratio: 1.4, advantage: -2)
        XCTAssertEqual(t.loss, 2.8, accuracy: 1e-12); XCTAssertEqual(t.dLogProbability, 2.8, accuracy: 1e-12)
        // Asymmetric clip-higher (DAPO style): 1.25 is inside 1 + 0.28.
        t = terms(ratio: 1.25, advantage: 1, clipHigh: 0.28)
        XCTAssertEqual(t.loss, -1.25, accuracy: 1e-12); XCTAssertFalse(t.clipped)
        // The log-ratio clamp at ±20 stops the gradient.
        let far = GRPOLoss.tokenTerms(logProbability: -1, oldLogProbability: -30, referenceLogProbability: nil,
                                      advantage: -1, entropy: 0, configuration: .init())
        XCTAssertEqual(far.ratio, exp(20), accuracy: 1); XCTAssertEqual(far.dLogProbability, 0)
    }

    /// verl's compute_policy_loss with clip_ratio_c: for A < 0 the loss is min(−A·c, max(−A·ρ, −A·clip(ρ))).
    func testDualClipBoundsNegativeAdvantagesOnly() {
        func dual(ratio: Double, advantage: Double, c: Double? = 3) -> TokenLossTerms {
            GRPOLoss.tokenTerms(logProbability: log(ratio * 0.1), oldLogProbability: log(0.1), referenceLogProbability: nil,
                                advantage: advantage, entropy: 0, configuration: GRPOLossConfiguration(dualClipRatio: c))
        }
        // A = −2, ρ = 5 > c = 3: −A·ρ = 10 is above −A·c = 6, so the loss is 6 with no gradient.
        var t = dual(ratio: 5, advantage: -2)
        XCTAssertEqual(t.loss, 6, accuracy: 1e-12); XCTAssertEqual(t.dLogProbability, 0)
        XCTAssertTrue(t.dualClipped); XCTAssertFalse(t.clipped)
        // Without dual-clip the same token costs 10 and pushes logp down with gradient −A·ρ = 10.
        t = dual(ratio: 5, advantage: -2, c: nil)
        XCTAssertEqual(t.loss, 10, accuracy: 1e-12); XCTAssertEqual(t.dLogProbability, 10, accuracy: 1e-12)
        XCTAssertFalse(t.dualClipped)
        // ρ = 2.5 < c: the ordinary unclipped branch, untouched.
        t = dual(ratio: 2.5, advantage: -2)
        XCTAssertEqual(t.loss, 5, accuracy: 1e-12); XCTAssertEqual(t.dLogProbability, 5, accuracy: 1e-12)
        XCTAssertFalse(t.dualClipped)
        // A > 0 never meets the bound, however large ρ: the upper clip −A·1.2 holds.
        t = dual(ratio: 5, advantage: 2)
        XCTAssertEqual(t.loss, -2.4, accuracy: 1e-12); XCTAssertFalse(t.dualClipped); XCTAssertTrue(t.clipped)
        // Exactly at the bound (ρ = c) the two agree and the token is not counted, as verl's strict comparison.
        t = dual(ratio: 3, advantage: -1)
        XCTAssertEqual(t.loss, 3, accuracy: 1e-9); XCTAssertFalse(t.dualClipped)
    }

    /// verl's low_var_kl: k3 = exp(d) − d − 1 with d clamped to ±20, the value clamped to [−10, 10].
    func testK3ValueIsClampedAtTen() {
        let c = GRPOLossConfiguration(klCoefficient: 0.5)
        // d = logp_ref − logp = 4: k3 = e⁴ − 5 ≈ 49.6, clamped to 10, no gradient from the KL term.
        let far = GRPOLoss.tokenTerms(logProbability: -5, oldLogProbability: -5, referenceLogProbability: -1,
                                      advantage: 0, entropy: 0, configuration: c)
        XCTAssertEqual(far.kl, 10); XCTAssertEqual(far.loss, 5, accuracy: 1e-12); XCTAssertEqual(far.dLogProbability, 0)
        // d = 2: k3 = e² − 3 ≈ 4.389 inside the clamp, gradient β·(1 − e²).
        let near = GRPOLoss.tokenTerms(logProbability: -3, oldLogProbability: -3, referenceLogProbability: -1,
                                       advantage: 0, entropy: 0, configuration: c)
        XCTAssertEqual(near.kl, exp(2) - 3, accuracy: 1e-12)
        XCTAssertEqual(near.dLogProbability, 0.5 * (1 - exp(2)), accuracy: 1e-12)
    }

    /// A checkpoint written before dual-clip and the KL value clamp existed resumes with the objective it was
    /// trained with (both off); a new configuration round-trips with both.
    func testLossConfigurationDecodesOlderCheckpoints() throws {
        let old = #"{"clipLow":0.2,"clipHigh":0.28,"klCoefficient":0,"entropyCoefficient":0,"aggregation":"tokenMean","drGRPOLengthBudget":512,"temperature":1,"logRatioClamp":20}"#
        let decoded = try JSONDecoder().decode(GRPOLossConfiguration.self, from: Data(old.utf8))
        XCTAssertNil(decoded.dualClipRatio)
        XCTAssertEqual(decoded.klValueClamp, .infinity)
        XCTAssertEqual(decoded.clipHigh, 0.28)
        let again = try JSONDecoder().decode(GRPOLossConfiguration.self, from: try JSONEncoder().encode(decoded))
        XCTAssertEqual(again, decoded)
        let current = GRPOLossConfiguration()
        XCTAssertEqual(try JSONDecoder().decode(GRPOLossConfiguration.self, from: try JSONEncoder().encode(current)), current)
        XCTAssertEqual(current.dualClipRatio, 3); XCTAssertEqual(current.klValueClamp, 10)
    }

    func testK3KLAndEntropyTerms() {
        let c = GRPOLossConfiguration(klCoefficient: 0.1, entropyCoefficient: 0.01)
        let t = GRPOLoss.tokenTerms(logProbability: log(0.5), oldLogProbability: log(0.5),
                                    referenceLogProbability: log(0.25), advantage: 0, entropy: 2, configuration: c)
        // d = log 0.25 − log 0.5 = −log 2: k3 = 0.5 + log 2 − 1.
        XCTAssertEqual(t.kl, 0.5 + log(2) - 1, accuracy: 1e-12)
        XCTAssertEqual(t.loss, 0.1 * (0.5 + log(2) - 1) - 0.02, accuracy: 1e-12)
        XCTAssertEqual(t.dLogProbability, 0.1 * (1 - 0.5), accuracy: 1e-12)
        XCTAssertEqual(t.dEntropy, -0.01)
        let same = GRPOLoss.tokenTerms(logProbability: -3, oldLogProbability: -3, referenceLogProbability: -3,
                                       advantage: 0, entropy: 0, configuration: c)
        XCTAssertEqual(same.kl, 0)
    }

    func testAggregationWeights() {
        let counts = [2, 4, 0]
        func weights(_ mode: LossAggregation) -> [Double] {
            GRPOLoss.tokenWeights(trainedTokenCounts: counts,
                                  configuration: GRPOLossConfiguration(aggregation: mode, drGRPOLengthBudget: 8))
        }
        XCTAssertEqual(weights(.tokenMean), [1.0 / 6, 1.0 / 6, 0])
        XCTAssertEqual(weights(.sequenceMeanTokenMean), [0.25, 0.125, 0])
        XCTAssertEqual(weights(.drGRPO), [1.0 / 16, 1.0 / 16, 0])
    }

    func testLearningRateSchedules() {
        XCTAssertEqual(LearningRateSchedule.constant(1e-6).learningRate(step: 500), 1e-6)
        let s = LearningRateSchedule.warmupCosine(peak: 1, warmupSteps: 4, totalSteps: 14, minimumRatio: 0.1)
        XCTAssertEqual(s.learningRate(step: 0), 0.25)
        XCTAssertEqual(s.learningRate(step: 3), 1)
        XCTAssertEqual(s.learningRate(step: 4), 1, accuracy: 1e-12)
        XCTAssertEqual(s.learningRate(step: 9), 0.55, accuracy: 1e-12)
        XCTAssertEqual(s.learningRate(step: 14), 0.1, accuracy: 1e-12)
        XCTAssertEqual(s.learningRate(step: 100), 0.1, accuracy: 1e-12)
    }

    func testAdamWStepAndDecoupledWeightDecay() throws {
        let model = try TrainableTransformer(configuration: TinyModels.configuration(layers: 1))
        let optimizer = AdamW(layout: model.layout, configuration: AdamWConfiguration(weightDecay: 0.1))
        let matrix = model.layout.entry(named: "model.layers.0.self_attn.q_proj.weight")!.offset
        let vector = model.layout.entry(named: "model.norm.weight")!.offset
        model.parameters[matrix] = 1
        model.parameters[vector] = 1
        model.gradients[matrix] = 0.5
        model.gradients[vector] = 0.5
        optimizer.step(parameters: model.parameters, gradients: model.gradients, learningRate: 0.1)
        // m̂ = 0.5, v̂ = 0.25: update 0.1 · 0.5 / 0.5; decay 1 − 0.1·0.1 on matrices only.
        XCTAssertEqual(model.parameters[matrix], 0.99 - 0.1, accuracy: 1e-6)
        XCTAssertEqual(model.parameters[vector], 0.9, accuracy: 1e-6)
        XCTAssertEqual(optimizer.firstMoment[matrix], 0.05, accuracy: 1e-7)
        XCTAssertEqual(optimizer.secondMoment[matrix], 0.00025, accuracy: 1e-8)
    }

    func testGradientNormClipping() {
        let g = FloatBuffer([3, 4])
        XCTAssertEqual(GradientClipping.clip(g, maxNorm: 10), 5, accuracy: 1e-9)
        XCTAssertEqual(g.array(), [3, 4])
        XCTAssertEqual(GradientClipping.clip(g, maxNorm: 1), 5, accuracy: 1e-9)
        XCTAssertEqual(g[0], 0.6, accuracy: 1e-5)
        XCTAssertEqual(g[1], 0.8, accuracy: 1e-5)
    }
}

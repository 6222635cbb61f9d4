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

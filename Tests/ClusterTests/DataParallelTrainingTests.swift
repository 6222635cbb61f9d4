import Foundation
import Models
import Tensors
import XCTest
@testable import Cluster
@testable import RL

/// Data-parallel GRPO over Gloo: ranks that each train on their share of the groups take the update one trainer
/// given the whole batch takes, up to the order of the sums.
final class DataParallelTrainingTests: XCTestCase {
    private let configuration = ModelConfiguration(
        architecture: .qwen2, vocabularySize: 11, hiddenSize: 8, intermediateSize: 12, layerCount: 2, headCount: 4,
        keyValueHeadCount: 2, headDimension: 4, contextLength: 64, ropeTheta: 10000, ropePairing: .halves,
        rmsNormEpsilon: 1e-5, tiedEmbeddings: false, attentionBias: true)

    private func model() throws -> TrainableTransformer {
        let model = try TrainableTransformer(configuration: configuration)
        model.initializeRandomly(seed: 7, standardDeviation: 0.4)
        return model
    }

    /// Four groups of three responses of different lengths, rewards mixed inside groups, old log-probs off-policy.
    private func batch(step: Int) -> [TrainingSequence] {
        (0..<12).map { s in
            let length = 5 + (s * 3 + step) % 6
            let tokens = (0..<length).map { Int32(($0 * 5 + s * 3 + step) % 11) }
            let mask = tokens.indices.map { UInt8($0 >= 2 ? 1 : 0) }
            let old = tokens.indices.map { Float($0 >= 2 ? -2.0 - 0.25 * Double(($0 + s) % 4) : 0) }
            let reward: Double = (s + step) % 3 == 0 ? 1 : -1
            return TrainingSequence(tokens: tokens, promptLength: 2, lossMask: mask, oldLogProbabilities: old,
                                    reward: reward, group: s / 3,
                                    outcome: ResponseOutcome(answered: true, correct: reward > 0, hasCode: s % 2 == 0,
                                                             toolCalls: s % 2))
        }
    }

    private func trainerConfiguration(_ aggregation: LossAggregation) -> TrainerConfiguration {
        TrainerConfiguration(loss: GRPOLossConfiguration(aggregation: aggregation),
                             optimizer: AdamWConfiguration(weightDecay: 0.01), schedule: .constant(1e-2),
                             maxGradientNorm: 1, microBatchTokens: 16)
    }

    /// Trains two steps on one trainer, and on `ranks` trainers each given the groups `share(rank)` picks; returns
    /// the single trainer's parameters and metrics and every rank's.
    private func compare(ranks: Int, aggregation: LossAggregation, share: @escaping @Sendable (Int, Int) -> Bool)
        throws -> (single: ([Float], [StepMetrics]), ranks: [([Float], [StepMetrics])]) {
        let single = try GRPOTrainer(policy: model(), configuration: trainerConfiguration(aggregation))
        let singleMetrics = try (0..<2).map { try single.step(batch(step: $0)) }
        let folder = try rendezvousFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let initial = try model()
        let configuration = trainerConfiguration(aggregation)
        let results = runRanks(ranks) { rank -> ([Float], [StepMetrics]) in
            let group = try ProcessGroup(store: .folder(folder), prefix: "train", rank: rank, worldSize: ranks)
            let trainer = try GRPOTrainer(policy: initial.copy(), configuration: configuration)
            let metrics = try (0..<2).map { step in
                try trainer.step(self.batch(step: step).filter { share(rank, $0.group) }, dataParallel: group)
            }
            return (trainer.policy.parameters.array(), metrics)
        }
        return ((single.policy.parameters.array(), singleMetrics), try results.map { try $0.get() })
    }

    private func assertSameUpdate(_ outcome: (single: ([Float], [StepMetrics]), ranks: [([Float], [StepMetrics])]),
                                  file: StaticString = #filePath, line: UInt = #line) {
        let (singleParameters, singleMetrics) = outcome.single
        let scale = singleParameters.reduce(Float(0)) { max($0, abs($1)) }
        for (rank, (parameters, metrics)) in outcome.ranks.enumerated() {
            // Every rank holds the same bits (the final checksum check passed), close to the single trainer's.
            XCTAssertEqual(parameters.map(\.bitPattern), outcome.ranks[0].0.map(\.bitPattern), "rank \(rank)",
                           file: file, line: line)
            let difference = zip(parameters, singleParameters).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            XCTAssertLessThan(difference / scale, 1e-5, "rank \(rank)", file: file, line: line)
            for (step, (got, expected)) in zip(metrics, singleMetrics).enumerated() {
                let context = "rank \(rank) step \(step)"
                XCTAssertEqual(got.trainedTokens, expected.trainedTokens, context, file: file, line: line)
                XCTAssertEqual(got.loss, expected.loss, accuracy: 1e-6 * max(1, abs(expected.loss)), context,
                               file: file, line: line)
                XCTAssertEqual(got.gradientNorm, expected.gradientNorm, accuracy: 1e-5 * expected.gradientNorm,
                               context, file: file, line: line)
                XCTAssertEqual(got.entropy!, expected.entropy!, accuracy: 1e-6, context, file: file, line: line)
                XCTAssertEqual(got.clipFraction, expected.clipFraction, context, file: file, line: line)
                XCTAssertEqual(got.rewardMean, expected.rewardMean, accuracy: 1e-12, context, file: file, line: line)
                XCTAssertEqual(got.rewardStandardDeviation, expected.rewardStandardDeviation, accuracy: 1e-12, context,
                               file: file, line: line)
                XCTAssertEqual(got.accuracy, expected.accuracy, context, file: file, line: line)
                XCTAssertEqual(got.codeShare, expected.codeShare, context, file: file, line: line)
                XCTAssertEqual(got.meanToolCalls, expected.meanToolCalls, context, file: file, line: line)
            }
        }
    }

    func testTwoRanksWithTwoGroupsEachUpdateAsOneTrainerWithAllFour() throws {
        assertSameUpdate(try compare(ranks: 2, aggregation: .tokenMean) { rank, group in group / 2 == rank })
    }

    func testThreeUnevenRanksOneWithNothingUnderSequenceMeanAggregation() throws {
        // Rank 0: group 0; rank 1: groups 1-3; rank 2: no sequences at all.
        assertSameUpdate(try compare(ranks: 3, aggregation: .sequenceMeanTokenMean) { rank, group in
            rank == 0 ? group == 0 : rank == 1 && group > 0
        })
    }

    func testRanksWhoseParametersDifferFailTheStepLoudly() throws {
        let folder = try rendezvousFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let initial = try model()
        let configuration = trainerConfiguration(.tokenMean)
        let results = runRanks(2) { rank -> Void in
            let group = try ProcessGroup(store: .folder(folder), prefix: "diverge", rank: rank, worldSize: 2)
            let policy = try initial.copy()
            if rank == 1 { policy.parameters[0] = policy.parameters[0].nextUp }
            let trainer = try GRPOTrainer(policy: policy, configuration: configuration)
            _ = try trainer.step(self.batch(step: 0).filter { $0.group / 2 == rank }, dataParallel: group)
        }
        for result in results {
            XCTAssertThrowsError(try result.get()) { error in
                guard case DataParallelError.parametersDiverged(step: 1, _, _) = error else {
                    return XCTFail("unexpected \(error)")
                }
                XCTAssertTrue("\(error)".contains("diverged at step 1"))
            }
        }
    }
}

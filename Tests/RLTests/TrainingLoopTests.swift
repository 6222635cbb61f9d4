import Foundation
import Generation
import MathGrader
import Models
import Sandbox
import Tensors
import Tokenizers
import XCTest
@testable import RL

/// The rollout → trainer adapter, and the loop step: rollouts from the inference model, one update, the weights
/// back in the inference model, reproducible from the seed.
final class TrainingLoopTests: XCTestCase {
    private func trajectory(group: Int, sample: Int, reward: Double, correct: Bool, finishReason: String = "eos",
                            toolCalls: Int = 0) -> Trajectory {
        let call = ToolCallRecord(code: "print(1)", status: .error, observation: "\n```output\nboom\n```\n",
                                  output: "boom", wallMs: 3, tokenStart: 4, tokenCount: 2, truncated: false)
        return Trajectory(
            problemID: "p\(group)", group: group, sample: sample, text: "x", tokenIDs: [5, 6, 7, 8, 9, 10, 11, 12],
            promptLength: 3, logprobs: [0, 0, 0, -0.25, 0, 0, -1.5, -3], lossMask: [0, 0, 0, 1, 0, 0, 1, 1],
            segments: [], toolCalls: Array(repeating: call, count: toolCalls), hasCode: toolCalls > 0,
            codeExecuted: false, codeFailed: toolCalls > 0, effectiveCode: false, answer: correct ? "42" : nil,
            grade: Grade(verdict: correct ? .correct : .incorrect, extracted: correct ? "42" : nil,
                         rule: correct ? .identical : .noAnswer, fellBack: false),
            reward: reward, finishReason: finishReason)
    }

    func testAdapterCarriesTokensMasksLogprobsAndRewardsExactly() throws {
        let source = trajectory(group: 1, sample: 0, reward: -1, correct: false, finishReason: "max_tokens", toolCalls: 2)
        let sequence = TrainingSequence(source)
        XCTAssertEqual(sequence.tokens, source.tokenIDs)
        XCTAssertEqual(sequence.promptLength, 3)
        XCTAssertEqual(sequence.lossMask, [0, 0, 0, 1, 0, 0, 1, 1])
        XCTAssertEqual(sequence.oldLogProbabilities, [0, 0, 0, -0.25, 0, 0, -1.5, -3])
        XCTAssertEqual(sequence.reward, -1)
        XCTAssertEqual(sequence.group, 1)
        XCTAssertEqual(sequence.trainedPositions, [3, 6, 7])
        XCTAssertEqual(sequence.outcome, ResponseOutcome(answered: false, correct: false, hasCode: true, codeFailed: true,
                                                         toolCalls: 2, truncated: true))
        let answered = TrainingSequence(trajectory(group: 0, sample: 1, reward: 1, correct: true))
        XCTAssertEqual(answered.outcome, ResponseOutcome(answered: true, correct: true))
        XCTAssertEqual(answered.reward, 1)

        // Two rollout batches: the second batch's groups move past the first's.
        let first = [trajectory(group: 0, sample: 0, reward: 1, correct: true),
                     trajectory(group: 1, sample: 0, reward: -1, correct: false)]
        let second = [trajectory(group: 0, sample: 0, reward: -1, correct: false),
                      trajectory(group: 0, sample: 1, reward: 1, correct: true)]
        XCTAssertEqual(TrainingSequence.combining([first, second]).map(\.group), [0, 1, 2, 2])
        XCTAssertEqual(TrainingSequence.combining([first, second]).map(\.reward), [1, -1, -1, 1])
    }

    /// A tiny random decoder over the real SmolLM2 vocabulary, so the real tokenizer and prompt builder run.
    private func tinyInferenceModel(seed: UInt64) throws -> LlamaModel {
        var configuration = TinyModels.configuration(vocabulary: 49152, layers: 1, tied: true, bias: false)
        configuration.contextLength = 256
        let weights = try TinyModels.model(configuration, seed: seed, standardDeviation: 0.5)
        return try LlamaModel(configuration: configuration, tensors: weights.namedTensors())
    }

    private func logits(_ model: any InferenceModel, _ tokens: [Int32]) throws -> [Float] {
        let sequence = try model.makeSequence()
        defer { model.releaseSequence(sequence) }
        return try model.forward([ForwardStep(sequence: sequence, tokens: tokens, logitsForAllTokens: true)]).values
    }

    private func loop(seed: UInt64, tokenizer: BPETokenizer) throws -> TrainingLoop {
        let unused = ExecutionResult(status: .error, stderr: "tools are off in this test")
        return try TrainingLoop(model: try tinyInferenceModel(seed: 3), tokenizer: tokenizer, chatTemplate: nil,
                                executor: FixedResultExecutor(result: unused), configuration: TrainerConfiguration(),
                                seed: seed)
    }

    /// Two sampled responses of at most 6 tokens per problem, no tool.
    private static var sampledSettings: RolloutSettings {
        var settings = RolloutSettings()
        settings.groupSize = 2
        settings.maxToolCalls = 0
        settings.maxResponseTokens = 6
        settings.sampling = SamplingParameters(temperature: 1, topK: 0, topP: 1, seed: 0)
        return settings
    }

    func testOneLoopStepPushesTheUpdatedWeightsAndIsReproducible() async throws {
        let tokenizer = try RolloutFixtures.tokenizer()
        let settings = Self.sampledSettings
        var hyperParameters = TrainingHyperParameters()
        hyperParameters.learningRate = 1e-2
        // A random model answers nothing correctly: equal rewards, zero advantages. The entropy bonus still
        // gives every step a gradient.
        hyperParameters.entropyCoefficient = 0.1
        let problems = [Problem(id: "a", problem: "What is 2+3?", answer: "5")]
        let probe: [Int32] = [1, 40, 700, 12, 9000]

        let first = try loop(seed: 11, tokenizer: tokenizer)
        let before = try logits(first.model, probe)
        let result = try await first.step(problems: problems, settings: settings, hyperParameters: hyperParameters)
        XCTAssertEqual(result.metrics.step, 1)
        XCTAssertEqual(first.step, 1)
        XCTAssertEqual(result.trajectories.count, 2)
        XCTAssertGreaterThan(result.metrics.trainedTokens, 0)
        XCTAssertGreaterThan(result.metrics.generationSeconds, 0)
        XCTAssertGreaterThan(result.metrics.updateSeconds, 0)
        // The sampler and the trainer score the sampled tokens alike before the update.
        XCTAssertLessThan(try XCTUnwrap(result.metrics.logProbabilityMismatchMax), 1e-3)

        let after = try logits(first.model, probe)
        XCTAssertGreaterThan(zip(before, after).map { abs($0 - $1) }.max()!, 1e-4, "the update reached the engine")
        let trained = try first.trainer.policy.logits(try first.trainer.policy.forward(PackedSequences([probe])),
                                                      rows: Array(probe.indices))
        let scale = max(after.map(abs).max()!, 1e-6)
        XCTAssertLessThan(zip(trained, after).map { abs($0 - $1) }.max()! / scale, 1e-5,
                          "the engine computes the trained policy's logits")

        // Same seed and configuration: same rollouts, same update.
        let second = try loop(seed: 11, tokenizer: tokenizer)
        let again = try await second.step(problems: problems, settings: settings, hyperParameters: hyperParameters)
        XCTAssertEqual(again.trajectories.map(\.tokenIDs), result.trajectories.map(\.tokenIDs))
        XCTAssertEqual(again.metrics.loss, result.metrics.loss)
        XCTAssertEqual(again.metrics.gradientNorm, result.metrics.gradientNorm)
        XCTAssertEqual(second.trainer.policy.parameters.array(), first.trainer.policy.parameters.array())

        // Checkpoint round trip: a fresh loop restored from it continues identically.
        let path = NSTemporaryDirectory() + "torl-loop-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try first.save(to: path)
        let restored = try loop(seed: 99, tokenizer: tokenizer)
        XCTAssertEqual(try restored.restore(from: path), 1)
        XCTAssertEqual(try logits(restored.model, probe), after)
        let next = try await first.step(problems: problems, settings: settings, hyperParameters: hyperParameters)
        let nextRestored = try await restored.step(problems: problems, settings: settings,
                                                   hyperParameters: hyperParameters)
        XCTAssertEqual(nextRestored.trajectories.map(\.tokenIDs), next.trajectories.map(\.tokenIDs))
        XCTAssertEqual(restored.trainer.policy.parameters.array(), first.trainer.policy.parameters.array())
    }

    /// `activations` reaches the trainer, and recomputing each layer in the backward pass instead of keeping its
    /// activations changes memory, not the step: same rollouts, same loss, same gradient norm, same weights.
    func testRecomputingActivationsPerLayerGivesTheSameStep() async throws {
        let tokenizer = try RolloutFixtures.tokenizer()
        let settings = Self.sampledSettings
        let problems = [Problem(id: "a", problem: "What is 2+3?", answer: "5")]
        var results: [TrainingStepResult] = [], loops: [TrainingLoop] = []
        for policy in [ActivationPolicy.keepAll, .recomputePerLayer] {
            var hyperParameters = TrainingHyperParameters()
            hyperParameters.learningRate = 1e-2
            hyperParameters.entropyCoefficient = 0.1  // a gradient although the random model's rewards are equal
            hyperParameters.activationPolicy = policy
            let loop = try loop(seed: 5, tokenizer: tokenizer)
            results.append(try await loop.step(problems: problems, settings: settings, hyperParameters: hyperParameters))
            XCTAssertEqual(loop.trainer.configuration.activationPolicy, policy)
            loops.append(loop)
        }
        XCTAssertEqual(results[1].trajectories.map(\.tokenIDs), results[0].trajectories.map(\.tokenIDs))
        XCTAssertGreaterThan(results[0].metrics.gradientNorm, 0)
        XCTAssertEqual(results[1].metrics.loss, results[0].metrics.loss)
        XCTAssertEqual(results[1].metrics.gradientNorm, results[0].metrics.gradientNorm)
        XCTAssertEqual(loops[1].trainer.policy.parameters.array(), loops[0].trainer.policy.parameters.array())
    }

    func testGreedyRolloutsAndBadHyperParametersAreRefusedByName() async throws {
        let tokenizer = try RolloutFixtures.tokenizer()
        let loop = try loop(seed: 1, tokenizer: tokenizer)
        var settings = RolloutSettings()
        settings.sampling = .greedy
        do {
            _ = try await loop.step(problems: [Problem(id: "a", problem: "1+1?", answer: "2")], settings: settings,
                                    hyperParameters: TrainingHyperParameters())
            XCTFail("a greedy step was accepted")
        } catch let error as TrainingLoopError {
            XCTAssertEqual(error, .greedySampling)
        }
        var bad = TrainingHyperParameters()
        bad.clipLow = 1.5
        XCTAssertThrowsError(try bad.validate()) {
            XCTAssertEqual($0 as? TrainingLoopError, .invalidHyperParameter(name: "eps_low", reason: "must be in [0, 1)"))
        }
        XCTAssertEqual(loop.step, 0)
    }
}

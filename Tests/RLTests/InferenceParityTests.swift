import Foundation
import Models
import Tensors
import XCTest
@testable import RL

/// The training forward and the engine's inference forward agree on the same weights, and updated weights reach
/// the inference model.
final class InferenceParityTests: XCTestCase {
    private func inferenceLogits(_ model: any InferenceModel, _ tokens: [Int32]) throws -> [Float] {
        let sequence = try model.makeSequence()
        defer { model.releaseSequence(sequence) }
        return try model.forward([ForwardStep(sequence: sequence, tokens: tokens, logitsForAllTokens: true)]).values
    }

    private func trainingLogits(_ model: TrainableTransformer, _ tokens: [Int32]) throws -> [Float] {
        try model.logits(try model.forward(PackedSequences([tokens])), rows: Array(tokens.indices))
    }

    private func assertClose(_ a: [Float], _ b: [Float], relative: Float, _ message: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        GradientCheck.assertClose(a, b, relative: relative, message, file: file, line: line)
    }

    func testTinyModelsMatchAndUpdatedWeightsReachTheEngine() throws {
        for configuration in [TinyModels.configuration(tied: false, bias: true, pairing: .halves),
                              TinyModels.configuration(tied: true, bias: false, pairing: .adjacent),
                              TinyModels.gemmaConfiguration()] {
            let policy = try TinyModels.model(configuration)
            let engine: any TransformerModel = configuration.architecture == .gemma3
                ? try Gemma3Model(configuration: configuration, tensors: policy.namedTensors())
                : try LlamaModel(configuration: configuration, tensors: policy.namedTensors())
            let tokens: [Int32] = [1, 4, 7, 2, 9, 3, 3, 10, 0, 5]
            let before = try inferenceLogits(engine, tokens)
            assertClose(try trainingLogits(policy, tokens), before, relative: 1e-5, "\(configuration.architecture) \(configuration.ropePairing)")

            let trainer = try GRPOTrainer(policy: policy, configuration: TrainerConfiguration(schedule: .constant(1e-2)))
            let sequences = [1.0, -1.0].enumerated().map { i, reward in
                TrainingSequence(tokens: tokens, promptLength: 3, lossMask: [0, 0, 0] + [UInt8](repeating: 1, count: 7),
                                 oldLogProbabilities: [Float](repeating: -2, count: tokens.count), reward: reward,
                                 group: 0, outcome: ResponseOutcome(answered: true, correct: reward > 0))
            }.enumerated().map { i, s in var s = s; s.tokens[5] = Int32(i + 1); return s }
            _ = try trainer.step(sequences)
            try policy.copyWeights(into: engine)
            let after = try inferenceLogits(engine, tokens)
            XCTAssertGreaterThan(zip(before, after).map { abs($0 - $1) }.max()!, 1e-3, "the step changed the policy")
            assertClose(try trainingLogits(policy, tokens), after, relative: 1e-5, "after the update")
            XCTAssertEqual(try TrainableTransformer(from: engine).parameters.array(), policy.parameters.array())
        }
    }

    /// SmolLM2-135M-Instruct: TORL_MODEL, else the file `make setup` installs.
    private static func defaultModelPath() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = ProcessInfo.processInfo.environment["TORL_MODEL"]
            ?? root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestMissing(description: "the default model is missing at \(path) (set TORL_MODEL or run make setup)")
        }
        return path
    }

    private struct TestMissing: Error, CustomStringConvertible { let description: String }

    /// The trainer starts from the checkpoint's own weights whatever precision the rollouts run at: before, a bf16
    /// or int8 inference model handed the trainer its rounded weights.
    func testTrainerStartsFromTheSourceWeightsAtEveryInferencePrecision() throws {
        let path = try Self.defaultModelPath()
        let exact = try TrainableTransformer(from: ModelLoader.load(path: path, precision: .f32)).parameters.array()
        for precision in [WeightPrecision.bf16, .int8] {
            let engine = try ModelLoader.load(path: path, precision: precision)
            let rounded = engine.namedTensors()
            let start = try TrainableTransformer(from: engine).parameters.array()
            XCTAssertTrue(start.elementsEqual(exact) { $0.bitPattern == $1.bitPattern }, "\(precision)")
            // The inference model's own weights are not those: the test would catch the rounded ones.
            let layer = try XCTUnwrap(rounded["model.layers.0.self_attn.q_proj.weight"]).values
            let policy = try TrainableTransformer(configuration: engine.configuration)
            try policy.load(rounded, source: "rounded")
            XCTAssertNotEqual(policy.parameters.array(), exact, "\(precision) rounds the weights")
            XCTAssertFalse(layer.isEmpty)
        }
        // An in-memory model at reduced precision has no source to read the exact weights from: a clear error.
        let tiny = try TinyModels.model(TinyModels.configuration())
        let inMemory = try LlamaModel(configuration: tiny.configuration, tensors: tiny.namedTensors(), precision: .bf16)
        XCTAssertThrowsError(try TrainableTransformer(from: inMemory))
    }

    /// The default model: SmolLM2-135M (GGUF, dequantized to f32) through both forwards.
    func testSmolLM2TrainingLogitsMatchInference() throws {
        let path = try Self.defaultModelPath()
        let engine = try ModelLoader.load(path: path)
        let policy = try TrainableTransformer(from: engine)
        let tokens: [Int32] = [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3717, 28, 7018, 411, 253, 1351]
        let training = try trainingLogits(policy, tokens)
        assertClose(training, try inferenceLogits(engine, tokens), relative: 1e-4, "SmolLM2")
        // Decode path: a prefill of 8 tokens, then one token per call through the KV cache.
        let sequence = try engine.makeSequence()
        defer { engine.releaseSequence(sequence) }
        var decoded = try engine.forward([ForwardStep(sequence: sequence, tokens: Array(tokens[0..<8]),
                                                      logitsForAllTokens: true)]).values
        for t in 8..<tokens.count {
            decoded += try engine.forward([ForwardStep(sequence: sequence, tokens: [tokens[t]])]).values
        }
        assertClose(training, decoded, relative: 1e-4, "SmolLM2 decode")

        // Rollout shape: a prefilled prompt forked into samples decoded together, one token each per call.
        let promptSequence = try engine.makeSequence()
        let prompt = Array(tokens[0..<8])
        _ = try engine.forward([ForwardStep(sequence: promptSequence, tokens: prompt)])
        let forks = try (0..<4).map { _ in try engine.forkSequence(promptSequence) }
        engine.releaseSequence(promptSequence)
        defer { forks.forEach(engine.releaseSequence) }
        var continuations: [[Int32]] = []
        for f in 0..<4 {
            continuations.append((0..<24).map { (step: Int) -> Int32 in Int32((f * 7919 + step * 104_729) % 49152) })
        }
        var forkLogits = [[Float]](repeating: [], count: 4)
        for step in 0..<24 {
            let logits = try engine.forward(forks.indices.map {
                ForwardStep(sequence: forks[$0], tokens: [continuations[$0][step]])
            })
            for f in 0..<4 { forkLogits[f] += Array(logits.row(logits.rowRanges[f].lowerBound)) }
        }
        for f in 0..<4 {
            let full = prompt + continuations[f]
            let expected = try policy.logits(try policy.forward(PackedSequences([full])), rows: Array(8..<32))
            assertClose(forkLogits[f], expected, relative: 1e-4, "SmolLM2 fork \(f) batched decode")
        }
    }
}

import Foundation
import Models
import Tensors
@testable import RL

/// A task small enough to learn in seconds: the prompt is [0, p] with p in 1...3; the policy writes 3 tokens of
/// a vocabulary of 8; reward +1 when every written token has the parity of p, else −1 (1 in 8 by chance).
enum ToyTask {
    static let responseLength = 3

    /// Two layers, two heads of hidden/2, intermediate 2·hidden, tied embedding and head.
    static func configuration(hiddenSize: Int = 16) -> ModelConfiguration {
        ModelConfiguration(architecture: .qwen2, vocabularySize: 8, hiddenSize: hiddenSize, intermediateSize: 2 * hiddenSize,
                           layerCount: 2, headCount: 2, keyValueHeadCount: 1, headDimension: hiddenSize / 2,
                           contextLength: 16, ropeTheta: 10000, ropePairing: .halves, rmsNormEpsilon: 1e-5,
                           tiedEmbeddings: true, attentionBias: true)
    }

    static func reward(prompt: Int32, response: ArraySlice<Int32>) -> Double {
        response.allSatisfy { $0 % 2 == prompt % 2 } ? 1 : -1
    }

    /// G samples for each prompt from the model's own forward at temperature 1, with their sampling log-probs.
    static func rollout(_ model: TrainableTransformer, prompts: [Int32], samplesPerPrompt: Int,
                        generator: inout SeededGenerator) throws -> [TrainingSequence] {
        var sequences: [[Int32]] = prompts.flatMap { p in Array(repeating: [0, p], count: samplesPerPrompt) }
        var logProbabilities = Array(repeating: [Float](repeating: 0, count: 2), count: sequences.count)
        let vocabulary = model.configuration.vocabularySize
        for _ in 0..<responseLength {
            let batch = PackedSequences(sequences)
            let logits = try model.logits(try model.forward(batch, policy: .recomputePerLayer),
                                          rows: batch.segments.map { $0.upperBound - 1 })
            for s in sequences.indices {
                let row = logits[(s * vocabulary)..<((s + 1) * vocabulary)].map(Double.init)
                let maximum = row.max()!
                let logNormalizer = maximum + log(row.reduce(0) { $0 + exp($1 - maximum) })
                let u = generator.nextUnitFloat()
                var cumulative = 0.0
                var token = vocabulary - 1
                for v in 0..<vocabulary {
                    cumulative += exp(row[v] - logNormalizer)
                    if u < cumulative { token = v; break }
                }
                sequences[s].append(Int32(token))
                logProbabilities[s].append(Float(row[token] - logNormalizer))
            }
        }
        return sequences.enumerated().map { s, tokens in
            let r = reward(prompt: tokens[1], response: tokens[2...])
            return TrainingSequence(tokens: tokens, promptLength: 2, lossMask: [0, 0] + [UInt8](repeating: 1, count: responseLength),
                                    oldLogProbabilities: logProbabilities[s], reward: r, group: s / samplesPerPrompt,
                                    outcome: ResponseOutcome(answered: true, correct: r > 0))
        }
    }

    /// Runs `steps` rollout + update rounds from a seed; returns each step's metrics.
    static func train(seed: UInt64, steps: Int, configuration: TrainerConfiguration) throws
        -> (metrics: [StepMetrics], model: TrainableTransformer) {
        let model = try TrainableTransformer(configuration: Self.configuration())
        model.initializeRandomly(seed: seed, standardDeviation: 0.1)
        return (try train(model, seed: seed, steps: steps, configuration: configuration), model)
    }

    /// Runs `steps` rollout + update rounds on `model` (full or LoRA), the rollouts seeded from `seed`.
    static func train(_ model: TrainableTransformer, seed: UInt64, steps: Int,
                      configuration: TrainerConfiguration) throws -> [StepMetrics] {
        let trainer = try GRPOTrainer(policy: model, configuration: configuration)
        var generator = SeededGenerator(seed: seed &+ 100)
        var metrics: [StepMetrics] = []
        for _ in 0..<steps {
            let batch = try rollout(model, prompts: [1, 2, 3, 2], samplesPerPrompt: 8, generator: &generator)
            metrics.append(try trainer.step(batch))
        }
        return metrics
    }

    /// The first step at which the mean reward of the last three steps is at least `level`, if any.
    static func stepReaching(_ level: Double, _ metrics: [StepMetrics]) -> Int? {
        let rewards = metrics.map(\.rewardMean)
        return (2..<max(rewards.count, 2)).first { rewards[($0 - 2)...$0].reduce(0, +) / 3 >= level }
    }

    static let trainerConfiguration = TrainerConfiguration(
        optimizer: AdamWConfiguration(weightDecay: 0), schedule: .constant(2e-2), maxGradientNorm: 1,
        microBatchTokens: 40)
}

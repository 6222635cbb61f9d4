import Models
import Tensors
@testable import RL

/// Small configurations for numeric tests: every feature (GQA, biases, tied/untied head, both RoPE pairings).
enum TinyModels {
    static func configuration(vocabulary: Int = 11, layers: Int = 2, tied: Bool = false, bias: Bool = true,
                              pairing: ModelConfiguration.RopePairing = .halves) -> ModelConfiguration {
        ModelConfiguration(architecture: bias ? .qwen2 : .llama, vocabularySize: vocabulary, hiddenSize: 8,
                           intermediateSize: 12, layerCount: layers, headCount: 4, keyValueHeadCount: 2,
                           headDimension: 4, contextLength: 64, ropeTheta: 10000, ropePairing: pairing,
                           rmsNormEpsilon: 1e-5, tiedEmbeddings: tied, attentionBias: bias)
    }

    /// A tiny Gemma 3: layer 0 sliding-window (window 3, shorter than the test sequences), layer 1 global,
    /// query_pre_attn_scalar 6 ≠ head dimension 4.
    static func gemmaConfiguration(vocabulary: Int = 11) -> ModelConfiguration {
        ModelConfiguration(architecture: .gemma3, vocabularySize: vocabulary, hiddenSize: 8, intermediateSize: 12,
                           layerCount: 2, headCount: 4, keyValueHeadCount: 2, headDimension: 4, contextLength: 64,
                           ropeTheta: 1_000_000, ropePairing: .halves, rmsNormEpsilon: 1e-6, tiedEmbeddings: true,
                           attentionBias: false, slidingWindow: 3, slidingWindowPattern: 2, localRopeTheta: 10_000,
                           queryPreAttentionScalar: 6)
    }

    static func model(_ configuration: ModelConfiguration, seed: UInt64 = 42,
                      standardDeviation: Float = 0.4) throws -> TrainableTransformer {
        let model = try TrainableTransformer(configuration: configuration)
        model.initializeRandomly(seed: seed, standardDeviation: standardDeviation)
        // Non-trivial norm weights and biases so that their gradients are exercised.
        var generator = SeededGenerator(seed: seed &+ 1)
        for entry in model.layout.entries where !model.layout.isMatrix(entry) {
            for i in entry.range { model.parameters[i] += Float(generator.nextUnitFloat() - 0.5) * 0.4 }
        }
        return model
    }

    /// A random parameter subset touching every tensor: a few indices of each.
    static func parameterSample(_ layout: ParameterLayout, perTensor: Int = 4, seed: UInt64 = 9) -> [Int] {
        var generator = SeededGenerator(seed: seed)
        return layout.entries.flatMap { entry in
            (0..<min(perTensor, entry.count)).map { _ in entry.offset + Int(generator.next() % UInt64(entry.count)) }
        }
    }
}

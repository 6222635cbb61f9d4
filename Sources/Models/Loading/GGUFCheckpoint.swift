import Foundation
import Tensors

/// Reads a Llama, Qwen2 or Gemma 3 model from a GGUF file: hyper-parameters from the `<arch>.*` metadata, tensors by
/// their GGUF names (dequantized to f32), translated to Hugging Face names through `TensorNameTable`.
public enum GGUFCheckpoint {
    public static func configuration(of gguf: GGUFFile) throws -> ModelConfiguration {
        let archName = try gguf.requiredString("general.architecture")
        guard let architecture = ModelConfiguration.Architecture(rawValue: archName) else {
            throw ModelError.unknownArchitecture(archName, key: "general.architecture", source: gguf.path)
        }
        let prefix = archName + "."
        if let scaling = gguf.metadata[prefix + "rope.scaling.type"]?.stringValue, scaling != "none" {
            throw ModelError.invalidConfiguration(source: gguf.path, detail: "RoPE scaling \"\(scaling)\" is not supported")
        }
        let hidden = try gguf.requiredInt(prefix + "embedding_length")
        let heads = try gguf.requiredInt(prefix + "attention.head_count")
        guard heads > 0, hidden % heads == 0 else {
            throw ModelError.invalidConfiguration(source: gguf.path, detail: "embedding_length \(hidden) is not divisible by head_count \(heads)")
        }
        guard let embedding = gguf.tensorsByName["token_embd.weight"], embedding.dimensions.count == 2 else {
            throw ModelError.missingTensors(["token_embd.weight"], source: gguf.path)
        }
        let vocabulary = try gguf.optionalInt(prefix + "vocab_size") ?? embedding.dimensions[1]
        let layers = try gguf.requiredInt(prefix + "block_count")
        let headDimension = try gguf.optionalInt(prefix + "attention.key_length") ?? hidden / heads
        var configuration = ModelConfiguration(
            architecture: architecture,
            vocabularySize: vocabulary,
            hiddenSize: hidden,
            intermediateSize: try gguf.requiredInt(prefix + "feed_forward_length"),
            layerCount: layers,
            headCount: heads,
            keyValueHeadCount: try gguf.optionalInt(prefix + "attention.head_count_kv") ?? heads,
            headDimension: headDimension,
            contextLength: try gguf.requiredInt(prefix + "context_length"),
            ropeTheta: try gguf.optionalDouble(prefix + "rope.freq_base") ?? 10_000,
            // llama.cpp's converter permutes Llama q/k rows so adjacent pairs rotate; Qwen2 and Gemma 3 (NeoX
            // style) keep the halves.
            ropePairing: architecture == .llama ? .adjacent : .halves,
            rmsNormEpsilon: try gguf.optionalDouble(prefix + "attention.layer_norm_rms_epsilon") ?? 1e-5,
            tiedEmbeddings: gguf.tensorsByName["output.weight"] == nil,
            attentionBias: gguf.tensorsByName["blk.0.attn_q.bias"] != nil)
        if architecture == .gemma3 {
            // The facts llama.cpp hard-codes for gemma3 (llama-model.cpp): global attention on every sixth layer,
            // RoPE base 10,000 on the others, and q scaled by 1/sqrt(head dimension), except for the 62-layer
            // 27B, which Google trained with 1/sqrt(width / heads).
            configuration.slidingWindow = try gguf.requiredInt(prefix + "attention.sliding_window")
            configuration.slidingWindowPattern = 6
            configuration.localRopeTheta = 10_000
            configuration.queryPreAttentionScalar = Double(layers == 62 ? hidden / heads : headDimension)
        }
        try configuration.validate(source: gguf.path)
        return configuration
    }

    /// All parameters as f32, keyed by Hugging Face name, after checking names and shapes.
    public static func namedTensors(of gguf: GGUFFile, configuration: ModelConfiguration) throws -> [String: NamedTensor] {
        var available: [String: [Int]] = [:]
        for tensor in gguf.tensors { available[tensor.name] = tensor.dimensions.reversed() }
        try TensorNameTable.validate(available: available, configuration: configuration, naming: { $0.ggufName }, source: gguf.path)
        var result: [String: NamedTensor] = [:]
        for spec in TensorNameTable.parameters(for: configuration) {
            let info = gguf.tensorsByName[spec.ggufName]!
            let values: [Float]
            do {
                values = try Dequantize.toFloat32(gguf.data(of: info), type: info.type, count: info.elementCount)
            } catch let error as DequantizeError {
                if case .unsupportedType = error {
                    throw ModelFormatError.unsupportedDType(path: gguf.path, tensor: spec.ggufName, dtype: info.type.name)
                }
                throw ModelFormatError.malformed(path: gguf.path, detail: "tensor \(spec.ggufName): \(error)")
            }
            result[spec.name] = NamedTensor(shape: spec.shape, values: values)
        }
        if configuration.architecture == .gemma3 {
            // llama.cpp's converter stores Gemma's RMSNorm weights as 1 + w; named tensors keep Hugging Face's w.
            for spec in TensorNameTable.parameters(for: configuration) where TensorNameTable.isGemmaNorm(spec.name) {
                result[spec.name]!.values = result[spec.name]!.values.map { $0 - 1 }
            }
        }
        return result
    }
}

extension ModelConfiguration {
    /// Rejects hyper-parameters the forward pass cannot run with.
    func validate(source: String) throws {
        func fail(_ detail: String) -> ModelError { .invalidConfiguration(source: source, detail: detail) }
        for (name, value) in [("vocabulary size", vocabularySize), ("hidden size", hiddenSize),
                              ("intermediate size", intermediateSize), ("layer count", layerCount),
                              ("head count", headCount), ("key/value head count", keyValueHeadCount),
                              ("head dimension", headDimension), ("context length", contextLength)] where value <= 0 {
            throw fail("\(name) is \(value)")
        }
        // Bounds far above any real model keep a corrupt header from building giant tables or buffers.
        for (name, value, limit) in [("vocabulary size", vocabularySize, 1 << 24), ("hidden size", hiddenSize, 1 << 20),
                                     ("intermediate size", intermediateSize, 1 << 22), ("layer count", layerCount, 1 << 12),
                                     ("head count", headCount, 1 << 12), ("head dimension", headDimension, 1 << 12),
                                     ("context length", contextLength, 1 << 24)] where value > limit {
            throw fail("\(name) \(value) is beyond any supported model (limit \(limit))")
        }
        guard headCount % keyValueHeadCount == 0 else {
            throw fail("head count \(headCount) is not a multiple of the key/value head count \(keyValueHeadCount)")
        }
        guard headDimension % 2 == 0 else { throw fail("head dimension \(headDimension) is odd; RoPE rotates pairs") }
        guard ropeTheta > 0, rmsNormEpsilon >= 0 else { throw fail("rope theta \(ropeTheta), RMSNorm epsilon \(rmsNormEpsilon)") }
        if architecture == .gemma3 {
            guard let window = slidingWindow, window > 0 else { throw fail("Gemma 3 needs a positive sliding window") }
            guard let pattern = slidingWindowPattern, pattern > 0 else { throw fail("Gemma 3 needs a sliding-window layer pattern") }
            guard (localRopeTheta ?? 0) > 0, (queryPreAttentionScalar ?? 1) > 0 else {
                throw fail("local rope theta \(localRopeTheta ?? 0), query scalar \(queryPreAttentionScalar ?? 0)")
            }
            guard !attentionBias else { throw fail("Gemma 3 has no attention biases") }
        }
    }
}

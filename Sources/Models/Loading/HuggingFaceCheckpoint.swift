import Foundation
import Tensors

/// Reads a Hugging Face checkpoint folder: `config.json` plus `model.safetensors` or a sharded
/// `model.safetensors.index.json`.
public enum HuggingFaceCheckpoint {
    public static func configuration(directory: String) throws -> ModelConfiguration {
        let path = (directory as NSString).appendingPathComponent("config.json")
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ModelFormatError.cannotOpen(path: path, reason: "cannot read config.json (\(error.localizedDescription))")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelFormatError.malformed(path: path, detail: "not a JSON object")
        }
        return try configuration(json: json, source: path)
    }

    static func configuration(json: [String: Any], source: String) throws -> ModelConfiguration {
        guard let modelType = json["model_type"] as? String else {
            throw ModelFormatError.missingMetadata(path: source, key: "model_type")
        }
        // Hugging Face's "gemma3" is the multimodal model (its text model nested in text_config); the text-only
        // Gemma3ForCausalLM is "gemma3_text".
        let architectures: [String: ModelConfiguration.Architecture] = ["llama": .llama, "qwen2": .qwen2, "gemma3_text": .gemma3]
        guard let architecture = architectures[modelType] else {
            throw ModelError.unknownArchitecture(modelType, key: "model_type", source: source)
        }
        if let scaling = json["rope_scaling"], !(scaling is NSNull) {
            throw ModelError.invalidConfiguration(source: source, detail: "rope_scaling \(scaling) is not supported")
        }
        let fields = ConfigFields(json: json, source: source)
        func int(_ key: String) throws -> Int { try fields.int(key) }
        func optional<T>(_ key: String, _ type: T.Type) throws -> T? { try fields.optional(key, type) }
        let hidden = try int("hidden_size"), heads = try int("num_attention_heads")
        guard heads > 0 else { throw ModelError.invalidConfiguration(source: source, detail: "num_attention_heads is \(heads)") }
        var configuration = ModelConfiguration(
            architecture: architecture,
            vocabularySize: try int("vocab_size"),
            hiddenSize: hidden,
            intermediateSize: try int("intermediate_size"),
            layerCount: try int("num_hidden_layers"),
            headCount: heads,
            keyValueHeadCount: try optional("num_key_value_heads", Int.self) ?? heads,
            headDimension: try optional("head_dim", Int.self) ?? hidden / heads,
            contextLength: try int("max_position_embeddings"),
            ropeTheta: try optional("rope_theta", Double.self) ?? 10_000,
            ropePairing: .halves,
            rmsNormEpsilon: try optional("rms_norm_eps", Double.self) ?? 1e-6,
            tiedEmbeddings: try optional("tie_word_embeddings", Bool.self) ?? (architecture == .gemma3),
            attentionBias: architecture == .qwen2 ? true : (try optional("attention_bias", Bool.self) ?? false))
        if architecture == .gemma3 { try readGemma3Fields(fields, into: &configuration) }
        try configuration.validate(source: source)
        return configuration
    }

    /// Gemma3TextConfig's fields (defaults as transformers'); options torl's decoder does not run (logit
    /// soft-capping, bidirectional attention, another activation, an irregular layer pattern) are errors.
    private static func readGemma3Fields(_ fields: ConfigFields, into c: inout ModelConfiguration) throws {
        let source = fields.source
        func optional<T>(_ key: String, _ type: T.Type) throws -> T? { try fields.optional(key, type) }
        func fail(_ detail: String) -> ModelError { .invalidConfiguration(source: source, detail: detail) }
        let activation = try optional("hidden_activation", String.self) ?? "gelu_pytorch_tanh"
        guard activation == "gelu_pytorch_tanh" else { throw fail("hidden_activation \(activation) (gelu_pytorch_tanh expected)") }
        for key in ["final_logit_softcapping", "attn_logit_softcapping"] where try optional(key, Double.self) != nil {
            throw fail("\(key) is set; torl's Gemma 3 has no logit soft-capping")
        }
        if try optional("use_bidirectional_attention", Bool.self) == true {
            throw fail("use_bidirectional_attention is true; torl's Gemma 3 is causal")
        }
        guard let window = try optional("sliding_window", Int.self) else {
            throw ModelFormatError.missingMetadata(path: source, key: "sliding_window")
        }
        c.slidingWindow = window
        var pattern = try optional("sliding_window_pattern", Int.self) ?? 6
        if let types = try optional("layer_types", [String].self) {
            // torl runs global attention on every pattern-th layer: the list must be that.
            guard let firstGlobal = types.firstIndex(of: "full_attention") else { throw fail("layer_types has no full_attention layer") }
            pattern = firstGlobal + 1
            let expected = (0..<types.count).map { ($0 + 1) % pattern == 0 ? "full_attention" : "sliding_attention" }
            guard types == expected, types.count == c.layerCount else {
                throw fail("layer_types \(types) is not a sliding-window layer pattern repeating every \(pattern) layers")
            }
        }
        c.slidingWindowPattern = pattern
        c.ropeTheta = try optional("rope_theta", Double.self) ?? 1_000_000
        c.localRopeTheta = try optional("rope_local_base_freq", Double.self) ?? 10_000
        if let parameters = try optional("rope_parameters", [String: Any].self) {
            // transformers 5 writes each layer kind's RoPE as {"rope_type": "default", "rope_theta": ...}.
            for (kind, isGlobal) in [("full_attention", true), ("sliding_attention", false)] {
                guard let entry = parameters[kind] as? [String: Any] else { continue }
                guard (entry["rope_type"] as? String ?? "default") == "default" else {
                    throw fail("rope_parameters.\(kind).rope_type \(entry["rope_type"] ?? "?") is not supported")
                }
                if let theta = (entry["rope_theta"] as? NSNumber)?.doubleValue {
                    if isGlobal { c.ropeTheta = theta } else { c.localRopeTheta = theta }
                }
            }
        }
        c.queryPreAttentionScalar = try optional("query_pre_attn_scalar", Double.self) ?? 256
    }

    /// All parameters as f32 after checking names and shapes. A present `lm_head.weight` is used as the output
    /// head even when the config ties it (some exports save the tied copy).
    public static func namedTensors(of checkpoint: SafetensorsCheckpoint,
                                    configuration: inout ModelConfiguration) throws -> [String: NamedTensor] {
        if checkpoint.locations["lm_head.weight"] != nil { configuration.tiedEmbeddings = false }
        var available: [String: [Int]] = [:]
        for (name, location) in checkpoint.locations { available[name] = location.info.shape }
        try TensorNameTable.validate(available: available, configuration: configuration, naming: { $0.name },
                                     source: checkpoint.directory)
        var result: [String: NamedTensor] = [:]
        for spec in TensorNameTable.parameters(for: configuration) {
            let location = checkpoint.locations[spec.name]!
            result[spec.name] = NamedTensor(shape: spec.shape, values: location.shard.float32(of: location.info))
        }
        return result
    }
}

/// Typed reads of a config.json whose errors name the file and the key.
private struct ConfigFields {
    let json: [String: Any]
    let source: String

    func int(_ key: String) throws -> Int {
        guard let value = json[key] else { throw ModelFormatError.missingMetadata(path: source, key: key) }
        guard let number = value as? Int else { throw ModelFormatError.malformed(path: source, detail: "\(key) is not an integer") }
        return number
    }

    func optional<T>(_ key: String, _: T.Type) throws -> T? {
        guard let value = json[key], !(value is NSNull) else { return nil }
        guard let typed = value as? T else { throw ModelFormatError.malformed(path: source, detail: "\(key) has the wrong type") }
        return typed
    }
}

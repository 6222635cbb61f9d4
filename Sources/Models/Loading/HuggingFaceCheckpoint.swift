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
        guard let architecture = ModelConfiguration.Architecture(rawValue: modelType) else {
            throw ModelError.unknownArchitecture(modelType, source: source)
        }
        if let scaling = json["rope_scaling"], !(scaling is NSNull) {
            throw ModelError.invalidConfiguration(source: source, detail: "rope_scaling \(scaling) is not supported")
        }
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
        let hidden = try int("hidden_size"), heads = try int("num_attention_heads")
        guard heads > 0 else { throw ModelError.invalidConfiguration(source: source, detail: "num_attention_heads is \(heads)") }
        let configuration = ModelConfiguration(
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
            tiedEmbeddings: try optional("tie_word_embeddings", Bool.self) ?? false,
            attentionBias: architecture == .qwen2 ? true : (try optional("attention_bias", Bool.self) ?? false))
        try configuration.validate(source: source)
        return configuration
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

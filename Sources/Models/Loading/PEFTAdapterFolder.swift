import Foundation
import Tensors

/// LoRA adapters as Hugging Face PEFT saves them: `adapter_config.json` (`peft_type` LORA, `r`, `lora_alpha`,
/// `target_modules`, `use_rslora`, ...) and `adapter_model.safetensors` with A: [r, in] and B: [out, r] under names
/// such as `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`.
///
/// Models whose q/k rows are in llama.cpp's adjacent RoPE order (Llama GGUFs) hold B's q and k rows in that order;
/// the folder always holds Hugging Face's halves order, as the merged export does.
public enum PEFTAdapterFolder {
    public static let configFile = "adapter_config.json"
    public static let weightsFile = "adapter_model.safetensors"

    /// Writes `adapters` as a PEFT folder (whole or not at all; `directory` must not exist or be empty).
    /// `baseModel` is recorded as `base_model_name_or_path`.
    public static func write(_ adapters: LoRAAdapters, to directory: String, baseModel: String) throws {
        let c = adapters.configuration
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": c.rank, "lora_alpha": c.alpha,
            "target_modules": c.targets.map(\.moduleName), "use_rslora": c.useRSLoRA,
            "base_model_name_or_path": baseModel, "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": false,
            "inference_mode": true, "init_lora_weights": true, "use_dora": false,
        ]
        var tensors = adapters.namedTensors()
        reorderQueryKeyRows(&tensors, adapters: adapters, toHalves: true)
        try writeFolder(directory) { staging in
            let configData = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            let writer = try AtomicFileWriter(destination: (staging as NSString).appendingPathComponent(configFile))
            try writer.write(configData)
            try writer.commit()
            let names = tensors.keys.sorted()
            let arrays = names.map { tensors[$0]! }
            try withBuffers(arrays.map(\.values)) { buffers in
                try SafetensorsWriter.write(zip(names, zip(arrays, buffers)).map {
                    SafetensorsWriter.Tensor(name: $0.0, shape: $0.1.0.shape, values: $0.1.1)
                }, metadata: ["format": "pt"], to: (staging as NSString).appendingPathComponent(weightsFile))
            }
        }
    }

    /// Reads a PEFT LoRA folder for a model of configuration `model`. Options torl does not implement (DoRA,
    /// trained biases, modules_to_save, per-layer ranks, layer subsets, other target modules) are errors naming the
    /// option, never silently dropped.
    public static func read(from directory: String, model: ModelConfiguration) throws -> LoRAAdapters {
        let configPath = (directory as NSString).appendingPathComponent(configFile)
        func invalid(_ detail: String) -> ModelError { .invalidConfiguration(source: configPath, detail: detail) }
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw ModelFormatError.cannotOpen(path: configPath, reason: "no adapter_config.json in \(directory)")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelFormatError.malformed(path: configPath, detail: "not a JSON object")
        }
        guard (json["peft_type"] as? String)?.uppercased() == "LORA" else {
            throw invalid("peft_type is \(json["peft_type"] ?? "missing"), only LORA adapters are supported")
        }
        guard let rank = json["r"] as? Int else { throw invalid("r (the rank) is missing or not an integer") }
        guard let alpha = (json["lora_alpha"] as? NSNumber)?.doubleValue else { throw invalid("lora_alpha is missing") }
        if json["use_dora"] as? Bool == true { throw invalid("use_dora: DoRA adapters are not supported") }
        if let bias = json["bias"] as? String, bias != "none" { throw invalid("bias \"\(bias)\": trained biases are not supported") }
        if json["fan_in_fan_out"] as? Bool == true { throw invalid("fan_in_fan_out: transposed (Conv1D) weights are not supported") }
        if let modules = json["modules_to_save"] as? [Any], !modules.isEmpty { throw invalid("modules_to_save is not supported") }
        for key in ["rank_pattern", "alpha_pattern"] {
            if let pattern = json[key] as? [String: Any], !pattern.isEmpty { throw invalid("\(key): per-module ranks are not supported") }
        }
        if let layers = json["layers_to_transform"], !(layers is NSNull) { throw invalid("layers_to_transform is not supported") }
        let targets: [LoRATarget]
        if let names = json["target_modules"] as? [String] {
            targets = try names.map { name in
                guard let target = LoRATarget(moduleName: name) else {
                    throw invalid("target module \(name) is not one of \(LoRATarget.allCases.map(\.moduleName))")
                }
                return target
            }
        } else if json["target_modules"] as? String == "all-linear" {
            targets = LoRATarget.allCases
        } else {
            throw invalid("target_modules must be a list of module names (or \"all-linear\")")
        }
        let configuration = LoRAConfiguration(rank: rank, alpha: alpha, targets: targets,
                                              useRSLoRA: json["use_rslora"] as? Bool ?? false)
        let adapters = try LoRAAdapters(configuration: configuration, model: model)
        let weightsPath = (directory as NSString).appendingPathComponent(weightsFile)
        let file = try SafetensorsFile(path: weightsPath)
        var tensors: [String: NamedTensor] = [:]
        for (name, info) in file.tensors {
            // Some PEFT versions keep the adapter name ("...lora_A.default.weight").
            let key = name.replacingOccurrences(of: ".default.weight", with: ".weight")
            tensors[key] = NamedTensor(shape: info.shape, values: file.float32(of: info))
        }
        reorderQueryKeyRows(&tensors, adapters: adapters, toHalves: false)
        try adapters.load(tensors, source: weightsPath)
        return adapters
    }

    /// B of q and k: [out, r] rows between the engine's order and Hugging Face's halves order (adjacent-pairing
    /// models only).
    private static func reorderQueryKeyRows(_ tensors: inout [String: NamedTensor], adapters: LoRAAdapters, toHalves: Bool) {
        guard adapters.model.ropePairing == .adjacent else { return }
        for (name, tensor) in tensors where name.hasSuffix("q_proj.lora_B.weight") || name.hasSuffix("k_proj.lora_B.weight") {
            guard tensor.shape.count == 2 else { continue }
            let width = tensor.shape[1], d = adapters.model.headDimension
            tensors[name]!.values = toHalves
                ? TrainableTransformer.halvesOrder(tensor.values, rowWidth: width, headDimension: d)
                : TrainableTransformer.adjacentOrder(tensor.values, rowWidth: width, headDimension: d)
        }
    }
}

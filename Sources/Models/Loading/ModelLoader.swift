import Foundation
import Tensors

/// Entry point: a model from a GGUF file or a Hugging Face checkpoint folder.
public enum ModelLoader {
    /// `path`: a `.gguf` file, or a folder with `config.json` and safetensors weights.
    /// `precision`: how the linear weights are stored for inference (f32 is exact).
    /// Llama and Qwen2 load as `LlamaModel`, Gemma 3 as `Gemma3Model`.
    public static func load(path: String, precision: WeightPrecision = .f32) throws -> any TransformerModel {
        let (configuration, tensors) = try sourceTensors(path: path)
        if configuration.architecture == .gemma3 {
            return try Gemma3Model(configuration: configuration, tensors: tensors, precision: precision, source: path)
        }
        return try LlamaModel(configuration: configuration, tensors: tensors, precision: precision, source: path)
    }

    /// The checkpoint's configuration and its weights as f32 tensors keyed by Hugging Face name: GGUF blocks
    /// dequantized exactly as ggml does, a folder's F16/BF16/F32 widened. What every model is built from, and what
    /// training starts from whatever precision the inference model rounds them to.
    public static func sourceTensors(path: String) throws -> (configuration: ModelConfiguration,
                                                              tensors: [String: NamedTensor]) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelFormatError.cannotOpen(path: path, reason: "no such file or directory")
        }
        if isDirectory.boolValue {
            var configuration = try HuggingFaceCheckpoint.configuration(directory: path)
            let checkpoint = try SafetensorsCheckpoint(directory: path)
            let tensors = try HuggingFaceCheckpoint.namedTensors(of: checkpoint, configuration: &configuration)
            return (configuration, tensors)
        }
        let gguf = try GGUFFile(path: path)
        let configuration = try GGUFCheckpoint.configuration(of: gguf)
        return (configuration, try GGUFCheckpoint.namedTensors(of: gguf, configuration: configuration))
    }
}

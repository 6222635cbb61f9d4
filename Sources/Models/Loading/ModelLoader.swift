import Foundation
import Tensors
import Tokenizers

/// Entry point: a model, and the tokenizer of the same files, from a GGUF file or a Hugging Face checkpoint folder.
public enum ModelLoader {
    /// `path`: a `.gguf` file, or a folder with `config.json` and safetensors weights.
    /// `precision`: how the linear weights are stored for inference (f32 is exact).
    /// Llama and Qwen2 load as `LlamaModel`, Gemma 3 as `Gemma3Model`.
    public static func load(path: String, precision: WeightPrecision = .f32) throws -> any TransformerModel {
        try Checkpoint(path: path).model(precision: precision)
    }

    /// The checkpoint's configuration and its weights as f32 tensors keyed by Hugging Face name: GGUF blocks
    /// dequantized exactly as ggml does, a folder's F16/BF16/F32 widened. What every model is built from, and what
    /// training starts from whatever precision the inference model rounds them to.
    public static func sourceTensors(path: String) throws -> (configuration: ModelConfiguration,
                                                              tensors: [String: NamedTensor]) {
        try Checkpoint(path: path).sourceTensors()
    }

    /// A checkpoint opened once: its path checked, a GGUF file mapped.
    public enum Checkpoint {
        case gguf(GGUFFile)
        case folder(String)

        public init(path: String) throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ModelFormatError.cannotOpen(path: path, reason: "no such file or directory")
            }
            self = isDirectory.boolValue ? .folder(path) : .gguf(try GGUFFile(path: path))
        }

        public var path: String {
            switch self {
            case .gguf(let file): return file.path
            case .folder(let path): return path
            }
        }

        /// The file's name without its extension, or the folder's name.
        public var name: String {
            let url = URL(fileURLWithPath: path)
            switch self {
            case .gguf: return url.deletingPathExtension().lastPathComponent
            case .folder: return url.lastPathComponent
            }
        }

        /// The tokenizer the same files describe: a GGUF's `tokenizer.ggml.*` metadata (byte-level BPE or
        /// SentencePiece), a folder's `tokenizer.json` and optional `tokenizer_config.json`.
        public func tokenizer() throws -> any Tokenizer {
            switch self {
            case .gguf(let file): return try file.makeAnyTokenizer()
            case .folder(let path): return try HuggingFaceTokenizer.load(folder: path)
            }
        }

        /// The model and its tokenizer from this one opening (a GGUF file is mapped once for both). Throws when the
        /// tokenizer has more tokens than the model has embeddings.
        public func modelAndTokenizer(precision: WeightPrecision) throws
            -> (model: any TransformerModel, tokenizer: any Tokenizer) {
            let tokenizer = try tokenizer()
            let model = try model(precision: precision)
            guard tokenizer.vocabularySize <= model.configuration.vocabularySize else {
                throw ModelFormatError.malformed(
                    path: path,
                    detail: "the tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(model.configuration.vocabularySize) embeddings")
            }
            return (model, tokenizer)
        }

        public func model(precision: WeightPrecision) throws -> any TransformerModel {
            let (configuration, tensors) = try sourceTensors()
            if configuration.architecture == .gemma3 {
                return try Gemma3Model(configuration: configuration, tensors: tensors, precision: precision, source: path)
            }
            return try LlamaModel(configuration: configuration, tensors: tensors, precision: precision, source: path)
        }

        public func sourceTensors() throws -> (configuration: ModelConfiguration, tensors: [String: NamedTensor]) {
            switch self {
            case .folder(let path):
                var configuration = try HuggingFaceCheckpoint.configuration(directory: path)
                let checkpoint = try SafetensorsCheckpoint(directory: path)
                let tensors = try HuggingFaceCheckpoint.namedTensors(of: checkpoint, configuration: &configuration)
                return (configuration, tensors)
            case .gguf(let file):
                let configuration = try GGUFCheckpoint.configuration(of: file)
                return (configuration, try GGUFCheckpoint.namedTensors(of: file, configuration: configuration))
            }
        }
    }
}

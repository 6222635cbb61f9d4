import Foundation
import Models
import Tensors
import Tokenizers

/// A model ready to generate with: weights, the tokenizer and chat template from the same files, and a name.
public final class LoadedModel {
    public let model: any TransformerModel
    public let tokenizer: any Tokenizer
    /// File name without extension, or the folder's name.
    public let name: String
    public let path: String
    /// The PEFT LoRA folder applied on top of the weights at load, if any.
    public let adapterPath: String?
    private let chatTemplateResult: Result<ChatTemplate, ChatTemplateError>

    public init(model: any TransformerModel, tokenizer: any Tokenizer, name: String, path: String,
                chatTemplate: Result<ChatTemplate, ChatTemplateError>, adapterPath: String? = nil) {
        self.adapterPath = adapterPath
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.path = path
        chatTemplateResult = chatTemplate
    }

    /// Opens a `.gguf` file (weights and tokenizer, byte-level BPE or SentencePiece, from one file) or a Hugging Face folder (`config.json`,
    /// safetensors, `tokenizer.json`, optional `tokenizer_config.json`). `adapter`: a PEFT LoRA folder whose
    /// low-rank terms the model adds at run time on top of its (unchanged) weights.
    public static func load(path: String, precision: WeightPrecision = .f32, adapter: String? = nil) throws -> LoadedModel {
        let checkpoint = try ModelLoader.Checkpoint(path: path)
        let (model, tokenizer) = try checkpoint.modelAndTokenizer(precision: precision)
        if let adapter { try model.setAdapters(try PEFTAdapterFolder.read(from: adapter, model: model.configuration)) }
        let template: Result<ChatTemplate, ChatTemplateError>
        do {
            template = .success(try tokenizer.chatTemplate())
        } catch let error as ChatTemplateError {
            template = .failure(error)
        }
        return LoadedModel(model: model, tokenizer: tokenizer, name: checkpoint.name, path: path, chatTemplate: template,
                           adapterPath: adapter)
    }

    /// The chat template recognised from the model's files, or the reason there is none.
    public func chatTemplate() throws -> ChatTemplate { try chatTemplateResult.get() }

    /// Prompt ids for `text`: raw (special tokens written in the text are parsed, as llama.cpp does), or rendered
    /// through the chat template as one user message followed by the opening of the assistant turn. A BOS
    /// token is prepended when the model's files ask for one.
    public func promptTokens(for text: String, chat: Bool) throws -> [Int32] {
        let rendered = chat
            ? try chatTemplate().render([ChatMessage(role: "user", content: text)], addGenerationPrompt: true)
            : text
        var ids = tokenizer.encode(rendered, parseSpecial: true)
        if tokenizer.addsBeginOfSequence, let bos = tokenizer.beginOfSequenceID, ids.first != bos {
            ids.insert(bos, at: 0)
        }
        return ids
    }
}


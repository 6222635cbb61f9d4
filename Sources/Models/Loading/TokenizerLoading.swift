import Foundation
import Tokenizers

/// Builds the tokenizer a GGUF file describes in its `tokenizer.ggml.*` metadata, the way llama.cpp reads it.
extension GGUFFile {
    /// The file's tokenizer, whichever kind it declares: byte-level BPE ("gpt2") or SentencePiece ("llama").
    public func makeAnyTokenizer() throws -> any Tokenizer {
        let model = try requiredString("tokenizer.ggml.model")
        return model == "llama" ? try makeSentencePieceTokenizer() : try makeTokenizer()
    }

    /// A SentencePiece vocabulary (`tokenizer.ggml.model` "llama": Gemma, Llama 1/2, Mistral) with its scores
    /// and token types; `add_space_prefix` defaults to true as in llama.cpp.
    public func makeSentencePieceTokenizer() throws -> SentencePieceTokenizer {
        do {
            return try SentencePieceTokenizer(configuration: try makeSentencePieceConfiguration())
        } catch let error as TokenizerError {
            throw ModelFormatError.malformed(path: path, detail: "tokenizer: \(error)")
        }
    }

    /// The file's tokenizer as Hugging Face `tokenizer.json` and `tokenizer_config.json`, whichever kind it is.
    public func huggingFaceTokenizerFiles() throws -> (tokenizerJSON: Data, tokenizerConfigJSON: Data) {
        do {
            return try requiredString("tokenizer.ggml.model") == "llama"
                ? try makeSentencePieceConfiguration().huggingFaceFiles() : try makeTokenizerConfiguration().huggingFaceFiles()
        } catch let error as TokenizerError {
            throw ModelFormatError.malformed(path: path, detail: "tokenizer: \(error)")
        }
    }

    /// The SentencePiece vocabulary the metadata describes (every key checked, errors naming file and key).
    public func makeSentencePieceConfiguration() throws -> SentencePieceConfiguration {
        let model = try requiredString("tokenizer.ggml.model")
        guard model == "llama" else {
            throw ModelFormatError.malformed(path: path, detail: "tokenizer.ggml.model is \"\(model)\", not SentencePiece (\"llama\")")
        }
        guard let tokens = try stringArray("tokenizer.ggml.tokens") else {
            throw ModelFormatError.missingMetadata(path: path, key: "tokenizer.ggml.tokens")
        }
        guard let scoreValues = metadata["tokenizer.ggml.scores"] else {
            throw ModelFormatError.missingMetadata(path: path, key: "tokenizer.ggml.scores")
        }
        guard let scoreItems = scoreValues.arrayValue, scoreItems.count == tokens.count else {
            throw ModelFormatError.malformed(path: path, detail: "tokenizer.ggml.scores is not an array of \(tokens.count) numbers")
        }
        let scores = try scoreItems.map { item -> Float in
            guard let value = item.doubleValue else {
                throw ModelFormatError.malformed(path: path, detail: "tokenizer.ggml.scores holds a non-number")
            }
            return Float(value)
        }
        guard let types = try intArray("tokenizer.ggml.token_type") else {
            throw ModelFormatError.missingMetadata(path: path, key: "tokenizer.ggml.token_type")
        }
        guard types.count == tokens.count else {
            throw ModelFormatError.malformed(
                path: path, detail: "tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
        }
        func flag(_ key: String, default value: Bool) throws -> Bool {
            switch metadata[key] {
            case nil: return value
            case let .bool(flag)?: return flag
            case _?: throw ModelFormatError.malformed(path: path, detail: "\(key) is not a boolean")
            }
        }
        func tokenID(_ key: String) throws -> Int32? { try optionalInt(key).map { Int32(clamping: $0) } }
        let endIDs = try ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]
            .compactMap { try tokenID($0) }
        return SentencePieceConfiguration(
            tokens: tokens, scores: scores, kinds: types.map(Self.sentencePieceKind),
            beginOfSequenceID: try tokenID("tokenizer.ggml.bos_token_id"),
            addsBeginOfSequence: try flag("tokenizer.ggml.add_bos_token", default: true),
            addsSpacePrefix: try flag("tokenizer.ggml.add_space_prefix", default: true),
            declaredEndOfSequenceIDs: endIDs,
            chatTemplate: metadata["tokenizer.chat_template"]?.stringValue)
    }

    /// llama.cpp's `llama_token_type` for SentencePiece vocabularies: 1 normal, 2 unknown, 3 control,
    /// 4 user-defined, 5 unused, 6 byte.
    private static func sentencePieceKind(_ type: Int) -> SentencePieceConfiguration.TokenKind {
        switch type {
        case 2: return .unknown
        case 3: return .control
        case 4: return .userDefined
        case 5: return .unused
        case 6: return .byte
        default: return .normal
        }
    }

    public func makeTokenizer() throws -> BPETokenizer {
        do {
            return try BPETokenizer(configuration: try makeTokenizerConfiguration())
        } catch let error as TokenizerError {
            throw ModelFormatError.malformed(path: path, detail: "tokenizer: \(error)")
        }
    }

    /// The tokenizer described by the file's metadata (e.g. to write it as Hugging Face files).
    public func makeTokenizerConfiguration() throws -> BPETokenizerConfiguration {
        let model = try requiredString("tokenizer.ggml.model")
        guard model == "gpt2" else {
            throw ModelFormatError.malformed(
                path: path, detail: "tokenizer.ggml.model is \"\(model)\"; only byte-level BPE (\"gpt2\") is supported")
        }
        let preName = try requiredString("tokenizer.ggml.pre")
        guard let tokens = try stringArray("tokenizer.ggml.tokens") else {
            throw ModelFormatError.missingMetadata(path: path, key: "tokenizer.ggml.tokens")
        }
        guard let mergeLines = try stringArray("tokenizer.ggml.merges") else {
            throw ModelFormatError.missingMetadata(path: path, key: "tokenizer.ggml.merges")
        }
        let types = try intArray("tokenizer.ggml.token_type") ?? Array(repeating: 1, count: tokens.count)
        guard types.count == tokens.count else {
            throw ModelFormatError.malformed(
                path: path, detail: "tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
        }
        let defaults = PreTokenizer.llamaCppDefaults(for: preName)
        let addsBOS: Bool
        switch metadata["tokenizer.ggml.add_bos_token"] {
        case nil: addsBOS = defaults.addsBeginOfSequence
        case let .bool(value)?: addsBOS = value
        case _?: throw ModelFormatError.malformed(path: path, detail: "tokenizer.ggml.add_bos_token is not a boolean")
        }
        func tokenID(_ key: String) throws -> Int32? { try optionalInt(key).map { Int32(clamping: $0) } }
        let endIDs = try ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]
            .compactMap { try tokenID($0) }
        let chatTemplate: String?
        if let value = metadata["tokenizer.chat_template"] {
            guard let text = value.stringValue else {
                throw ModelFormatError.malformed(path: path, detail: "tokenizer.chat_template is not a string")
            }
            chatTemplate = text
        } else {
            chatTemplate = nil
        }
        do {
            let configuration = BPETokenizerConfiguration(
                tokens: tokens,
                kinds: types.map(Self.tokenKind),
                merges: try mergeLines.map(BPETokenizerConfiguration.splitMergeLine),
                preTokenizer: try PreTokenizer(llamaCppName: preName),
                ignoresMerges: defaults.ignoresMerges,
                beginOfSequenceID: try tokenID("tokenizer.ggml.bos_token_id"),
                addsBeginOfSequence: addsBOS,
                declaredEndOfSequenceIDs: endIDs,
                chatTemplate: chatTemplate)
            return configuration
        } catch let error as TokenizerError {
            throw ModelFormatError.malformed(path: path, detail: "tokenizer: \(error)")
        }
    }

    /// llama.cpp's `llama_token_type`: 2 unknown and 3 control are special, 4 user-defined is always matched in
    /// text; 1 normal, 5 unused, 6 byte and anything else are vocabulary spellings.
    private static func tokenKind(_ type: Int) -> BPETokenizerConfiguration.TokenKind {
        switch type {
        case 2, 3: return .control
        case 4: return .userDefined
        default: return .normal
        }
    }
}

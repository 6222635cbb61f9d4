import Tokenizers

/// Builds the tokenizer a GGUF file describes in its `tokenizer.ggml.*` metadata, the way llama.cpp reads it.
extension GGUFFile {
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

/// Why a tokenizer could not be built. Every case names the offending file entry, option or pattern.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The tokenizer model is not byte-level BPE (e.g. SentencePiece "llama", WordPiece).
    case unsupportedModel(String)
    /// A pre-tokenizer name (GGUF `tokenizer.ggml.pre`) or split pattern (tokenizer.json) this library does not know.
    case unknownPreTokenizer(String)
    /// A recognised component with an option value we do not implement (e.g. ByteLevel add_prefix_space=true).
    case unsupportedOption(String)
    /// The files are structurally wrong: missing keys, wrong types, ids out of range.
    case malformed(String)
    /// A merge rule names a token that is not in the vocabulary.
    case unknownMergeToken(merge: String, token: String)
    case cannotRead(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unsupportedModel(name):
            return "tokenizer model \"\(name)\" is not supported (only byte-level BPE, GGUF \"gpt2\" / tokenizer.json \"BPE\", is)"
        case let .unknownPreTokenizer(what):
            return "unknown pre-tokenizer \(what); known: GGUF names \(PreTokenizer.knownLlamaCppNames.joined(separator: ", ")) and the GPT-2, Llama 3, Qwen2 and SmolLM tokenizer.json patterns"
        case let .unsupportedOption(what): return "unsupported tokenizer option: \(what)"
        case let .malformed(detail): return "malformed tokenizer description: \(detail)"
        case let .unknownMergeToken(merge, token): return "merge \"\(merge)\" uses \"\(token)\", which is not in the vocabulary"
        case let .cannotRead(path, reason): return "cannot read \(path): \(reason)"
        }
    }
}

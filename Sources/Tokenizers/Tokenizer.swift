/// What generation, rollouts and the daemon need from a tokenizer. `BPETokenizer` is the implementation for
/// byte-level BPE vocabularies (GPT-2 style: Llama 3, Qwen2, SmolLM2), `SentencePieceTokenizer` for scored
/// SentencePiece ones (Gemma).
public protocol Tokenizer: AnyObject, Sendable {
    var vocabularySize: Int { get }
    /// Text to ids. `parseSpecial`: special tokens written in the text (e.g. `<|im_start|>`) become their ids;
    /// otherwise they are encoded as ordinary text.
    func encode(_ text: String, parseSpecial: Bool) -> [Int32]
    /// The exact bytes a token stands for (special tokens: their text). Streaming decoders join these and cut
    /// at UTF-8 boundaries.
    func bytes(of token: Int32) -> [UInt8]
    /// Ids to text; invalid UTF-8 (a multi-byte character cut by the caller) becomes U+FFFD.
    func decode(_ ids: [Int32]) -> String
    /// Ids that end a generation (EOS, `<|im_end|>`, `<|endoftext|>` ... as declared by the model's files).
    var endOfSequenceIDs: Set<Int32> { get }
    var beginOfSequenceID: Int32? { get }
    /// Whether the model's files ask for a BOS token at the start of a prompt.
    var addsBeginOfSequence: Bool { get }
    /// The id of a special token by its text, e.g. `<|im_end|>`.
    func specialTokenID(_ text: String) -> Int32?
    /// The model's Jinja chat template text, when its files carry one; see `ChatTemplate(recognizing:)`.
    var chatTemplateText: String? { get }
}

extension Tokenizer {
    public var chatTemplateText: String? { nil }
}

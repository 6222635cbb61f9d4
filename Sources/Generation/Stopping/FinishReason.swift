/// Why a generated sequence ended.
public enum FinishReason: Sendable, Equatable {
    /// The model sampled one of the request's end-of-sequence ids. The token is kept in the response (with its
    /// log-probability) but contributes no text.
    case endOfSequence(token: Int32)
    /// A stop string appeared in the sampled text. The token holding it is kept in the response; the text ends
    /// right before the stop string, or right after it when `includedInText`.
    case stopString(String, includedInText: Bool)
    /// The response reached the request's `maxNewTokens` (sampled plus inserted tokens).
    case maxTokens
    /// The next token would not fit the model's context length.
    case contextFull
    /// The owner cancelled the sequence.
    case cancelled

    /// A short stable name for JSON and logs.
    public var code: String {
        switch self {
        case .endOfSequence: return "eos"
        case .stopString: return "stop_string"
        case .maxTokens: return "max_tokens"
        case .contextFull: return "context_full"
        case .cancelled: return "cancelled"
        }
    }
}

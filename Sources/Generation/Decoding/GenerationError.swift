/// Errors of the generation module; each message names the offending value.
public enum GenerationError: Error, Equatable, CustomStringConvertible {
    case invalidSamplingParameters(String)
    case invalidRequest(String)
    case tokenOutOfVocabulary(token: Int32, vocabularySize: Int)
    case promptTooLong(tokens: Int, contextLength: Int)
    case unknownStream(StreamID)
    case streamNotPaused(StreamID)
    case streamNotDecoding(StreamID)
    case vocabularyMismatch(logits: Int, configuration: Int)
    case nonFiniteLogits
    case malformedLogits(String)

    public var description: String {
        switch self {
        case .invalidSamplingParameters(let message): return "invalid sampling parameters: \(message)"
        case .invalidRequest(let message): return "invalid generation request: \(message)"
        case .tokenOutOfVocabulary(let token, let size):
            return "token id \(token) is outside the vocabulary [0, \(size))"
        case .promptTooLong(let tokens, let context):
            return "prompt of \(tokens) tokens does not fit the context length \(context)"
        case .unknownStream(let stream): return "\(stream) is not running (never added, or already finished)"
        case .streamNotPaused(let stream): return "\(stream) is not paused; tokens can only be appended to a paused stream"
        case .streamNotDecoding(let stream): return "\(stream) is not decoding, so it cannot be paused"
        case .vocabularyMismatch(let logits, let configuration):
            return "the model returned logits over \(logits) tokens but its configuration says \(configuration)"
        case .nonFiniteLogits: return "the model returned a logit row holding NaN or infinity"
        case .malformedLogits(let message): return "the model returned malformed logits: \(message)"
        }
    }
}

/// What can be wrong with the inputs of the trainable model.
public enum TrainingModelError: Error, Equatable, CustomStringConvertible {
    case tokenOutOfRange(token: Int32, vocabularySize: Int)
    case sequenceTooLong(length: Int, contextLength: Int)
    case emptySequence
    case rowOutOfRange(row: Int, tokenCount: Int)
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case let .tokenOutOfRange(token, vocabularySize):
            return "token id \(token) is outside the vocabulary of \(vocabularySize)"
        case let .sequenceTooLong(length, contextLength):
            return "sequence of \(length) tokens exceeds the context length \(contextLength)"
        case .emptySequence: return "a sequence has no tokens"
        case let .rowOutOfRange(row, tokenCount):
            return "prediction row \(row) has no next token in a batch of \(tokenCount) tokens"
        case let .invalidConfiguration(message): return "invalid model configuration: \(message)"
        }
    }
}

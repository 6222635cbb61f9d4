import Models

/// What the rollout observed about one response: the inputs of the step's metrics (the reward itself comes
/// computed, in `TrainingSequence.reward`).
public struct ResponseOutcome: Sendable, Codable, Equatable {
    /// The final `\boxed{}` answer was found.
    public var answered: Bool
    /// The answer was equivalent to the reference.
    public var correct: Bool
    /// The response contained at least one code block.
    public var hasCode: Bool
    /// At least one of its code blocks failed to execute (error or timeout).
    public var codeFailed: Bool
    /// At least one tool call ran, and every one ended with status ok.
    public var codeExecuted: Bool
    public var toolCalls: Int
    /// Generation stopped at the length limit.
    public var truncated: Bool
    /// The answer came after the output of a successful tool call (the paper's "effective code").
    public var effectiveCode: Bool

    public init(answered: Bool, correct: Bool, hasCode: Bool = false, codeFailed: Bool = false,
                codeExecuted: Bool = false, toolCalls: Int = 0, truncated: Bool = false, effectiveCode: Bool = false) {
        self.answered = answered
        self.correct = correct
        self.hasCode = hasCode
        self.codeFailed = codeFailed
        self.codeExecuted = codeExecuted
        self.toolCalls = toolCalls
        self.truncated = truncated
        self.effectiveCode = effectiveCode
    }
}

/// One trajectory as the trainer consumes it. `lossMask` and `oldLogProbabilities` are aligned with `tokens`:
/// entry t describes token t. lossMask[t] = 1 for tokens the policy sampled, 0 for the prompt and for inserted
/// tool observations; oldLogProbabilities[t] is the sampling log-probability of token t under
/// log softmax(logits / temperature) (ignored where the mask is 0).
public struct TrainingSequence: Sendable, Codable, Equatable {
    public var tokens: [Int32]
    public var promptLength: Int
    public var lossMask: [UInt8]
    public var oldLogProbabilities: [Float]
    public var reward: Double
    /// Responses with the same group id answer the same prompt; advantages are normalised within a group.
    public var group: Int
    public var outcome: ResponseOutcome

    public init(tokens: [Int32], promptLength: Int, lossMask: [UInt8], oldLogProbabilities: [Float], reward: Double,
                group: Int, outcome: ResponseOutcome) {
        self.tokens = tokens
        self.promptLength = promptLength
        self.lossMask = lossMask
        self.oldLogProbabilities = oldLogProbabilities
        self.reward = reward
        self.group = group
        self.outcome = outcome
    }

    public var responseLength: Int { tokens.count - promptLength }

    /// Positions t whose token the loss trains on (predicted from position t − 1).
    public var trainedPositions: [Int] { (0..<tokens.count).filter { lossMask[$0] != 0 } }

    /// Checks the arrays against each other and the tokens against `model`. The model's forward checks the tokens
    /// too, but a step with a zero gradient runs no forward, and bad input must fail the same way either way.
    func validate(index: Int, model: ModelConfiguration) throws {
        guard promptLength >= 1, promptLength <= tokens.count else {
            throw TrainingInputError.invalidPromptLength(sequence: index, promptLength: promptLength,
                                                         tokenCount: tokens.count)
        }
        guard lossMask.count == tokens.count, oldLogProbabilities.count == tokens.count else {
            throw TrainingInputError.misalignedArrays(sequence: index, tokens: tokens.count, lossMask: lossMask.count,
                                                      oldLogProbabilities: oldLogProbabilities.count)
        }
        if let t = lossMask[0..<promptLength].firstIndex(where: { $0 != 0 }) {
            throw TrainingInputError.promptTokenInLoss(sequence: index, position: t)
        }
        if let t = (promptLength..<tokens.count).first(where: {
            lossMask[$0] != 0 && !(oldLogProbabilities[$0].isFinite && oldLogProbabilities[$0] <= 0)
        }) {
            throw TrainingInputError.invalidOldLogProbability(sequence: index, position: t,
                                                              value: oldLogProbabilities[t])
        }
        guard reward.isFinite else { throw TrainingInputError.invalidReward(sequence: index) }
        guard tokens.count <= model.contextLength else {
            throw TrainingModelError.sequenceTooLong(length: tokens.count, contextLength: model.contextLength)
        }
        if let token = tokens.first(where: { $0 < 0 || Int($0) >= model.vocabularySize }) {
            throw TrainingModelError.tokenOutOfRange(token: token, vocabularySize: model.vocabularySize)
        }
    }
}

public enum TrainingInputError: Error, Equatable, CustomStringConvertible {
    case emptyBatch
    case invalidPromptLength(sequence: Int, promptLength: Int, tokenCount: Int)
    case misalignedArrays(sequence: Int, tokens: Int, lossMask: Int, oldLogProbabilities: Int)
    case promptTokenInLoss(sequence: Int, position: Int)
    case invalidOldLogProbability(sequence: Int, position: Int, value: Float)
    case invalidReward(sequence: Int)
    case noTrainedTokens
    case cancelled

    public var description: String {
        switch self {
        case .emptyBatch: return "the training batch holds no sequences"
        case let .invalidPromptLength(sequence, promptLength, tokenCount):
            return "sequence \(sequence): prompt length \(promptLength) is not within 1...\(tokenCount) tokens"
        case let .misalignedArrays(sequence, tokens, lossMask, oldLogProbabilities):
            return "sequence \(sequence): \(tokens) tokens but \(lossMask) loss-mask bits and \(oldLogProbabilities) old log-probabilities"
        case let .promptTokenInLoss(sequence, position):
            return "sequence \(sequence): prompt token at position \(position) has loss mask 1"
        case let .invalidOldLogProbability(sequence, position, value):
            return "sequence \(sequence): old log-probability \(value) at position \(position) is not a finite value <= 0"
        case let .invalidReward(sequence): return "sequence \(sequence): reward is not finite"
        case .noTrainedTokens: return "no sequence in the batch has a token with loss mask 1"
        case .cancelled: return "the training step was cancelled"
        }
    }
}

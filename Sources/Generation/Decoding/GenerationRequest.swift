/// One prompt to continue, `samples` times.
public struct GenerationRequest: Sendable {
    public var prompt: [Int32]
    public var sampling: SamplingParameters
    /// Limit on the response length, counting sampled and inserted tokens (tool output counts, as in TORL).
    public var maxNewTokens: Int
    /// G continuations of one prompt: the prompt is prefilled once and its cache forked. Sample i draws from
    /// random stream `randomStreamOffset + i` of `sampling.seed`.
    public var samples: Int
    public var randomStreamOffset: UInt64
    /// Ids that finish a sequence; nil means the tokenizer's `endOfSequenceIDs`, empty never stops at EOS.
    public var endOfSequenceIDs: Set<Int32>?
    /// Strings that finish a sequence when they appear in sampled text.
    public var stopStrings: [String]
    /// Whether the finished text keeps the stop string (the tokens are kept either way).
    public var includeStopStringInText: Bool
    /// Strings that park a sequence when they appear in sampled text (e.g. the end of a code block): its cache is
    /// kept so the owner can append tokens (tool output) and resume it.
    public var pauseStrings: [String]
    /// How many of the largest logits at the last prompt position to report (0: none).
    public var promptTopLogitCount: Int

    public init(prompt: [Int32], sampling: SamplingParameters = .greedy, maxNewTokens: Int = 256, samples: Int = 1,
                randomStreamOffset: UInt64 = 0, endOfSequenceIDs: Set<Int32>? = nil, stopStrings: [String] = [],
                includeStopStringInText: Bool = false, pauseStrings: [String] = [], promptTopLogitCount: Int = 0) {
        self.prompt = prompt
        self.sampling = sampling
        self.maxNewTokens = maxNewTokens
        self.samples = samples
        self.randomStreamOffset = randomStreamOffset
        self.endOfSequenceIDs = endOfSequenceIDs
        self.stopStrings = stopStrings
        self.includeStopStringInText = includeStopStringInText
        self.pauseStrings = pauseStrings
        self.promptTopLogitCount = promptTopLogitCount
    }

    /// Throws `GenerationError` naming the first invalid field.
    func validate(vocabularySize: Int, contextLength: Int) throws {
        try sampling.validate()
        guard !prompt.isEmpty else { throw GenerationError.invalidRequest("the prompt has no tokens") }
        if let bad = prompt.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw GenerationError.tokenOutOfVocabulary(token: bad, vocabularySize: vocabularySize)
        }
        guard prompt.count <= contextLength else {
            throw GenerationError.promptTooLong(tokens: prompt.count, contextLength: contextLength)
        }
        guard maxNewTokens >= 0 else {
            throw GenerationError.invalidRequest("maxNewTokens must be >= 0, got \(maxNewTokens)")
        }
        guard samples >= 1 else { throw GenerationError.invalidRequest("samples must be >= 1, got \(samples)") }
        guard promptTopLogitCount >= 0 else {
            throw GenerationError.invalidRequest("promptTopLogitCount must be >= 0, got \(promptTopLogitCount)")
        }
        if (stopStrings + pauseStrings).contains(where: \.isEmpty) {
            throw GenerationError.invalidRequest("stop and pause strings must not be empty")
        }
    }
}

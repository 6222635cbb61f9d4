/// The inference contract between the engine (`Models`) and its users (`Generation`, `RL`).
///
/// A model owns a KV cache divided into sequences. Callers feed new tokens to any set of sequences in one call
/// (prefill of many tokens and single-token decode may be mixed, sequences may have different lengths), and
/// receive logits for the positions they ask for.
public protocol InferenceModel: AnyObject {
    var configuration: ModelConfiguration { get }

    /// A new, empty sequence in the KV cache.
    func makeSequence() throws -> SequenceID
    /// A new sequence sharing (copying) the cached prefix of `source`: G samples of one prompt prefill it once.
    func forkSequence(_ source: SequenceID) throws -> SequenceID
    /// Frees the sequence's cache space.
    func releaseSequence(_ sequence: SequenceID)
    /// Tokens already in the sequence's cache.
    func length(of sequence: SequenceID) -> Int

    /// Appends `tokens` of each step to its sequence's cache and returns logits.
    /// Throws (naming the sequence) when a sequence would exceed the context length; nothing is appended then.
    func forward(_ steps: [ForwardStep]) throws -> LogitsBatch
}

public struct SequenceID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public var description: String { "sequence \(rawValue)" }
}

public struct ForwardStep: Sendable {
    public var sequence: SequenceID
    public var tokens: [Int32]
    /// false: logits of the last token only (generation); true: of every token (log-probabilities of a response).
    public var logitsForAllTokens: Bool
    public init(sequence: SequenceID, tokens: [Int32], logitsForAllTokens: Bool = false) {
        self.sequence = sequence
        self.tokens = tokens
        self.logitsForAllTokens = logitsForAllTokens
    }
}

/// Logits of a forward call: `values` is [rows, vocabularySize]; the rows of step i are `rowRanges[i]`.
public struct LogitsBatch: Sendable {
    public var values: [Float]
    public var vocabularySize: Int
    public var rowRanges: [Range<Int>]
    public init(values: [Float], vocabularySize: Int, rowRanges: [Range<Int>]) {
        self.values = values
        self.vocabularySize = vocabularySize
        self.rowRanges = rowRanges
    }
    /// The logits of row r: [vocabularySize].
    public func row(_ r: Int) -> ArraySlice<Float> { values[(r * vocabularySize)..<((r + 1) * vocabularySize)] }
}

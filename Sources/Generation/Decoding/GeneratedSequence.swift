/// Identifies one generated sequence (one sample of one request) inside a `BatchDecoder`.
public struct StreamID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public var description: String { "stream \(rawValue)" }
    public static func < (lhs: StreamID, rhs: StreamID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A token of a response: sampled by the model (with its log-probability) or inserted by the owner.
public struct ResponseToken: Sendable, Equatable {
    public var id: Int32
    /// log softmax(logits / T) at this token when sampled (T = 1 for greedy); nil when inserted.
    public var logprob: Float?
    public init(id: Int32, logprob: Float?) {
        self.id = id
        self.logprob = logprob
    }
    public var isSampled: Bool { logprob != nil }
}

/// Everything known about a sequence: its prompt, its response token by token, its text.
public struct GeneratedSequence: Sendable {
    public var stream: StreamID
    /// Index of this sample within its request (0..<samples).
    public var sampleIndex: Int
    public var prompt: [Int32]
    public var response: [ResponseToken]
    /// UTF-8 text of the response tokens (end-of-sequence tokens contribute none), cut at a stop string.
    public var text: String
    /// nil while the sequence is running or paused.
    public var finishReason: FinishReason?
    public var promptTopLogits: [TokenLogit]

    public var responseIDs: [Int32] { response.map(\.id) }
    /// true where the model sampled the token (policy-loss mask), false where the owner inserted it.
    public var sampledMask: [Bool] { response.map(\.isSampled) }
    /// Log-probabilities of the response, 0 at inserted tokens (read together with `sampledMask`).
    public var logprobs: [Float] { response.map { $0.logprob ?? 0 } }
}

/// What happened to one stream during a `BatchDecoder.step()`.
public struct DecodeEvent: Sendable {
    public enum Kind: Sendable {
        case sampled(SampledToken)
        case inserted([Int32])
        /// A pause string appeared; the stream waits for `append(tokens:to:)` / `resume(_:)`.
        case paused(pauseString: String)
        case finished(GeneratedSequence)
    }

    public var stream: StreamID
    public var kind: Kind
    /// New text for streaming: joined in order, a stream's deltas equal its final `text`.
    public var textDelta: String
}

/// How the next token is chosen from a row of logits.
///
/// Order of operations (the Hugging Face / vLLM convention): logits are divided by `temperature`, the `topK`
/// largest are kept, then the smallest prefix (in descending probability) of the renormalised survivors whose
/// mass reaches `topP`; one token is drawn from what is left, renormalised. `temperature == 0` is greedy
/// (argmax; ties go to the lowest id) and ignores `topK`, `topP` and the random stream.
public struct SamplingParameters: Sendable, Equatable, Codable {
    public var temperature: Float
    /// 0 disables top-k.
    public var topK: Int
    /// 1 disables top-p (nucleus) filtering.
    public var topP: Float
    /// With the sample index within its request this fixes the random stream of a generated sequence.
    public var seed: UInt64

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    public static let greedy = SamplingParameters(temperature: 0)

    public var isGreedy: Bool { temperature == 0 }

    /// Throws `GenerationError.invalidSamplingParameters` naming the offending value.
    public func validate() throws {
        guard temperature.isFinite, temperature >= 0 else {
            throw GenerationError.invalidSamplingParameters("temperature must be a finite number >= 0, got \(temperature)")
        }
        guard topK >= 0 else {
            throw GenerationError.invalidSamplingParameters("top-k must be >= 0 (0 disables it), got \(topK)")
        }
        guard topP.isFinite, topP > 0, topP <= 1 else {
            throw GenerationError.invalidSamplingParameters("top-p must be in (0, 1] (1 disables it), got \(topP)")
        }
    }
}

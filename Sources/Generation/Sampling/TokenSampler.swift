import Foundation
import Tensors

/// One sampled token and its log-probability under the policy distribution (see `TokenSampler`).
public struct SampledToken: Sendable, Equatable {
    public var id: Int32
    public var logprob: Float
    public init(id: Int32, logprob: Float) {
        self.id = id
        self.logprob = logprob
    }
}

/// A (token id, raw logit) pair, e.g. the top logits at the last prompt position.
public struct TokenLogit: Sendable, Equatable, Codable {
    public var id: Int32
    public var logit: Float
    public init(id: Int32, logit: Float) {
        self.id = id
        self.logit = logit
    }
}

/// Chooses tokens from logit rows and reports their log-probabilities.
///
/// The reported log-probability of token i is always over the full vocabulary, before top-k / top-p filtering:
///
///     logprob(i) = log softmax(logits / T)[i] = (l_i - max l) / T - log Σ_j exp((l_j - max l) / T)
///
/// with T = `temperature`, or T = 1 for greedy decoding. That is the distribution the RL trainer recomputes
/// from the same logits (filtering is a sampling device, not part of the differentiable policy).
/// Holds scratch rows so that sampling allocates nothing per token.
public struct TokenSampler {
    /// [V]: (l - max l) / T, every entry <= 0.
    private var scaled: [Float] = []
    /// [V]: exp(scaled), unnormalised probabilities.
    private var weights: [Float] = []

    public init() {}

    /// Samples one token from `logits` ([vocabularySize]).
    public mutating func sample(logits: UnsafeBufferPointer<Float>, parameters: SamplingParameters,
                                random: inout RandomStream) throws -> SampledToken {
        guard let maximum = LogitsMath.maximum(logits), maximum.isFinite else {
            throw GenerationError.nonFiniteLogits
        }
        if scaled.count != logits.count {
            scaled = [Float](repeating: 0, count: logits.count)
            weights = scaled
        }
        let scale = TokenSampler.inverseTemperature(parameters.temperature)
        return scaled.withUnsafeMutableBufferPointer { scaledRow in
            weights.withUnsafeMutableBufferPointer { weightRow in
                let mass = LogitsMath.shiftScaleExp(logits, shift: maximum, scale: scale,
                                                    scaled: scaledRow, weights: weightRow)
                let chosen = parameters.isGreedy
                    ? Argmax.index(logits) ?? 0
                    : TokenSampler.draw(scaled: UnsafeBufferPointer(scaledRow), weights: UnsafeBufferPointer(weightRow),
                                        mass: mass, parameters: parameters, random: &random)
                return SampledToken(id: Int32(chosen), logprob: scaledRow[chosen] - Float(Foundation.log(mass)))
            }
        }
    }

    /// Draws from the weights after top-k / top-p filtering, with one uniform number from `random`.
    private static func draw(scaled: UnsafeBufferPointer<Float>, weights: UnsafeBufferPointer<Float>, mass: Double,
                             parameters: SamplingParameters, random: inout RandomStream) -> Int {
        let uniform = random.nextUnitFloat()
        let topK = parameters.topK > 0 && parameters.topK < weights.count ? parameters.topK : 0
        guard topK > 0 || parameters.topP < 1 else {
            return walk(weights, candidates: 0..<weights.count, target: uniform * mass)
        }
        let survivors = filteredCandidates(scaled: scaled, weights: weights, mass: mass, topK: topK,
                                           topP: parameters.topP)
        let survivorMass = survivors.reduce(0.0) { $0 + Double(weights[Int($1)]) }
        return walk(weights, candidates: survivors.lazy.map { Int($0) }, target: uniform * survivorMass)
    }

    /// The tokens left after top-k (when `topK` > 0) then top-p, in descending probability.
    static func filteredCandidates(scaled: UnsafeBufferPointer<Float>, weights: UnsafeBufferPointer<Float>,
                                   mass: Double, topK: Int, topP: Float) -> [Int32] {
        guard topK > 0 else { return LogitsMath.descendingPrefix(weights, reachingMass: Double(topP) * mass) }
        let keptByTopK = LogitsMath.largestIndices(scaled, count: topK)
        guard topP < 1 else { return keptByTopK }
        let needed = Double(topP) * keptByTopK.reduce(0.0) { $0 + Double(weights[Int($1)]) }
        var cumulative = 0.0
        for (position, token) in keptByTopK.enumerated() {
            cumulative += Double(weights[Int(token)])
            if cumulative >= needed { return Array(keptByTopK[...position]) }
        }
        return keptByTopK
    }

    /// Inverse-CDF draw: the first candidate (in the given order) whose cumulative weight exceeds `target`.
    private static func walk<Candidates: Sequence>(_ weights: UnsafeBufferPointer<Float>, candidates: Candidates,
                                                   target: Double) -> Int where Candidates.Element == Int {
        var cumulative = 0.0
        var lastPositive = -1
        for index in candidates {
            let weight = Double(weights[index])
            guard weight > 0 else { continue }
            cumulative += weight
            lastPositive = index
            if cumulative > target { return index }
        }
        // Rounding left the target just above the summed weights: the last token with weight is the answer.
        return lastPositive
    }

    /// The `count` largest logits (ties: lower id first).
    public static func topLogits(_ logits: UnsafeBufferPointer<Float>, count: Int) throws -> [TokenLogit] {
        guard count > 0 else { return [] }
        guard let maximum = LogitsMath.maximum(logits), maximum.isFinite else {
            throw GenerationError.nonFiniteLogits
        }
        return LogitsMath.largestIndices(logits, count: count).map { TokenLogit(id: $0, logit: logits[Int($0)]) }
    }

    /// 1 / T, with T = 1 for greedy; capped so that a subnormal temperature cannot turn 0 · (1/T) into NaN.
    static func inverseTemperature(_ temperature: Float) -> Float {
        temperature == 0 ? 1 : min(1 / temperature, .greatestFiniteMagnitude)
    }

    /// log softmax(logits / T) over the whole row (T = 1 when `temperature` is 0): the policy distribution
    /// whose entry at the sampled token `sample` reports.
    public static func logSoftmax(_ logits: UnsafeBufferPointer<Float>, temperature: Float) throws -> [Float] {
        guard let maximum = LogitsMath.maximum(logits), maximum.isFinite else {
            throw GenerationError.nonFiniteLogits
        }
        var result = [Float](repeating: 0, count: logits.count)
        var weights = result
        result.withUnsafeMutableBufferPointer { scaled in
            let mass = weights.withUnsafeMutableBufferPointer {
                LogitsMath.shiftScaleExp(logits, shift: maximum, scale: inverseTemperature(temperature),
                                         scaled: scaled, weights: $0)
            }
            let logMass = Float(Foundation.log(mass))
            for index in scaled.indices { scaled[index] -= logMass }
        }
        return result
    }
}

import Foundation

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
/// Holds a scratch row so that sampling allocates nothing per token.
public struct TokenSampler {
    private var scaled: [Float] = []

    public init() {}

    /// Samples one token from `logits` ([vocabularySize]).
    public mutating func sample(logits: UnsafeBufferPointer<Float>, parameters: SamplingParameters,
                                random: inout RandomStream) throws -> SampledToken {
        guard let maximum = LogitsMath.maximum(logits), maximum.isFinite else {
            throw GenerationError.nonFiniteLogits
        }
        if scaled.count != logits.count { scaled = [Float](repeating: 0, count: logits.count) }
        let temperature = parameters.isGreedy ? 1 : parameters.temperature
        return scaled.withUnsafeMutableBufferPointer { scaledRow in
            // scaledRow: [V], (l - max) / T, every entry <= 0
            let mass = LogitsMath.shiftScaleAndSumExp(logits, shift: maximum, scale: 1 / temperature, into: scaledRow)
            let logMass = Float(Foundation.log(mass))
            let row = UnsafeBufferPointer(scaledRow)
            let chosen: Int
            if parameters.isGreedy {
                chosen = LogitsMath.argmax(logits)
            } else {
                chosen = TokenSampler.draw(row, mass: mass, parameters: parameters, random: &random)
            }
            return SampledToken(id: Int32(chosen), logprob: row[chosen] - logMass)
        }
    }

    /// Draws from the scaled row after top-k / top-p filtering, with one uniform number from `random`.
    private static func draw(_ row: UnsafeBufferPointer<Float>, mass: Double, parameters: SamplingParameters,
                             random: inout RandomStream) -> Int {
        let uniform = random.nextUnitInterval()
        let filtersTopK = parameters.topK > 0 && parameters.topK < row.count
        let filtersTopP = parameters.topP < 1
        guard filtersTopK || filtersTopP else {
            return walk(row, candidates: 0..<row.count, uniform: uniform, mass: mass)
        }
        let survivors = filteredCandidates(row, mass: mass, topK: filtersTopK ? parameters.topK : 0,
                                           topP: parameters.topP)
        let survivorMass = survivors.reduce(0.0) { $0 + Double(expf(row[Int($1)])) }
        return walk(row, candidates: survivors.lazy.map { Int($0) }, uniform: uniform, mass: survivorMass)
    }

    /// The tokens left after top-k (when `topK` > 0) then top-p, in descending probability.
    static func filteredCandidates(_ row: UnsafeBufferPointer<Float>, mass: Double, topK: Int,
                                   topP: Float) -> ArraySlice<Int32> {
        let ordered: [Int32]
        if topK > 0 {
            ordered = LogitsMath.descendingPrefix(row, minimumCount: topK, minimumMass: 0)
        } else {
            ordered = LogitsMath.descendingPrefix(row, minimumCount: 1, minimumMass: Double(topP) * mass)
        }
        let keptByTopK = topK > 0 ? ordered.prefix(topK) : ordered[...]
        guard topP < 1 else { return keptByTopK }
        let keptMass = topK > 0 ? keptByTopK.reduce(0.0) { $0 + Double(expf(row[Int($1)])) } : mass
        let needed = Double(topP) * keptMass
        var cumulative = 0.0
        var kept = 0
        for token in keptByTopK {
            cumulative += Double(expf(row[Int(token)]))
            kept += 1
            if cumulative >= needed { break }
        }
        return keptByTopK.prefix(kept)
    }

    /// Inverse-CDF draw over `candidates` in the given order; probabilities exp(row[i]) / mass.
    private static func walk<Candidates: Sequence>(_ row: UnsafeBufferPointer<Float>, candidates: Candidates,
                                                   uniform: Double, mass: Double) -> Int where Candidates.Element == Int {
        let target = uniform * mass
        var cumulative = 0.0
        var lastPositive = -1
        for index in candidates {
            let weight = Double(expf(row[index]))
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
        var shifted = [Float](repeating: 0, count: logits.count)
        let order = shifted.withUnsafeMutableBufferPointer { buffer -> [Int32] in
            _ = LogitsMath.shiftScaleAndSumExp(logits, shift: maximum, scale: 1, into: buffer)
            return LogitsMath.descendingPrefix(UnsafeBufferPointer(buffer), minimumCount: count, minimumMass: 0)
        }
        return order.prefix(count).map { TokenLogit(id: $0, logit: logits[Int($0)]) }
    }

    /// log softmax(logits / T) over the whole row (T = 1 when `temperature` is 0): the policy distribution
    /// whose entry at the sampled token `sample` reports.
    public static func logSoftmax(_ logits: UnsafeBufferPointer<Float>, temperature: Float) throws -> [Float] {
        guard let maximum = LogitsMath.maximum(logits), maximum.isFinite else {
            throw GenerationError.nonFiniteLogits
        }
        let effectiveTemperature = temperature == 0 ? 1 : temperature
        var result = [Float](repeating: 0, count: logits.count)
        result.withUnsafeMutableBufferPointer { buffer in
            let mass = LogitsMath.shiftScaleAndSumExp(logits, shift: maximum, scale: 1 / effectiveTemperature,
                                                      into: buffer)
            let logMass = Float(Foundation.log(mass))
            for index in buffer.indices { buffer[index] -= logMass }
        }
        return result
    }
}

import XCTest
@testable import Generation

final class TokenSamplerTests: XCTestCase {
    private let logits: [Float] = [1, 2, 3, 4]

    private func sample(_ logits: [Float], _ parameters: SamplingParameters,
                        _ random: inout RandomStream) throws -> SampledToken {
        var sampler = TokenSampler()
        return try logits.withUnsafeBufferPointer { try sampler.sample(logits: $0, parameters: parameters, random: &random) }
    }

    func testGreedyPicksArgmaxWithLogprobAtTemperatureOne() throws {
        var random = RandomStream(seed: 0, stream: 0)
        let token = try sample(logits, .greedy, &random)
        XCTAssertEqual(token.id, 3)
        // 4 - log(e + e^2 + e^3 + e^4)
        XCTAssertEqual(token.logprob, -0.4401897, accuracy: 1e-6)
        XCTAssertEqual(random, RandomStream(seed: 0, stream: 0), "greedy must not consume random numbers")
    }

    func testGreedyTiesGoToLowestID() throws {
        var random = RandomStream(seed: 0, stream: 0)
        XCTAssertEqual(try sample([0, 5, 1, 5], .greedy, &random).id, 1)
    }

    func testLogSoftmaxWithTemperatureMatchesHandComputedValues() throws {
        let expected: [Float: [Float]] = [
            1: [-3.4401897, -2.4401897, -1.4401897, -0.4401897],
            0.5: [-6.14507794, -4.14507794, -2.14507794, -0.14507794],
            2: [-2.28733867, -1.78733867, -1.28733867, -0.78733867],
        ]
        for (temperature, values) in expected {
            let computed = try logits.withUnsafeBufferPointer { try TokenSampler.logSoftmax($0, temperature: temperature) }
            for (got, want) in zip(computed, values) { XCTAssertEqual(got, want, accuracy: 1e-5, "T = \(temperature)") }
        }
    }

    func testSampledLogprobIsFullVocabularyLogSoftmaxEvenWhenFiltered() throws {
        var random = RandomStream(seed: 1, stream: 0)
        let parameters = SamplingParameters(temperature: 0.5, topK: 2, topP: 0.9, seed: 1)
        let policy = try logits.withUnsafeBufferPointer { try TokenSampler.logSoftmax($0, temperature: 0.5) }
        for _ in 0..<50 {
            let token = try sample(logits, parameters, &random)
            XCTAssertEqual(token.logprob, policy[Int(token.id)], accuracy: 1e-6)
        }
    }

    func testLogprobIsStableForHugeLogits() throws {
        var random = RandomStream(seed: 0, stream: 0)
        let token = try sample([1e30, 1e30 - 1e24, -1e30], SamplingParameters(temperature: 1e-3), &random)
        XCTAssertTrue(token.logprob.isFinite)
        XCTAssertEqual(token.id, 0)
    }

    /// The filter sets of the sampler for a raw logit row.
    private func filtered(_ row: [Float], topK: Int, topP: Float) -> [Int32] {
        let maximum = row.max()!
        var scaled = [Float](repeating: 0, count: row.count), weights = scaled
        return row.withUnsafeBufferPointer { input in
            scaled.withUnsafeMutableBufferPointer { scaledRow in
                weights.withUnsafeMutableBufferPointer { weightRow in
                    let mass = LogitsMath.shiftScaleExp(input, shift: maximum, scale: 1, scaled: scaledRow, weights: weightRow)
                    return TokenSampler.filteredCandidates(scaled: UnsafeBufferPointer(scaledRow),
                                                           weights: UnsafeBufferPointer(weightRow),
                                                           mass: mass, topK: topK, topP: topP)
                }
            }
        }
    }

    func testTinyTemperatureActsLikeArgmaxWithoutNaN() throws {
        var random = RandomStream(seed: 4, stream: 0)
        for temperature: Float in [1e-3, 1e-20, Float.leastNormalMagnitude / 16] {
            let token = try sample([1, 2, 3, 4, 3.9], SamplingParameters(temperature: temperature, seed: 4), &random)
            XCTAssertEqual(token.id, 3, "T = \(temperature)")
            XCTAssertEqual(token.logprob, 0, accuracy: 1e-6, "T = \(temperature)")
        }
    }

    func testTopKAndTopPSetsMatchHandComputedFilters() {
        // Probabilities at T = 1: [0.0321, 0.0871, 0.2369, 0.6439].
        func survivors(topK: Int, topP: Float) -> [Int32] {
            filtered(logits, topK: topK, topP: topP)
        }
        XCTAssertEqual(survivors(topK: 2, topP: 1), [3, 2])
        XCTAssertEqual(survivors(topK: 0, topP: 0.6), [3])
        XCTAssertEqual(survivors(topK: 0, topP: 0.7), [3, 2])
        XCTAssertEqual(survivors(topK: 0, topP: 0.9), [3, 2, 1], "0.644 + 0.237 = 0.881 < 0.9")
        // Top-p applies to the top-k survivors renormalised: (0.644 + 0.237) / 0.968 = 0.910 >= 0.9.
        XCTAssertEqual(survivors(topK: 3, topP: 0.9), [3, 2])
    }

    func testNucleusOnLargeVocabularyEqualsBruteForceSort() {
        var generator = RandomStream(seed: 99, stream: 0)
        // Nearly flat logits force the threshold search through several rounds.
        let row = (0..<5000).map { _ in Float(generator.nextUnitFloat() * 0.5) }
        // The same Float weights the sampler uses; the brute force sorts all of them.
        let weights = row.map { Double(LogitsMath.exp(LogitsMath.Lanes(repeating: $0 - row.max()!))[0]) }
        let mass = weights.reduce(0, +)
        for topP: Float in [0.05, 0.5, 0.95] {
            let order = (0..<row.count).sorted { weights[$0] != weights[$1] ? weights[$0] > weights[$1] : $0 < $1 }
            var cumulative = 0.0
            var expected: [Int32] = []
            for index in order {
                cumulative += weights[index]
                expected.append(Int32(index))
                if cumulative >= Double(topP) * mass { break }
            }
            let got = filtered(row, topK: 0, topP: topP)
            XCTAssertEqual(got, expected, "top-p \(topP)")
        }
    }

    func testEmpiricalFrequenciesFollowTemperedAndFilteredDistribution() throws {
        let draws = 20_000
        func frequencies(_ parameters: SamplingParameters) throws -> [Double] {
            var random = RandomStream(seed: parameters.seed, stream: 0)
            var counts = [Int](repeating: 0, count: logits.count)
            for _ in 0..<draws { counts[Int(try sample(logits, parameters, &random).id)] += 1 }
            return counts.map { Double($0) / Double(draws) }
        }
        // 5 sigma of a binomial proportion at n = 20000 is at most 0.018.
        let tempered = try frequencies(SamplingParameters(temperature: 2, seed: 5))
        for (got, want) in zip(tempered, [0.10153632, 0.1674051, 0.27600434, 0.45505423]) {
            XCTAssertEqual(got, want, accuracy: 0.018)
        }
        let topK = try frequencies(SamplingParameters(temperature: 1, topK: 2, seed: 6))
        let keptMass = 0.23688282 + 0.64391426
        for (got, want) in zip(topK, [0, 0, 0.23688282 / keptMass, 0.64391426 / keptMass]) {
            XCTAssertEqual(got, want, accuracy: 0.018)
        }
        let nucleus = try frequencies(SamplingParameters(temperature: 1, topP: 0.9, seed: 7))
        let nucleusMass = 0.08714432 + 0.23688282 + 0.64391426
        for (got, want) in zip(nucleus, [0, 0.08714432 / nucleusMass, 0.23688282 / nucleusMass, 0.64391426 / nucleusMass]) {
            XCTAssertEqual(got, want, accuracy: 0.018)
        }
    }

    func testSameSeedSameTokens() throws {
        let parameters = SamplingParameters(temperature: 1.3, topK: 3, topP: 0.95, seed: 2024)
        var first = RandomStream(seed: 2024, stream: 0), second = RandomStream(seed: 2024, stream: 0)
        let a = try (0..<100).map { _ in try sample(logits, parameters, &first).id }
        let b = try (0..<100).map { _ in try sample(logits, parameters, &second).id }
        XCTAssertEqual(a, b)
        XCTAssertGreaterThan(Set(a).count, 1)
    }

    func testNegativeInfinityIsNeverSampledAndNaNIsAnError() throws {
        var random = RandomStream(seed: 3, stream: 0)
        for _ in 0..<200 {
            XCTAssertNotEqual(try sample([0, -.infinity, 0], SamplingParameters(temperature: 1, seed: 3), &random).id, 1)
        }
        XCTAssertThrowsError(try sample([0, .nan, 1], .greedy, &random)) {
            XCTAssertEqual($0 as? GenerationError, .nonFiniteLogits)
        }
        XCTAssertThrowsError(try sample([-.infinity, -.infinity], .greedy, &random))
    }

    func testPolynomialExpMatchesTheCLibrary() {
        var worst: Float = 0
        var x: Float = -87
        while x <= 0 {
            let lanes = LogitsMath.exp(LogitsMath.Lanes((0..<8).map { x + Float($0) * 0.0001 }))
            for lane in 0..<8 {
                let reference = expf(x + Float(lane) * 0.0001)
                worst = max(worst, abs(lanes[lane] - reference) / reference)
            }
            x += 0.0011
        }
        XCTAssertLessThan(worst, 3e-7, "relative error within ~2 ulp")
        let edges = LogitsMath.exp(LogitsMath.Lanes([-.infinity, -100, -87.4, 0, 1, -1, 0.5, -0.5]))
        XCTAssertEqual((0..<8).map { edges[$0] }, [0, 0, 0, 1, expf(1), expf(-1), expf(0.5), expf(-0.5)])
    }

    func testLargestIndicesAgreesWithSorting() {
        var generator = RandomStream(seed: 12, stream: 0)
        // Coarse values make many ties, which must go to the lower index.
        let row = (0..<3000).map { _ in Float(Int(generator.nextUnitFloat() * 40)) }
        let sorted = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.map(Int32.init)
        for count in [1, 7, 64, 3000, 5000] {
            let got = row.withUnsafeBufferPointer { LogitsMath.largestIndices($0, count: count) }
            XCTAssertEqual(got, Array(sorted.prefix(count)), "count \(count)")
        }
    }

    func testTopLogitsAreSortedLargestFirst() throws {
        let row: [Float] = [0.5, 9, -3, 9, 4, 7]
        let top = try row.withUnsafeBufferPointer { try TokenSampler.topLogits($0, count: 3) }
        XCTAssertEqual(top, [TokenLogit(id: 1, logit: 9), TokenLogit(id: 3, logit: 9), TokenLogit(id: 5, logit: 7)])
    }

    func testInvalidParametersAreTypedErrors() {
        XCTAssertThrowsError(try SamplingParameters(temperature: -1).validate())
        XCTAssertThrowsError(try SamplingParameters(temperature: .nan).validate())
        XCTAssertThrowsError(try SamplingParameters(topK: -2).validate())
        XCTAssertThrowsError(try SamplingParameters(topP: 0).validate())
        XCTAssertThrowsError(try SamplingParameters(topP: 1.5).validate())
        XCTAssertNoThrow(try SamplingParameters(temperature: 0.7, topK: 50, topP: 0.9).validate())
    }
}

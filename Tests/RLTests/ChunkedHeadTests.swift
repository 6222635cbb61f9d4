import Foundation
import Models
import Tensors
import XCTest
@testable import RL

/// The vocabulary head run chunk by chunk gives what one pass over every row gives: log-probabilities, entropies,
/// gradients of every parameter and the GRPO step's loss and update, within float rounding (a different row count
/// per GEMM and a different order of the head weight's gradient sums are the only differences).
final class ChunkedHeadTests: XCTestCase {
    private let sequences: [[Int32]] = [[1, 4, 7, 2, 9, 3, 3, 12, 0], [5, 0, 10, 6, 8, 13, 2]]
    private let rows = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14]  // every row with a next token in its sequence

    private func run(_ model: TrainableTransformer, chunkRows: Int) throws -> (TokenStatistics, [Float]) {
        let a: [Float] = rows.indices.map { Float($0 % 3) - 0.7 }
        let b: [Float] = rows.indices.map { 0.3 * Float($0 % 2) - 0.1 }
        model.zeroGradients()
        let pass = try model.forward(PackedSequences(sequences))
        let statistics = try model.backward(pass, rows: rows, temperature: 0.8, chunkRows: chunkRows) { range, _, _, dLogP, dH in
            for i in range {
                dLogP[i - range.lowerBound] = a[i]
                dH[i - range.lowerBound] = b[i]
            }
        }
        return (statistics, model.gradients.array())
    }

    /// log softmax(logits / T) and its entropy in Double from the whole [rows, V] logits matrix: the unchunked
    /// computation, written out.
    private func directStatistics(_ model: TrainableTransformer, temperature: Double) throws
        -> (logProbabilities: [Float], entropies: [Float]) {
        let batch = PackedSequences(sequences)
        let logits = try model.logits(try model.forward(batch), rows: rows)
        let V = model.configuration.vocabularySize
        var result: (logProbabilities: [Float], entropies: [Float]) = ([], [])
        for (i, row) in rows.enumerated() {
            let u = (0..<V).map { Double(logits[i * V + $0]) / temperature }
            let maximum = u.max()!
            let logZ = maximum + log(u.reduce(0) { $0 + exp($1 - maximum) })
            let target = Int(batch.tokens[row + 1])
            result.logProbabilities.append(Float(u[target] - logZ))
            result.entropies.append(Float(-u.reduce(0) { $0 + exp($1 - logZ) * ($1 - logZ) }))
        }
        return result
    }

    private func assertClose(_ got: [Float], _ expected: [Float], relative: Float, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        GradientCheck.assertClose(got, expected, relative: relative, what, file: file, line: line)
    }

    private func checkChunking(_ configuration: ModelConfiguration, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try TinyModels.model(configuration)
        let (whole, wholeGradients) = try run(model, chunkRows: rows.count)
        let direct = try directStatistics(model, temperature: 0.8)
        assertClose(whole.logProbabilities, direct.logProbabilities, relative: 1e-5, "one chunk vs direct log-probs", file: file, line: line)
        assertClose(whole.entropies, direct.entropies, relative: 1e-5, "one chunk vs direct entropies", file: file, line: line)
        XCTAssertGreaterThan(wholeGradients.map(abs).max() ?? 0, 0, file: file, line: line)
        for chunk in [1, 2, 3, 5, 13] {
            let (statistics, gradients) = try run(model, chunkRows: chunk)
            assertClose(statistics.logProbabilities, whole.logProbabilities, relative: 1e-6, "log-probs, chunk \(chunk)", file: file, line: line)
            assertClose(statistics.entropies, whole.entropies, relative: 1e-6, "entropies, chunk \(chunk)", file: file, line: line)
            assertClose(gradients, wholeGradients, relative: 1e-5, "gradients, chunk \(chunk)", file: file, line: line)
            let forwardOnly = try model.tokenStatistics(try model.forward(PackedSequences(sequences)), rows: rows,
                                                        temperature: 0.8, chunkRows: chunk)
            assertClose(forwardOnly.logProbabilities, whole.logProbabilities, relative: 1e-6, "tokenStatistics, chunk \(chunk)", file: file, line: line)
            assertClose(forwardOnly.entropies, whole.entropies, relative: 1e-6, "tokenStatistics entropies, chunk \(chunk)", file: file, line: line)
        }
    }

    func testChunkedHeadEqualsUnchunkedOnLlamaAndQwen2() throws {
        try checkChunking(TinyModels.configuration(vocabulary: 14, tied: false, bias: true))
        try checkChunking(TinyModels.configuration(vocabulary: 14, tied: true, bias: false, pairing: .adjacent))
    }

    func testChunkedHeadEqualsUnchunkedOnGemma3() throws {
        try checkChunking(TinyModels.gemmaConfiguration(vocabulary: 14))
    }

    /// One GRPO step (clipped ratio, KL, entropy bonus, two micro-batches) with one head row per chunk and with
    /// every row in one chunk: the same loss, metrics and updated weights within rounding.
    func testGRPOStepLossAndUpdateDoNotDependOnTheChunkSize() throws {
        let configuration = TinyModels.gemmaConfiguration(vocabulary: 14)
        let masks: [[UInt8]] = [[0, 0, 1, 1, 1, 0, 1, 1, 1], [0, 1, 1, 1, 1, 1, 1]]
        let batch = sequences.indices.map { s in
            TrainingSequence(tokens: sequences[s], promptLength: s == 0 ? 2 : 1, lossMask: masks[s],
                             oldLogProbabilities: sequences[s].indices.map { -2.5 + 0.1 * Float($0) },
                             reward: s == 0 ? 1 : -1, group: 0, outcome: ResponseOutcome(answered: true, correct: s == 0))
        }
        func step(chunkRows: Int) throws -> (StepMetrics, [Float]) {
            let policy = try TinyModels.model(configuration)
            let trainer = try GRPOTrainer(policy: policy, configuration: TrainerConfiguration(
                loss: GRPOLossConfiguration(klCoefficient: 0.1, entropyCoefficient: 0.05, temperature: 0.9),
                schedule: .constant(1e-2), microBatchTokens: 9, headChunkRows: chunkRows))
            let metrics = try trainer.step(batch)
            return (metrics, policy.parameters.array())
        }
        let (one, oneWeights) = try step(chunkRows: 1)
        let (all, allWeights) = try step(chunkRows: 1000)
        XCTAssertEqual(one.loss, all.loss, accuracy: 1e-6 * max(1, abs(all.loss)))
        XCTAssertEqual(one.entropy!, all.entropy!, accuracy: 1e-6)
        XCTAssertEqual(one.gradientNorm, all.gradientNorm, accuracy: 1e-5 * all.gradientNorm)
        XCTAssertNotEqual(all.gradientNorm, 0)
        assertClose(oneWeights, allWeights, relative: 1e-6, "weights after the step")
    }

    /// The chunk a 262,144-token vocabulary gets stays at 32 MiB of logits; small vocabularies keep the asked rows.
    func testChunkRowsShrinkForLargeVocabularies() {
        let gemma = TrainableTransformer.headChunkRows(requested: TrainableTransformer.defaultHeadChunkRows, vocabulary: 262_144)
        XCTAssertEqual(gemma, 32)
        XCTAssertLessThanOrEqual(gemma * 262_144 * 4, 32 << 20)
        XCTAssertEqual(TrainableTransformer.headChunkRows(requested: 128, vocabulary: 49_152), 128)
        XCTAssertEqual(TrainableTransformer.headChunkRows(requested: 3, vocabulary: 262_144), 3)
        XCTAssertEqual(TrainableTransformer.headChunkRows(requested: 128, vocabulary: 1 << 24), 1)
    }
}

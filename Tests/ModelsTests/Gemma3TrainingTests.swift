import Foundation
import XCTest
@testable import Models
import Tensors

/// The trainable decoder on the real Gemma 3 270M: its logits equal the engine's, and one gradient step on a fixed
/// 64-token sequence (the TORL prompt of the oracle) lowers that sequence's negative log-likelihood by about what
/// the gradient predicts.
final class Gemma3TrainingTests: XCTestCase {
    func testOneGradientStepLowersTheLossOfAFixedSequence() throws {
        let path = try TestSupport.requireGemmaModel()
        let engine = try ModelLoader.load(path: path, precision: .f32)
        let model = try TrainableTransformer(from: engine)
        let data = try Data(contentsOf: TestSupport.fixture("gemma3_270m_reference.json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let prompt = try XCTUnwrap((json["prompts"] as? [[String: Any]])?.last)
        let tokens = try XCTUnwrap(prompt["prompt_ids"] as? [Int]).map(Int32.init)
        let batch = PackedSequences([tokens])
        let rows = Array(0..<(tokens.count - 1))

        // Training logits of the last rows against the engine's (f32 both).
        let sequence = try engine.makeSequence()
        let inference = try engine.forward([ForwardStep(sequence: sequence, tokens: tokens, logitsForAllTokens: true)])
        engine.releaseSequence(sequence)
        let V = model.configuration.vocabularySize
        let training = try model.logits(try model.forward(batch), rows: [tokens.count - 1])
        XCTAssertLessThanOrEqual(TestSupport.maxAbsDifference(training, inference.row(tokens.count - 1)), 1e-3)
        XCTAssertEqual(training.count, V)

        func negativeLogLikelihood() throws -> Double {
            let statistics = try model.tokenStatistics(try model.forward(batch), rows: rows, temperature: 1)
            return -statistics.logProbabilities.reduce(0.0) { $0 + Double($1) } / Double(rows.count)
        }
        let before = try negativeLogLikelihood()
        model.zeroGradients()
        _ = try model.backward(try model.forward(batch), rows: rows, temperature: 1) { range, _, _, dLogP, dH in
            for i in range {
                dLogP[i - range.lowerBound] = -1 / Float(rows.count)
                dH[i - range.lowerBound] = 0
            }
        }
        // Plain gradient descent with a step of length 0.05 in parameter space: first-order decrease 0.05·|g|.
        let g = model.gradients, p = model.parameters
        let norm = (0..<g.count).reduce(0.0) { $0 + Double(g[$1]) * Double(g[$1]) }.squareRoot()
        let rate = Float(0.05 / norm)
        for i in 0..<p.count { p[i] -= rate * g[i] }
        let after = try negativeLogLikelihood()
        print("gemma3 train step: NLL \(before) → \(after), |g| \(norm), first-order prediction \(0.05 * norm)")
        XCTAssertLessThan(after, before - 0.025 * norm)
    }
}

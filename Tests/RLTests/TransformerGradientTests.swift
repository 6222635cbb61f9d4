import Models
import Tensors
import XCTest

/// The whole trainable decoder against finite differences: loss = Σ a_i·logp_i + b_i·H_i over prediction rows of
/// two packed sequences, for every architecture variant.
final class TransformerGradientTests: XCTestCase {
    private let sequences: [[Int32]] = [[1, 4, 7, 2, 9, 3, 3], [5, 0, 10, 6, 8]]

    private func checkModel(_ configuration: ModelConfiguration, policy: ActivationPolicy = .keepAll,
                            file: StaticString = #filePath, line: UInt = #line) throws -> FloatBuffer {
        let model = try TinyModels.model(configuration)
        let batch = PackedSequences(sequences)
        let rows = [0, 1, 2, 3, 4, 5, 7, 8, 10]  // every row with a next token in its own sequence
        let a: [Float] = rows.indices.map { Float($0 % 3) - 0.7 }
        let b: [Float] = rows.indices.map { 0.3 * Float($0 % 2) - 0.1 }
        let temperature: Float = 0.8
        func loss() -> Double {
            let statistics = try! model.tokenStatistics(try! model.forward(batch), rows: rows, temperature: temperature,
                                                        chunkRows: 4)
            return rows.indices.reduce(0.0) {
                $0 + Double(a[$1] * statistics.logProbabilities[$1] + b[$1] * statistics.entropies[$1])
            }
        }
        model.zeroGradients()
        let pass = try model.forward(batch, policy: policy)
        _ = try model.backward(pass, rows: rows, temperature: temperature, chunkRows: 4) { range, _, _, dLogP, dH in
            for i in range {
                dLogP[i - range.lowerBound] = a[i]
                dH[i - range.lowerBound] = b[i]
            }
        }
        GradientCheck.assertMatches("model \(configuration.architecture) tied=\(configuration.tiedEmbeddings) \(configuration.ropePairing)",
                                    parameter: model.parameters, analytic: model.gradients,
                                    indices: TinyModels.parameterSample(model.layout), step: 2e-3, tolerance: 2e-2,
                                    loss: loss, file: file, line: line)
        return model.gradients.copy()
    }

    func testQwen2StyleUntiedWithBiasesHalvesPairing() throws {
        _ = try checkModel(TinyModels.configuration(tied: false, bias: true, pairing: .halves))
    }

    func testLlamaStyleTiedWithoutBiasesAdjacentPairing() throws {
        _ = try checkModel(TinyModels.configuration(tied: true, bias: false, pairing: .adjacent))
    }

    /// Gemma 3: q/k head norms, (1 + w) norms, post-norms, GeGLU, the sliding window (3 < both sequences), the
    /// embedding scale and the query scalar, all through finite differences; recomputation gives the same gradients.
    func testGemma3WithSlidingWindowAndPostNorms() throws {
        let kept = try checkModel(TinyModels.gemmaConfiguration())
        let recomputed = try checkModel(TinyModels.gemmaConfiguration(), policy: .recomputePerLayer)
        XCTAssertEqual(kept.array(), recomputed.array())
    }

    func testRecomputingActivationsGivesTheSameGradients() throws {
        let configuration = TinyModels.configuration()
        let kept = try checkModel(configuration, policy: .keepAll)
        let recomputed = try checkModel(configuration, policy: .recomputePerLayer)
        XCTAssertEqual(kept.array(), recomputed.array())
    }

    func testPackingKeepsSequencesIndependent() throws {
        let model = try TinyModels.model(TinyModels.configuration())
        let packed = try model.logits(try model.forward(PackedSequences(sequences)), rows: Array(7..<12))
        let alone = try model.logits(try model.forward(PackedSequences([sequences[1]])), rows: Array(0..<5))
        for (x, y) in zip(packed, alone) { XCTAssertEqual(x, y, accuracy: 1e-5) }
    }

    func testBadInputsAreTypedErrors() throws {
        let model = try TinyModels.model(TinyModels.configuration())
        XCTAssertThrowsError(try model.forward(PackedSequences([[1, 11]]))) {
            XCTAssertEqual($0 as? TrainingModelError, .tokenOutOfRange(token: 11, vocabularySize: 11))
        }
        XCTAssertThrowsError(try model.forward(PackedSequences([[Int32]](arrayLiteral: []))))
        XCTAssertThrowsError(try model.forward(PackedSequences([[Int32](repeating: 1, count: 65)])))
        let pass = try model.forward(PackedSequences(sequences))
        // Row 6 is the last token of the first sequence: it predicts nothing inside its sequence.
        XCTAssertThrowsError(try model.tokenStatistics(pass, rows: [6], temperature: 1)) {
            XCTAssertEqual($0 as? TrainingModelError, .rowOutOfRange(row: 6, tokenCount: 12))
        }
        XCTAssertThrowsError(try model.tokenStatistics(pass, rows: [0], temperature: 0))
        var bad = model.namedTensors()
        bad["model.norm.weight"]!.shape = [1, 8]
        XCTAssertThrowsError(try model.load(bad))
        bad = model.namedTensors()
        bad["lm_head.weight"] = nil
        XCTAssertThrowsError(try model.load(bad)) {
            XCTAssertEqual($0 as? ModelError, .missingTensors(["lm_head.weight"], source: "tensors"))
        }
    }
}

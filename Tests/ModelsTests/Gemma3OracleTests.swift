import Foundation
import XCTest
@testable import Models
import Tensors

/// Gemma 3 270M (Q4_K_M GGUF, every weight dequantized to f32) against llama.cpp's F32 run of the same file:
/// Tests/Fixtures/gemma3_270m_reference.json (prompt ids, top-10 last logits, 32 greedy ids) and
/// gemma3_270m_last_logits_f32.bin (all last-position logits), and against a float64 NumPy forward pass of the
/// same weights (gemma3_270m_float64.json, Tests/Fixtures/make_gemma3_float64_reference.py). The model comes from TORL_GEMMA_MODEL or
/// models/gemma-3-270m-q4_k_m.gguf; the tests skip when it is absent.
final class Gemma3OracleTests: XCTestCase {
    struct Prompt {
        let name: String
        let ids: [Int32]
        let top10: [(id: Int, logit: Float)]
        let greedy: [Int32]
    }

    /// Against the float64 computation (gemma3_270m_float64.json) torl's f32 logits are within 1e-3.
    static let tolerance: Float = 1e-3
    /// Against llama.cpp the issue asks for 1e-3 too, but llama.cpp's own F32 logits are up to 0.009 (top 10) and
    /// 0.013 (all) from float64: ggml's CPU GELU rounds its input to f16 and reads an f16 table
    /// (ggml-cpu/vec.h, GGML_GELU_FP16). torl keeps the exact tanh GELU of transformers, so it is held to
    /// llama.cpp's distance from float64 plus 1e-3.
    static let llamaCppTolerance: Float = 0.01
    static var cachedModels: [WeightPrecision: Gemma3Model] = [:]

    func model(_ precision: WeightPrecision) throws -> Gemma3Model {
        if let model = Self.cachedModels[precision] { return model }
        let path = try TestSupport.requireGemmaModel()
        let model = try XCTUnwrap(ModelLoader.load(path: path, precision: precision) as? Gemma3Model)
        Self.cachedModels[precision] = model
        return model
    }

    func prompts() throws -> [Prompt] {
        let data = try Data(contentsOf: TestSupport.fixture("gemma3_270m_reference.json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try XCTUnwrap(json["prompts"] as? [[String: Any]])
        return try list.map { entry in
            let greedy = try XCTUnwrap(entry["greedy_32"] as? [String: Any])
            let top = try XCTUnwrap(entry["top10_last"] as? [[String: Any]])
            return Prompt(name: try XCTUnwrap(entry["name"] as? String),
                          ids: try XCTUnwrap(entry["prompt_ids"] as? [Int]).map(Int32.init),
                          top10: try top.map { (try XCTUnwrap($0["id"] as? Int), Float(try XCTUnwrap($0["logit"] as? Double))) },
                          greedy: try XCTUnwrap(greedy["ids"] as? [Int]).map(Int32.init))
        }
    }

    /// [4][262144] llama.cpp logits at each prompt's last position.
    func referenceLastLogits(vocabulary: Int) throws -> [[Float]] {
        let values = try TestSupport.readFloats(TestSupport.fixture("gemma3_270m_last_logits_f32.bin"))
        XCTAssertEqual(values.count, 4 * vocabulary)
        return (0..<4).map { Array(values[($0 * vocabulary)..<(($0 + 1) * vocabulary)]) }
    }

    /// Each prompt's last-position logits, all prompts prefilled in one forward call, then `steps` greedy tokens
    /// decoded for all of them together (one call per step): batched decoding with sequences of unequal length.
    func run(_ model: Gemma3Model, prompts: [Prompt], steps: Int) throws -> (last: [[Float]], greedy: [[Int32]]) {
        let sequences = try prompts.map { _ in try model.makeSequence() }
        defer { sequences.forEach(model.releaseSequence) }
        let first = try model.forward(zip(sequences, prompts).map { ForwardStep(sequence: $0, tokens: $1.ids) })
        let last = prompts.indices.map { Array(first.row(first.rowRanges[$0].lowerBound)) }
        var greedy = last.map { [Int32(TestSupport.argmax($0))] }
        while greedy[0].count < steps {
            let batch = try model.forward(zip(sequences, greedy).map { ForwardStep(sequence: $0, tokens: [$1.last!]) })
            for i in prompts.indices { greedy[i].append(Int32(TestSupport.argmax(batch.row(batch.rowRanges[i].lowerBound)))) }
        }
        return (last, greedy)
    }

    func testConfigurationFromGGUFMetadata() throws {
        let c = try model(.f32).configuration
        XCTAssertEqual(c.architecture, .gemma3)
        XCTAssertEqual([c.vocabularySize, c.hiddenSize, c.intermediateSize, c.layerCount, c.headCount, c.keyValueHeadCount, c.headDimension],
                       [262_144, 640, 2048, 18, 4, 1, 256])
        XCTAssertEqual(c.ropeTheta, 1_000_000)
        XCTAssertEqual(c.localRopeTheta, 10_000)
        XCTAssertEqual(c.slidingWindow, 512)
        XCTAssertEqual((0..<18).filter { !c.isSlidingWindowLayer($0) }, [5, 11, 17])
        XCTAssertEqual(c.ropePairing, .halves)
        XCTAssertEqual(c.queryPreAttentionScalar, 256)
        XCTAssertTrue(c.tiedEmbeddings)
    }

    /// The norms come back as Hugging Face's w: llama.cpp stored 1 + w, so the final norm's mean factor is
    /// 1 + mean(w), and the named tensor is the stored value minus one.
    func testNormWeightsAreHuggingFaceConvention() throws {
        let path = try TestSupport.requireGemmaModel()
        let gguf = try GGUFFile(path: path)
        let info = try XCTUnwrap(gguf.tensorsByName["blk.0.attn_q_norm.weight"])
        let stored = try Dequantize.toFloat32(gguf.data(of: info), type: info.type, count: info.elementCount)
        let named = try model(.f32).namedTensors()["model.layers.0.self_attn.q_norm.weight"]!.values
        XCTAssertEqual(named, stored.map { $0 - 1 })
    }

    func testF32MatchesLlamaCppAndFloat64() throws {
        let model = try model(.f32), prompts = try prompts()
        let reference = try referenceLastLogits(vocabulary: model.configuration.vocabularySize)
        let exact = try float64Reference()
        let (last, greedy) = try run(model, prompts: prompts, steps: 32)
        for (i, prompt) in prompts.enumerated() {
            let topError = prompt.top10.map { abs(last[i][$0.id] - $0.logit) }.max()!
            XCTAssertLessThanOrEqual(topError, Self.llamaCppTolerance, "\(prompt.name): top-10 logits against llama.cpp")
            XCTAssertEqual(prompt.top10.map(\.id), exact[i].top10, "\(prompt.name): llama.cpp and float64 rank the same top 10")
            let allError = TestSupport.maxAbsDifference(last[i], reference[i])
            let exactError = exact[i].logits.map { abs(last[i][$0.key] - $0.value) }.max()!
            XCTAssertLessThanOrEqual(exactError, Self.tolerance, "\(prompt.name): logits against float64")
            print("gemma3 f32 \(prompt.name): against llama.cpp top-10 max |Δ| \(topError), all max |Δ| \(allError); against float64 max |Δ| \(exactError) on \(exact[i].logits.count) ids")
            XCTAssertEqual(greedy[i], prompt.greedy, "\(prompt.name): greedy ids")
        }
    }

    /// Per prompt: the float64 top 10 and float64 logits at ~500 ids (gemma3_270m_float64.json).
    func float64Reference() throws -> [(top10: [Int], logits: [Int: Float])] {
        let data = try Data(contentsOf: TestSupport.fixture("gemma3_270m_float64.json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap(json["prompts"] as? [[String: Any]]).map { entry in
            let ids = try XCTUnwrap(entry["ids"] as? [Int]), logits = try XCTUnwrap(entry["logits"] as? [Double])
            return (try XCTUnwrap(entry["top10_ids"] as? [Int]),
                    Dictionary(uniqueKeysWithValues: zip(ids, logits.map { Float($0) })))
        }
    }

    /// bf16 and int8 weights (f16 KV cache): the logit error against llama.cpp's f32 and how many prompts keep all
    /// 32 greedy ids. Bounds are the measured figures (README) with headroom.
    func testReducedPrecisionErrors() throws {
        let prompts = try prompts()
        let bounds: [WeightPrecision: (top10: Float, all: Float)] = [.bf16: (0.25, 0.75), .int8: (1.0, 2.5)]
        for precision in [WeightPrecision.bf16, .int8] {
            let model = try model(precision)
            let reference = try referenceLastLogits(vocabulary: model.configuration.vocabularySize)
            let (last, greedy) = try run(model, prompts: prompts, steps: 32)
            var topError: Float = 0, allError: Float = 0, exact = 0, firstTokenSame = 0
            for (i, prompt) in prompts.enumerated() {
                topError = max(topError, prompt.top10.map { abs(last[i][$0.id] - $0.logit) }.max()!)
                allError = max(allError, TestSupport.maxAbsDifference(last[i], reference[i]))
                if greedy[i] == prompt.greedy { exact += 1 }
                if greedy[i][0] == prompt.greedy[0] { firstTokenSame += 1 }
            }
            print("gemma3 \(precision.rawValue): top-10 max |Δ| \(topError), all logits max |Δ| \(allError), greedy 32 identical on \(exact) of \(prompts.count) prompts, first token on \(firstTokenSame)")
            XCTAssertLessThanOrEqual(topError, bounds[precision]!.top10, precision.rawValue)
            XCTAssertLessThanOrEqual(allError, bounds[precision]!.all, precision.rawValue)
            XCTAssertEqual(firstTokenSame, prompts.count, "\(precision.rawValue): the first greedy token of every prompt")
        }
    }
}

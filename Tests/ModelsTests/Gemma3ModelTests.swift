import Foundation
import XCTest
@testable import Models
import Tensors

/// A tiny random Gemma 3 (4 layers alternating sliding-window and global, window 3 < 12 tokens, head dimension
/// 16 ≠ width / heads, query_pre_attn_scalar 24 ≠ head dimension) against the float64 NumPy forward pass of
/// Tests/Fixtures/gemma3_tiny_reference.py, fed in every way the cache can be filled: one prefill, token by token,
/// chunks that straddle the window, and a fork.
final class Gemma3ModelTests: XCTestCase {
    static let tolerance: Float = 1e-4

    struct Reference {
        let configuration: ModelConfiguration
        let tensors: [String: NamedTensor]
        let ids: [Int32]
        let logits: [Float]    // [ids.count, V]
    }

    static var cachedReference: Reference?

    func reference() throws -> Reference {
        if let reference = Self.cachedReference { return reference }
        let folder = try temporaryDirectory()
        try TestSupport.runPython(file: "Tests/Fixtures/gemma3_tiny_reference.py", arguments: [folder.path])
        let configuration = try JSONDecoder().decode(ModelConfiguration.self,
                                                     from: Data(contentsOf: folder.appendingPathComponent("config.json")))
        let index = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("weights.json")))
                                  as? [String: [String: Any]])
        let blob = try TestSupport.readFloats(folder.appendingPathComponent("weights.bin"))
        var tensors: [String: NamedTensor] = [:]
        for (name, entry) in index {
            let shape = try XCTUnwrap(entry["shape"] as? [Int]), offset = try XCTUnwrap(entry["offset"] as? Int)
            tensors[name] = NamedTensor(shape: shape, values: Array(blob[offset..<(offset + shape.reduce(1, *))]))
        }
        let ids = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("ids.json"))) as? [Int])
        let reference = Reference(configuration: configuration, tensors: tensors, ids: ids.map(Int32.init),
                                  logits: try TestSupport.readFloats(folder.appendingPathComponent("logits.bin")))
        Self.cachedReference = reference
        return reference
    }

    func model(_ precision: WeightPrecision = .f32, cache: KeyValueFormat? = nil) throws -> Gemma3Model {
        let r = try reference()
        return try Gemma3Model(configuration: r.configuration, tensors: r.tensors, precision: precision, cacheFormat: cache)
    }

    /// Feeds the ids in chunks of `sizes` (all logits kept) and returns the logits of every position.
    func logits(_ model: Gemma3Model, chunks sizes: [Int], ids: [Int32]) throws -> [Float] {
        let sequence = try model.makeSequence()
        defer { model.releaseSequence(sequence) }
        var result: [Float] = [], start = 0
        for size in sizes {
            let batch = try model.forward([ForwardStep(sequence: sequence, tokens: Array(ids[start..<(start + size)]),
                                                       logitsForAllTokens: true)])
            result += batch.values
            start += size
        }
        XCTAssertEqual(start, ids.count)
        XCTAssertEqual(model.length(of: sequence), ids.count)
        return result
    }

    func testOnePrefillMatchesNumpy() throws {
        let r = try reference()
        let got = try logits(try model(), chunks: [r.ids.count], ids: r.ids)
        XCTAssertLessThanOrEqual(TestSupport.maxAbsDifference(got, r.logits), Self.tolerance)
    }

    func testTokenByTokenDecodeThroughTheRingMatchesNumpy() throws {
        let r = try reference()
        let got = try logits(try model(), chunks: Array(repeating: 1, count: r.ids.count), ids: r.ids)
        XCTAssertLessThanOrEqual(TestSupport.maxAbsDifference(got, r.logits), Self.tolerance)
    }

    /// Chunks of 2 and 3 rows gather part of their window from the ring; a chunk of 5 > window overwrites it whole.
    func testChunksStraddlingTheWindowMatchNumpy() throws {
        let r = try reference()
        for sizes in [[2, 3, 1, 5, 1], [4, 2, 2, 1, 3], [1, 1, 7, 3]] {
            let got = try logits(try model(), chunks: sizes, ids: r.ids)
            XCTAssertLessThanOrEqual(TestSupport.maxAbsDifference(got, r.logits), Self.tolerance, "\(sizes)")
        }
    }

    /// Several sequences in one call, mixing a prefill and single tokens, and a fork sharing a cached prefix.
    func testBatchedStepsAndForkMatchNumpy() throws {
        let r = try reference()
        let V = r.configuration.vocabularySize, model = try model()
        func expected(_ position: Int) -> ArraySlice<Float> { r.logits[(position * V)..<((position + 1) * V)] }
        let a = try model.makeSequence(), b = try model.makeSequence()
        _ = try model.forward([ForwardStep(sequence: a, tokens: Array(r.ids[0..<5])), ForwardStep(sequence: b, tokens: [r.ids[0]])])
        let fork = try model.forkSequence(a)
        for position in 5..<r.ids.count {
            let batch = try model.forward([ForwardStep(sequence: a, tokens: [r.ids[position]]),
                                           ForwardStep(sequence: fork, tokens: [r.ids[position]]),
                                           ForwardStep(sequence: b, tokens: Array(r.ids[(position - 4)..<(position - 3)]))])
            XCTAssertLessThanOrEqual(TestSupport.maxAbsDifference(batch.row(0), expected(position)), Self.tolerance)
            XCTAssertLessThanOrEqual(TestSupport.maxAbsDifference(batch.row(1), expected(position)), Self.tolerance)
            XCTAssertLessThanOrEqual(TestSupport.maxAbsDifference(batch.row(2), expected(position - 4)), Self.tolerance)
        }
    }

    /// bf16 and int8 weights with the f16 cache stay close to the f32 reference (logits span about ±20 here;
    /// measured 0.07 and 0.2, bounds with headroom; a wrong weight or mask moves logits by whole units).
    func testReducedPrecisionsStayClose() throws {
        let r = try reference()
        for (precision, bound) in [(WeightPrecision.bf16, Float(0.2)), (.int8, 0.5)] {
            let error = TestSupport.maxAbsDifference(try logits(try model(precision), chunks: [5, 1, 1, 5], ids: r.ids), r.logits)
            print("tiny gemma3 \(precision.rawValue): max |Δ| \(error)")
            XCTAssertLessThanOrEqual(error, bound, precision.rawValue)
        }
    }

    func testNamedTensorsRoundTrip() throws {
        let r = try reference()
        let named = try model().namedTensors()
        XCTAssertEqual(Set(named.keys), Set(r.tensors.keys))
        for (name, tensor) in r.tensors {
            XCTAssertEqual(named[name]!.shape, tensor.shape, name)
            XCTAssertLessThanOrEqual(TestSupport.maxAbsDifference(named[name]!.values, tensor.values), 1e-7, name)
        }
    }

    /// The export holds the reference's tensors (Hugging Face names, norms as w) exactly, and reads back as its
    /// configuration.
    func testHuggingFaceExportHoldsTheReferenceTensorsUnderTheirNames() throws {
        let r = try reference()
        let policy = try TrainableTransformer(configuration: r.configuration)
        try policy.load(r.tensors)
        let folder = try temporaryDirectory().appendingPathComponent("export").path
        try policy.exportHuggingFace(to: folder)
        let (configuration, tensors) = try ModelLoader.sourceTensors(path: folder)
        XCTAssertEqual(configuration, r.configuration)
        XCTAssertEqual(Set(tensors.keys), Set(r.tensors.keys))
        for (name, tensor) in r.tensors {
            XCTAssertEqual(tensors[name]?.shape, tensor.shape, name)
            XCTAssertEqual(tensors[name]?.values, tensor.values, name)
        }
    }

    func testWrongShapesAndArchitecturesAreRefusedByName() throws {
        let r = try reference()
        var tensors = r.tensors
        tensors["model.layers.1.self_attn.q_norm.weight"] = NamedTensor(shape: [8], values: Array(repeating: 0, count: 8))
        XCTAssertThrowsError(try Gemma3Model(configuration: r.configuration, tensors: tensors, source: "tiny")) { error in
            XCTAssertTrue("\(error)".contains("model.layers.1.self_attn.q_norm.weight"), "\(error)")
        }
        XCTAssertThrowsError(try LlamaModel(configuration: r.configuration, tensors: r.tensors, source: "tiny")) { error in
            XCTAssertTrue("\(error)".contains("Gemma3Model"), "\(error)")
        }
        var noWindow = r.configuration
        noWindow.slidingWindow = nil
        XCTAssertThrowsError(try Gemma3Model(configuration: noWindow, tensors: r.tensors, source: "tiny")) { error in
            XCTAssertTrue("\(error)".contains("sliding window"), "\(error)")
        }
    }
}

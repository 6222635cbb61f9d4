import Foundation
import XCTest
@testable import Models
import Tensors

/// Tiny random checkpoints written by a numpy script (Tests/Fixtures/tiny_checkpoint_reference.py), loaded by the engine and compared with the
/// script's float64 forward pass at every position. Covers Qwen2 (biases, untied head, GQA, halves RoPE) from
/// single, sharded and F16/BF16 safetensors and as a GGUF, and Llama from a GGUF whose q/k rows are permuted for
/// adjacent-pair RoPE, against the unpermuted weights.
final class TinyCheckpointTests: XCTestCase {
    static let tolerance: Float = 1e-4
    static var generated: URL?

    func directory() throws -> URL {
        if let url = Self.generated { return url }
        let url = try Self.newTemporaryDirectory()
        do {
            try TestSupport.runPython(file: "Tests/Fixtures/tiny_checkpoint_reference.py", arguments: [url.path])
        } catch {
            try? FileManager.default.removeItem(at: url)
            throw error
        }
        Self.generated = url
        return url
    }

    override class func tearDown() {
        if let url = generated { try? FileManager.default.removeItem(at: url) }
        generated = nil
        super.tearDown()
    }

    func ids() throws -> [Int32] {
        let data = try Data(contentsOf: try directory().appendingPathComponent("ids.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [Int]).map(Int32.init)
    }

    /// Loads `case`, runs the ids in one call and compares all positions with reference_logits.bin.
    @discardableResult
    func checkAgainstNumpy(_ name: String, path: String? = nil) throws -> any TransformerModel {
        let folder = try directory().appendingPathComponent(name)
        let model = try ModelLoader.load(path: path.map { folder.appendingPathComponent($0).path } ?? folder.path)
        let ids = try ids()
        let sequence = try model.makeSequence()
        defer { model.releaseSequence(sequence) }
        let batch = try model.forward([ForwardStep(sequence: sequence, tokens: ids, logitsForAllTokens: true)])
        let reference = try TestSupport.readFloats(folder.appendingPathComponent("reference_logits.bin"))
        XCTAssertEqual(batch.values.count, reference.count, name)
        XCTAssertLessThanOrEqual(TestSupport.maxAbsDifference(batch.values, reference), Self.tolerance, name)
        return model
    }

    func testQwen2SafetensorsMatchesNumpy() throws {
        let model = try checkAgainstNumpy("qwen2")
        let c = model.configuration
        XCTAssertEqual(c.architecture, .qwen2)
        XCTAssertTrue(c.attentionBias)
        XCTAssertFalse(c.tiedEmbeddings)
        XCTAssertEqual(c.ropePairing, .halves)
        XCTAssertEqual([c.headCount, c.keyValueHeadCount, c.headDimension], [4, 2, 8])
        XCTAssertEqual(c.ropeTheta, 1e6)
    }

    func testQwen2ShardedSafetensorsMatchesNumpy() throws { try checkAgainstNumpy("qwen2_sharded") }

    func testQwen2F16AndBF16TensorsMatchNumpy() throws { try checkAgainstNumpy("qwen2_half") }

    func testLlamaGGUFWithPermutedQKMatchesNumpy() throws {
        let model = try checkAgainstNumpy("llama_gguf", path: "model.gguf")
        XCTAssertEqual(model.configuration.ropePairing, .adjacent)
        XCTAssertTrue(model.configuration.tiedEmbeddings)
    }

    func testQwen2GGUFKeepsHalvesRoPEAndBiases() throws {
        let model = try checkAgainstNumpy("qwen2_gguf", path: "model.gguf")
        let c = model.configuration
        XCTAssertEqual(c.architecture, .qwen2)
        XCTAssertEqual(c.ropePairing, .halves)
        XCTAssertTrue(c.attentionBias)
        XCTAssertFalse(c.tiedEmbeddings)
    }

    func testLlamaHuggingFaceFolderMatchesNumpy() throws {
        let model = try checkAgainstNumpy("llama_hf")
        XCTAssertEqual(model.configuration.ropePairing, .halves)
        XCTAssertFalse(model.configuration.attentionBias)
    }

    /// The same ids fed in three calls (4 + 1 + 6 tokens) next to another sequence of a different length must
    /// give the whole-prompt logits of each chunk's rows.
    func testQwen2ChunkedPrefillWithBatchMatchesNumpy() throws {
        let folder = try directory().appendingPathComponent("qwen2")
        let model = try ModelLoader.load(path: folder.path)
        let ids = try ids(), V = model.configuration.vocabularySize
        let reference = try TestSupport.readFloats(folder.appendingPathComponent("reference_logits.bin"))
        let main = try model.makeSequence(), other = try model.makeSequence()
        var position = 0
        for chunk in [4, 1, 6] {
            let tokens = Array(ids[position..<(position + chunk)])
            let batch = try model.forward([ForwardStep(sequence: other, tokens: [ids[chunk]]),
                                           ForwardStep(sequence: main, tokens: tokens, logitsForAllTokens: true)])
            let rows = batch.rowRanges[1]
            let got = rows.flatMap { batch.row($0) }
            let expected = reference[(position * V)..<((position + chunk) * V)]
            XCTAssertLessThanOrEqual(TestSupport.maxAbsDifference(got, expected), Self.tolerance, "chunk at \(position)")
            position += chunk
        }
    }

    /// namedTensors() gives back the checkpoint's own tensors under Hugging Face names, and a model built from
    /// them computes the same logits.
    func testNamedTensorsRoundTrip() throws {
        let folder = try directory().appendingPathComponent("qwen2")
        let model = try ModelLoader.load(path: folder.path)
        let exported = model.namedTensors()
        let checkpoint = try SafetensorsCheckpoint(directory: folder.path)
        XCTAssertEqual(Set(exported.keys), Set(checkpoint.locations.keys))
        for (name, location) in checkpoint.locations {
            XCTAssertEqual(exported[name]?.values, location.shard.float32(of: location.info), name)
            XCTAssertEqual(exported[name]?.shape, location.info.shape, name)
        }
        let rebuilt = try LlamaModel(configuration: model.configuration, tensors: exported)
        let ids = try ids()
        let a = try model.makeSequence(), b = try rebuilt.makeSequence()
        XCTAssertEqual(try model.forward([ForwardStep(sequence: a, tokens: ids)]).values,
                       try rebuilt.forward([ForwardStep(sequence: b, tokens: ids)]).values)
    }

    /// replaceWeights swaps parameters: scaling the head scales the logits.
    func testReplaceWeightsTakesEffectAndRefusesWhileSequencesAreCached() throws {
        let model = try ModelLoader.load(path: try directory().appendingPathComponent("qwen2").path)
        let ids = try ids()
        var sequence = try model.makeSequence()
        let before = try model.forward([ForwardStep(sequence: sequence, tokens: ids)]).values
        var tensors = model.namedTensors()
        tensors["lm_head.weight"]!.values = tensors["lm_head.weight"]!.values.map { $0 * 2 }
        XCTAssertThrowsError(try model.replaceWeights(tensors)) { error in
            XCTAssertEqual(error as? ModelError, .sequencesStillCached(1))
        }
        model.releaseSequence(sequence)
        try model.replaceWeights(tensors)
        sequence = try model.makeSequence()
        let after = try model.forward([ForwardStep(sequence: sequence, tokens: ids)]).values
        XCTAssertLessThanOrEqual(TestSupport.maxAbsDifference(after, before.map { $0 * 2 }), 1e-4)
    }
}

import Foundation
import Models
import Tensors
import XCTest

/// A Gemma 3 policy exported as a Hugging Face folder: `config.json` says what transformers' Gemma3TextConfig
/// needs, and torl's Hugging Face loader reads the folder back as the same configuration with the same logits.
/// (transformers itself reads the real model's export in clients/python/tests/test_gemma3_export.py.)
final class Gemma3ExportTests: XCTestCase {
    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("torl-gemma-export-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testExportLoadsBackWithTheSameConfigurationAndLogits() throws {
        var configuration = TinyModels.gemmaConfiguration()
        configuration.layerCount = 4  // window pattern 2: sliding, global, sliding, global
        let policy = try TinyModels.model(configuration)
        let folder = try temporaryDirectory() + "/export"
        try policy.exportHuggingFace(to: folder)

        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/config.json"))
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(config["architectures"] as? [String], ["Gemma3ForCausalLM"])
        XCTAssertEqual(config["model_type"] as? String, "gemma3_text")
        XCTAssertEqual(config["hidden_activation"] as? String, "gelu_pytorch_tanh")
        XCTAssertNil(config["hidden_act"])
        XCTAssertEqual(config["layer_types"] as? [String], ["sliding_attention", "full_attention", "sliding_attention", "full_attention"])
        XCTAssertEqual(config["sliding_window"] as? Int, 3)
        XCTAssertEqual(config["sliding_window_pattern"] as? Int, 2)
        XCTAssertEqual(config["rope_theta"] as? Double, 1_000_000)
        XCTAssertEqual(config["rope_local_base_freq"] as? Double, 10_000)
        XCTAssertEqual(config["query_pre_attn_scalar"] as? Double, 6)
        XCTAssertEqual(config["tie_word_embeddings"] as? Bool, true)
        for key in ["final_logit_softcapping", "attn_logit_softcapping", "rope_scaling"] {
            XCTAssertTrue(config[key] is NSNull, "\(key) is written as null")
        }

        let loaded = try ModelLoader.load(path: folder)
        XCTAssertTrue(loaded is Gemma3Model)
        XCTAssertEqual(loaded.configuration, configuration)
        // Norm weights travel as Hugging Face's w (the model multiplies by 1 + w), unchanged.
        XCTAssertEqual(loaded.namedTensors()["model.layers.1.self_attn.q_norm.weight"]?.values,
                       policy.namedTensors()["model.layers.1.self_attn.q_norm.weight"]?.values)
        let tokens: [Int32] = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
        let sequence = try loaded.makeSequence()
        let engine = try loaded.forward([ForwardStep(sequence: sequence, tokens: tokens, logitsForAllTokens: true)]).values
        let training = try policy.logits(try policy.forward(PackedSequences([tokens])), rows: Array(tokens.indices))
        GradientCheck.assertClose(engine, training, relative: 1e-5, "exported Gemma 3 logits")
    }

    /// A config.json asking for what torl's Gemma 3 does not run is refused, naming the file and the field.
    func testUnsupportedGemmaConfigurationsAreNamed() throws {
        let policy = try TinyModels.model(TinyModels.gemmaConfiguration())
        let folder = try temporaryDirectory() + "/export"
        try policy.exportHuggingFace(to: folder)
        let path = folder + "/config.json"
        let original = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        for (key, value, expected) in [("final_logit_softcapping", 30.0 as Any, "final_logit_softcapping"),
                                       ("hidden_activation", "gelu" as Any, "hidden_activation"),
                                       ("layer_types", ["full_attention", "sliding_attention"] as Any, "layer_types"),
                                       ("model_type", "gemma3" as Any, "gemma3")] {
            var config = original
            config[key] = value
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try ModelLoader.load(path: folder), key) { error in
                XCTAssertTrue("\(error)".contains(path) && "\(error)".contains(expected), "\(error)")
            }
        }
    }
}

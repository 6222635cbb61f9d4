import Foundation
import XCTest
@testable import Models

/// Bad checkpoints and bad requests give typed errors that name the problem.
final class LoadingErrorTests: XCTestCase {
    /// A tiny valid Llama configuration and its tensors (HF names), deterministic values.
    static let configuration = ModelConfiguration(
        architecture: .llama, vocabularySize: 16, hiddenSize: 8, intermediateSize: 12, layerCount: 2, headCount: 2,
        keyValueHeadCount: 1, headDimension: 4, contextLength: 10, ropeTheta: 10000, ropePairing: .halves,
        rmsNormEpsilon: 1e-5, tiedEmbeddings: true, attentionBias: false)

    static let configJSON: [String: Any] = [
        "model_type": "llama", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 2,
        "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 10, "rope_theta": 10000.0,
        "rms_norm_eps": 1e-5, "tie_word_embeddings": true,
    ]

    static func tensors() -> [String: NamedTensor] {
        var result: [String: NamedTensor] = [:]
        for (index, spec) in TensorNameTable.parameters(for: configuration).enumerated() {
            let count = spec.shape.reduce(1, *)
            result[spec.name] = NamedTensor(shape: spec.shape, values: (0..<count).map { Float(sin(Double($0 * 7 + index))) * 0.3 })
        }
        return result
    }

    /// Writes config.json and model.safetensors, after letting `edit` change the entries or the config.
    func folder(config: [String: Any] = configJSON, edit: (inout [SafetensorsWriter.Entry]) -> Void = { _ in }) throws -> String {
        let url = try temporaryDirectory()
        var entries = Self.tensors().sorted { $0.key < $1.key }.map { SafetensorsWriter.f32($0.key, shape: $0.value.shape, values: $0.value.values) }
        edit(&entries)
        try JSONSerialization.data(withJSONObject: config).write(to: url.appendingPathComponent("config.json"))
        try Data(try SafetensorsWriter.bytes(entries)).write(to: url.appendingPathComponent("model.safetensors"))
        return url.path
    }

    func testValidFolderLoads() throws {
        let model = try ModelLoader.load(path: try folder())
        XCTAssertEqual(model.configuration, Self.configuration)
    }

    func testMissingPathsAndFiles() throws {
        XCTAssertThrowsError(try ModelLoader.load(path: "/nonexistent/model")) { error in
            XCTAssertEqual(error as? ModelFormatError, .cannotOpen(path: "/nonexistent/model", reason: "no such file or directory"))
        }
        let empty = try temporaryDirectory().path
        XCTAssertThrowsError(try ModelLoader.load(path: empty)) { error in
            XCTAssertTrue("\(error)".contains("config.json"), "\(error)")
        }
        let noWeights = try folder()
        try FileManager.default.removeItem(atPath: noWeights + "/model.safetensors")
        XCTAssertThrowsError(try ModelLoader.load(path: noWeights)) { error in
            XCTAssertTrue("\(error)".contains("model.safetensors"), "\(error)")
        }
    }

    func testUnknownArchitecture() throws {
        var config = Self.configJSON
        config["model_type"] = "gpt2"
        XCTAssertThrowsError(try ModelLoader.load(path: try folder(config: config))) { error in
            guard case .unknownArchitecture("gpt2", "model_type", _)? = error as? ModelError else { return XCTFail("\(error)") }
        }
        var builder = GGUFBuilder()
        builder.metadata = [("general.architecture", .string("falcon"))]
        builder.tensors = [.init(name: "token_embd.weight", ggmlDimensions: [8, 16], type: 0, data: f32Bytes(.init(repeating: 0, count: 128)))]
        let path = try temporaryDirectory().appendingPathComponent("m.gguf")
        try Data(builder.bytes()).write(to: path)
        XCTAssertThrowsError(try ModelLoader.load(path: path.path)) { error in
            XCTAssertEqual(error as? ModelError, .unknownArchitecture("falcon", key: "general.architecture", source: path.path))
            XCTAssertTrue("\(error)".contains(path.path) && "\(error)".contains("general.architecture"), "\(error)")
        }
    }

    func testMissingUnusedAndMisshapenTensorsAreNamed() throws {
        let missing = try folder { $0.removeAll { $0.name == "model.layers.1.mlp.up_proj.weight" } }
        XCTAssertThrowsError(try ModelLoader.load(path: missing)) { error in
            guard case .missingTensors(["model.layers.1.mlp.up_proj.weight"], _)? = error as? ModelError else { return XCTFail("\(error)") }
        }
        let unused = try folder { $0.append(SafetensorsWriter.f32("model.layers.0.extra.weight", shape: [2], values: [1, 2])) }
        XCTAssertThrowsError(try ModelLoader.load(path: unused)) { error in
            guard case .unusedTensors(["model.layers.0.extra.weight"], _)? = error as? ModelError else { return XCTFail("\(error)") }
        }
        let misshapen = try folder { entries in
            let index = entries.firstIndex { $0.name == "model.layers.0.self_attn.k_proj.weight" }!
            entries[index].shape = [8, 4]  // same byte count, transposed
        }
        XCTAssertThrowsError(try ModelLoader.load(path: misshapen)) { error in
            guard case .shapeMismatch("model.layers.0.self_attn.k_proj.weight", [4, 8], [8, 4], _)? = error as? ModelError else { return XCTFail("\(error)") }
        }
    }

    func testImpossibleShapeIsAnErrorNotATrap() throws {
        let huge = try folder { entries in entries[0].shape = [1 << 40, 1 << 40] }
        XCTAssertThrowsError(try ModelLoader.load(path: huge)) { error in
            XCTAssertTrue("\(error)".contains("impossible shape"), "\(error)")
        }
    }

    func testUnsupportedDTypeAndTruncatedSafetensors() throws {
        let int64 = try folder { entries in
            entries[0].dtype = "I64"
            entries[0].data += entries[0].data  // I64 needs twice the bytes
        }
        XCTAssertThrowsError(try ModelLoader.load(path: int64)) { error in
            guard case .unsupportedDType(_, _, "I64")? = error as? ModelFormatError else { return XCTFail("\(error)") }
        }
        let truncated = try folder()
        let file = truncated + "/model.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        try data.prefix(data.count - 10).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try ModelLoader.load(path: truncated)) { error in
            guard case .truncated? = error as? ModelFormatError else { return XCTFail("\(error)") }
        }
    }

    func testUnsupportedQuantizationInGGUFNamesTheTensor() throws {
        var builder = GGUFBuilder()
        builder.metadata = [
            ("general.architecture", .string("llama")), ("llama.context_length", .u32(10)), ("llama.embedding_length", .u32(8)),
            ("llama.feed_forward_length", .u32(12)), ("llama.block_count", .u32(2)), ("llama.attention.head_count", .u32(2)),
            ("llama.attention.head_count_kv", .u32(1)),
        ]
        for spec in TensorNameTable.parameters(for: Self.configuration) {
            let values = Self.tensors()[spec.name]!.values
            builder.tensors.append(.init(name: spec.ggufName, ggmlDimensions: spec.shape.reversed(), type: 0, data: f32Bytes(values)))
        }
        let index = builder.tensors.firstIndex { $0.name == "blk.1.ffn_up.weight" }!
        builder.tensors[index].ggmlDimensions = [32, 3]  // 96 elements as 3 blocks of Q5_0 (22 bytes each)
        builder.tensors[index].type = 6
        builder.tensors[index].data = [UInt8](repeating: 0, count: 66)
        let path = try temporaryDirectory().appendingPathComponent("m.gguf").path
        try Data(builder.bytes()).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ModelLoader.load(path: path)) { error in
            // The shape is checked first: [3, 32] is not ffn_up's [12, 8].
            guard case .shapeMismatch("blk.1.ffn_up.weight", [12, 8], [3, 32], _)? = error as? ModelError else { return XCTFail("\(error)") }
        }
        builder.tensors[index].ggmlDimensions = [8, 12]
        builder.tensors[index].data = [UInt8](repeating: 0, count: 96 * 4)
        builder.tensors[index].type = 0
        let fine = try temporaryDirectory().appendingPathComponent("ok.gguf").path
        try Data(builder.bytes()).write(to: URL(fileURLWithPath: fine))
        XCTAssertNoThrow(try ModelLoader.load(path: fine))
    }

    func testBadRequestsAreRefusedWithoutChangingTheCache() throws {
        let model = try LlamaModel(configuration: Self.configuration, tensors: Self.tensors())
        let sequence = try model.makeSequence()
        _ = try model.forward([ForwardStep(sequence: sequence, tokens: [1, 2, 3])])
        XCTAssertThrowsError(try model.forward([ForwardStep(sequence: sequence, tokens: Array(repeating: 1, count: 8))])) { error in
            XCTAssertEqual(error as? ModelError, .contextOverflow(sequence: sequence, cached: 3, adding: 8, contextLength: 10))
            XCTAssertTrue("\(error)".contains("context length 10"))
        }
        XCTAssertThrowsError(try model.forward([ForwardStep(sequence: sequence, tokens: [16])])) { error in
            XCTAssertEqual(error as? ModelError, .tokenOutOfRange(token: 16, vocabularySize: 16, sequence: sequence))
        }
        XCTAssertThrowsError(try model.forward([ForwardStep(sequence: sequence, tokens: [1]), ForwardStep(sequence: sequence, tokens: [2])])) { error in
            XCTAssertEqual(error as? ModelError, .duplicateSequence(sequence))
        }
        XCTAssertThrowsError(try model.forward([ForwardStep(sequence: sequence, tokens: [])])) { error in
            XCTAssertEqual(error as? ModelError, .emptyStep(sequence))
        }
        let other = try model.makeSequence()
        model.releaseSequence(other)
        XCTAssertThrowsError(try model.forward([ForwardStep(sequence: sequence, tokens: [1]), ForwardStep(sequence: other, tokens: [1])])) { error in
            XCTAssertEqual(error as? ModelError, .unknownSequence(other))
        }
        XCTAssertThrowsError(try model.forkSequence(other))
        XCTAssertEqual(model.length(of: sequence), 3)
        // Exactly filling the context is allowed.
        _ = try model.forward([ForwardStep(sequence: sequence, tokens: Array(repeating: 1, count: 7))])
        XCTAssertEqual(model.length(of: sequence), 10)
    }

    func testBadConfigurationValues() throws {
        var config = Self.configJSON
        config["num_key_value_heads"] = 3
        XCTAssertThrowsError(try ModelLoader.load(path: try folder(config: config))) { error in
            XCTAssertTrue("\(error)".contains("not a multiple of the key/value head count 3"), "\(error)")
        }
        config = Self.configJSON
        config["num_hidden_layers"] = 1_000_000_000
        XCTAssertThrowsError(try ModelLoader.load(path: try folder(config: config))) { error in
            XCTAssertTrue("\(error)".contains("layer count 1000000000"), "\(error)")
        }
        config = Self.configJSON
        config["hidden_size"] = "eight"
        XCTAssertThrowsError(try ModelLoader.load(path: try folder(config: config))) { error in
            XCTAssertTrue("\(error)".contains("hidden_size"), "\(error)")
        }
        config = Self.configJSON
        config["rope_scaling"] = ["type": "yarn", "factor": 4.0]
        XCTAssertThrowsError(try ModelLoader.load(path: try folder(config: config))) { error in
            XCTAssertTrue("\(error)".contains("rope_scaling"), "\(error)")
        }
    }

    /// A checkpoint is opened once for the model and the tokenizer; a tokenizer with more tokens than the model has
    /// embeddings is refused, naming both counts (the SmolLM2 tokenizer, 49152 tokens, beside 16 embeddings).
    func testTokenizerLargerThanTheEmbeddingsIsRefused() throws {
        let path = try folder()
        let files = try GGUFFile(path: TestSupport.modelPath).huggingFaceTokenizerFiles()
        try files.tokenizerJSON.write(to: URL(fileURLWithPath: path).appendingPathComponent("tokenizer.json"))
        try files.tokenizerConfigJSON.write(to: URL(fileURLWithPath: path).appendingPathComponent("tokenizer_config.json"))
        let checkpoint = try ModelLoader.Checkpoint(path: path)
        XCTAssertEqual(checkpoint.name, URL(fileURLWithPath: path).lastPathComponent)
        XCTAssertEqual(try checkpoint.tokenizer().vocabularySize, 49152)
        XCTAssertEqual(try checkpoint.model(precision: .f32).configuration, Self.configuration)
        XCTAssertThrowsError(try checkpoint.modelAndTokenizer(precision: .f32)) { error in
            XCTAssertTrue("\(error)".contains("the tokenizer has 49152 tokens but the model only 16 embeddings"), "\(error)")
        }
    }

    func testGGUFCheckpointIsNamedAfterItsFile() throws {
        let checkpoint = try ModelLoader.Checkpoint(path: TestSupport.modelPath)
        guard case .gguf(let file) = checkpoint else { return XCTFail("\(checkpoint) is not a GGUF") }
        XCTAssertEqual(file.path, TestSupport.modelPath)
        XCTAssertEqual(checkpoint.name, "SmolLM2-135M-Instruct.Q4_1")
        XCTAssertEqual(try checkpoint.tokenizer().vocabularySize, 49152)
        XCTAssertThrowsError(try ModelLoader.Checkpoint(path: "/nonexistent/model.gguf")) { error in
            XCTAssertTrue("\(error)".contains("no such file or directory"), "\(error)")
        }
    }
}

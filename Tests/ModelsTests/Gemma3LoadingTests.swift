import Foundation
import XCTest
@testable import Models

/// A tiny Gemma 3 GGUF written here: it loads as `Gemma3Model`, and a missing key, a misshapen tensor or a weight
/// type torl cannot dequantize is an error naming the file and the key, tensor or type.
final class Gemma3LoadingTests: XCTestCase {
    static func metadata(hidden: Int) -> [(String, GGUFBuilder.Value)] { [
        ("general.architecture", .string("gemma3")), ("gemma3.embedding_length", .u32(UInt32(hidden))),
        ("gemma3.block_count", .u32(2)), ("gemma3.feed_forward_length", .u32(12)),
        ("gemma3.attention.head_count", .u32(2)), ("gemma3.attention.head_count_kv", .u32(1)),
        ("gemma3.attention.key_length", .u32(4)), ("gemma3.context_length", .u32(16)),
        ("gemma3.rope.freq_base", .f32(1_000_000)), ("gemma3.attention.sliding_window", .u32(4)),
        ("gemma3.attention.layer_norm_rms_epsilon", .f32(1e-6)),
    ] }

    /// Every tensor of the configuration above as F32, in GGUF names and ggml dimension order; `edit` may change
    /// the metadata or the tensors before the file is written.
    func file(hidden: Int = 8, edit: (inout GGUFBuilder) -> Void = { _ in }) throws -> String {
        var builder = GGUFBuilder(metadata: Self.metadata(hidden: hidden))
        let configuration = ModelConfiguration(
            architecture: .gemma3, vocabularySize: 16, hiddenSize: hidden, intermediateSize: 12, layerCount: 2, headCount: 2,
            keyValueHeadCount: 1, headDimension: 4, contextLength: 16, ropeTheta: 1e6, ropePairing: .halves,
            rmsNormEpsilon: 1e-6, tiedEmbeddings: true, attentionBias: false)
        for (index, spec) in TensorNameTable.parameters(for: configuration).enumerated() {
            let count = spec.shape.reduce(1, *)
            let values = (0..<count).map { Float(sin(Double($0 * 5 + index))) * 0.5 }
            builder.tensors.append(.init(name: spec.ggufName, ggmlDimensions: spec.shape.reversed(), type: 0, data: f32Bytes(values)))
        }
        edit(&builder)
        let url = try temporaryDirectory().appendingPathComponent("tiny-gemma3.gguf")
        try Data(builder.bytes()).write(to: url)
        return url.path
    }

    func testTinyGemmaLoadsAndRuns() throws {
        let path = try file()
        let model = try XCTUnwrap(ModelLoader.load(path: path) as? Gemma3Model)
        XCTAssertEqual(model.configuration.slidingWindow, 4)
        XCTAssertEqual(model.configuration.slidingWindowPattern, 6)
        XCTAssertEqual(model.configuration.localRopeTheta, 10_000)
        let sequence = try model.makeSequence()
        let logits = try model.forward([ForwardStep(sequence: sequence, tokens: [1, 2, 3, 4, 5, 6], logitsForAllTokens: true)])
        XCTAssertEqual(logits.values.count, 6 * 16)
        XCTAssertTrue(logits.values.allSatisfy(\.isFinite))
    }

    func testMissingSlidingWindowKeyNamesFileAndKey() throws {
        let path = try file { $0.metadata.removeAll { $0.0 == "gemma3.attention.sliding_window" } }
        XCTAssertThrowsError(try ModelLoader.load(path: path)) { error in
            XCTAssertEqual(error as? ModelFormatError, .missingMetadata(path: path, key: "gemma3.attention.sliding_window"))
            XCTAssertTrue("\(error)".contains(path) && "\(error)".contains("gemma3.attention.sliding_window"), "\(error)")
        }
    }

    /// The SentencePiece keys a Gemma file's tokenizer needs: without any one of them, building the tokenizer (the
    /// first thing a model load does) is an error naming the file and the key.
    func testMissingTokenizerKeysNameFileAndKey() throws {
        let tokenizer: [(String, GGUFBuilder.Value)] = [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .strings(["<pad>", "<eos>", "<bos>", "<unk>"] + (4..<16).map { "t\($0)" })),
            ("tokenizer.ggml.scores", .floats((0..<16).map { -Float($0) })),
            ("tokenizer.ggml.token_type", .ints([3, 3, 3, 2] + Array(repeating: 1, count: 12))),
            ("tokenizer.ggml.bos_token_id", .u32(2)),
        ]
        let complete = try file { $0.metadata += tokenizer }
        XCTAssertEqual(try GGUFFile(path: complete).makeAnyTokenizer().vocabularySize, 16)
        for key in ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"] {
            let path = try file { $0.metadata += tokenizer.filter { $0.0 != key } }
            XCTAssertThrowsError(try GGUFFile(path: path).makeAnyTokenizer(), key) { error in
                XCTAssertEqual(error as? ModelFormatError, .missingMetadata(path: path, key: key))
                XCTAssertTrue("\(error)".contains(path) && "\(error)".contains(key), "\(error)")
            }
        }
    }

    func testUnknownArchitectureNamesFileAndKey() throws {
        let path = try file { builder in
            builder.metadata = builder.metadata.map { $0.0 == "general.architecture" ? ($0.0, .string("gemma4")) : $0 }
        }
        XCTAssertThrowsError(try ModelLoader.load(path: path)) { error in
            XCTAssertEqual(error as? ModelError, .unknownArchitecture("gemma4", key: "general.architecture", source: path))
            XCTAssertTrue("\(error)".contains(path) && "\(error)".contains("general.architecture"), "\(error)")
        }
    }

    func testMisshapenTensorNamesFileAndTensor() throws {
        let path = try file { builder in
            let index = builder.tensors.firstIndex { $0.name == "blk.1.attn_k_norm.weight" }!
            builder.tensors[index] = .init(name: "blk.1.attn_k_norm.weight", ggmlDimensions: [8], type: 0, data: f32Bytes(Array(repeating: 1, count: 8)))
        }
        XCTAssertThrowsError(try ModelLoader.load(path: path)) { error in
            XCTAssertEqual(error as? ModelError, .shapeMismatch(tensor: "blk.1.attn_k_norm.weight", expected: [4], found: [8], source: path))
        }
    }

    func testMissingPostNormNamesIt() throws {
        let path = try file { $0.tensors.removeAll { $0.name == "blk.0.post_ffw_norm.weight" } }
        XCTAssertThrowsError(try ModelLoader.load(path: path)) { error in
            XCTAssertEqual(error as? ModelError, .missingTensors(["blk.0.post_ffw_norm.weight"], source: path))
        }
    }

    /// Q8_K has a known block layout but no dequantizer; IQ4_XS has neither: both errors name file, tensor and
    /// type. (Width 256, so that q_proj's rows are one 256-element block.)
    func testUndequantizableTypesNameTensorAndType() throws {
        for (type, name, blockBytes) in [(UInt32(15), "Q8_K", 292), (UInt32(23), "IQ4_XS", 136)] {
            let path = try file(hidden: 256) { builder in
                let index = builder.tensors.firstIndex { $0.name == "blk.0.attn_q.weight" }!
                builder.tensors[index] = .init(name: "blk.0.attn_q.weight", ggmlDimensions: [256, 8], type: type,
                                               data: [UInt8](repeating: 0, count: 8 * blockBytes))
            }
            XCTAssertThrowsError(try ModelLoader.load(path: path)) { error in
                XCTAssertEqual(error as? ModelFormatError, .unsupportedDType(path: path, tensor: "blk.0.attn_q.weight", dtype: name))
            }
        }
    }
}

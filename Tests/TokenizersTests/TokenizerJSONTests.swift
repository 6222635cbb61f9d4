import Foundation
import XCTest
@testable import Tokenizers

final class TokenizerJSONTests: XCTestCase {
    private let vocabulary = TinyVocabulary(merges: [("a", "b"), ("ab", "c"), (TinyVocabulary.spell(" "), "x")])

    private static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    private func document(
        mergesAsPairs: Bool = false,
        preTokenizer: Any = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
        normalizer: Any = NSNull(),
        model: [String: Any] = [:]
    ) -> [String: Any] {
        var vocab: [String: Int] = [:]
        for (id, text) in vocabulary.tokens.enumerated() { vocab[text] = id }
        let merges: [Any] = vocabulary.merges.map { mergesAsPairs ? [$0.0, $0.1] as Any : "\($0.0) \($0.1)" as Any }
        let base = vocabulary.tokens.count
        var modelFields: [String: Any] = ["type": "BPE", "dropout": NSNull(), "vocab": vocab, "merges": merges]
        modelFields.merge(model) { $1 }
        return [
            "added_tokens": [
                ["id": base, "content": "<|im_start|>", "special": true, "lstrip": false, "rstrip": false],
                ["id": base + 1, "content": "<|im_end|>", "special": true],
                ["id": base + 2, "content": "<tool_call>", "special": false],
            ],
            "normalizer": normalizer,
            "pre_tokenizer": preTokenizer,
            "decoder": ["type": "ByteLevel"],
            "model": modelFields,
        ]
    }

    private func load(_ tokenizer: [String: Any], config: [String: Any]? = nil) throws -> BPETokenizer {
        try BPETokenizer(
            tokenizerJSON: JSONSerialization.data(withJSONObject: tokenizer),
            tokenizerConfigJSON: config.map { try JSONSerialization.data(withJSONObject: $0) })
    }

    func testVocabularyMergesAndAddedTokens() throws {
        let tokenizer = try load(document())
        let base = Int32(vocabulary.tokens.count)
        XCTAssertEqual(tokenizer.vocabularySize, Int(base) + 3)
        XCTAssertEqual(tokenizer.preTokenizer.steps, [.gpt2])
        XCTAssertEqual(tokenizer.encode("abc x", parseSpecial: false), [vocabulary.id("abc"), vocabulary.id("Ġx")])
        XCTAssertEqual(tokenizer.encode("<|im_start|>ab<tool_call>", parseSpecial: true), [base, vocabulary.id("ab"), base + 2])
        XCTAssertEqual(tokenizer.encode("<tool_call>", parseSpecial: false), [base + 2])
        XCTAssertEqual(tokenizer.endOfSequenceIDs, [base + 1])
    }

    func testMergePairArraysEqualMergeStrings() throws {
        let strings = try load(document(mergesAsPairs: false))
        let pairs = try load(document(mergesAsPairs: true))
        let text = "abcabc xab ab c"
        XCTAssertEqual(strings.encode(text, parseSpecial: false), pairs.encode(text, parseSpecial: false))
        XCTAssertEqual(pairs.encode(text, parseSpecial: false).first, vocabulary.id("abc"))
    }

    func testKnownPreTokenizerConfigurations() throws {
        let smolLM: [String: Any] = ["type": "Sequence", "pretokenizers": [
            ["type": "Digits", "individual_digits": true],
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
        ]]
        XCTAssertEqual(try load(document(preTokenizer: smolLM)).preTokenizer.steps, PreTokenizer.smolLM.steps)
        let qwen2: [String: Any] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": Self.qwen2Pattern], "behavior": "Isolated", "invert": false],
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false],
        ]]
        let tokenizer = try load(document(preTokenizer: qwen2, normalizer: ["type": "NFC"]))
        XCTAssertEqual(tokenizer.preTokenizer.steps, [.wordsAndNumbers(maxDigits: 1, contractions: .unicodeSimpleFolding)])
        XCTAssertEqual(tokenizer.normalization, .nfc)
        // NFC: a decomposed "é" is encoded as the composed character's two bytes.
        XCTAssertEqual(tokenizer.encode("e\u{301}", parseSpecial: false), [0xC3, 0xA9])
    }

    func testUnknownComponentsAreNamedErrors() throws {
        let unknownRegex: [String: Any] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": "\\w+|[^\\w\\s]+"], "behavior": "Isolated"],
            ["type": "ByteLevel", "use_regex": false],
        ]]
        XCTAssertThrowsError(try load(document(preTokenizer: unknownRegex))) { error in
            XCTAssertEqual(error as? TokenizerError, .unknownPreTokenizer("Split regex \"\\w+|[^\\w\\s]+\""))
        }
        XCTAssertThrowsError(try load(document(preTokenizer: ["type": "Metaspace", "replacement": "▁"]))) { error in
            XCTAssertEqual(error as? TokenizerError, .unknownPreTokenizer("component \"Metaspace\""))
        }
        XCTAssertThrowsError(try load(document(preTokenizer: ["type": "ByteLevel", "add_prefix_space": true]))) { error in
            XCTAssertEqual(error as? TokenizerError, .unsupportedOption("ByteLevel pre-tokenizer with add_prefix_space = true"))
        }
        XCTAssertThrowsError(try load(document(model: ["type": "WordPiece"]))) { error in
            XCTAssertEqual(error as? TokenizerError, .unsupportedModel("WordPiece"))
        }
        XCTAssertThrowsError(try load(document(normalizer: ["type": "NFKC"]))) { error in
            XCTAssertTrue("\(error)".contains("NFKC"), "\(error)")
        }
        XCTAssertThrowsError(try BPETokenizer(tokenizerJSON: Data("{\"model\": ".utf8), tokenizerConfigJSON: nil)) { error in
            XCTAssertTrue("\(error)".contains("tokenizer.json is not valid JSON"), "\(error)")
        }
    }

    func testTokenizerConfig() throws {
        let template = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        let config: [String: Any] = [
            "bos_token": ["content": "<|im_start|>", "lstrip": false],
            "eos_token": "<tool_call>",
            "add_bos_token": true,
            "chat_template": [["name": "tool_use", "template": "x"], ["name": "default", "template": template]],
        ]
        let tokenizer = try load(document(), config: config)
        let base = Int32(vocabulary.tokens.count)
        XCTAssertEqual(tokenizer.beginOfSequenceID, base)
        XCTAssertTrue(tokenizer.addsBeginOfSequence)
        XCTAssertEqual(tokenizer.endOfSequenceIDs, [base + 1, base + 2])
        XCTAssertEqual(tokenizer.chatTemplateText, template)
        XCTAssertEqual(try tokenizer.chatTemplate(), .chatML(defaultSystemPrompt: nil))
        XCTAssertThrowsError(try load(document(), config: ["eos_token": "<nope>"])) { error in
            XCTAssertTrue("\(error)".contains("<nope>"), "\(error)")
        }
    }

    /// Llama 3 files say "add BOS" only through a TemplateProcessing post-processor.
    func testPostProcessorDeclaresBOS() throws {
        var tokenizerFile = document()
        tokenizerFile["post_processor"] = ["type": "Sequence", "processors": [
            ["type": "ByteLevel"],
            ["type": "TemplateProcessing", "single": [["SpecialToken": ["id": "<|im_start|>", "type_id": 0]],
                                                      ["Sequence": ["id": "A", "type_id": 0]]]],
        ]]
        let base = Int32(vocabulary.tokens.count)
        XCTAssertTrue(try load(tokenizerFile, config: ["bos_token": "<|im_start|>"]).addsBeginOfSequence)
        XCTAssertFalse(try load(tokenizerFile, config: ["bos_token": "<|im_start|>", "add_bos_token": false]).addsBeginOfSequence)
        XCTAssertFalse(try load(tokenizerFile, config: ["bos_token": "<|im_end|>"]).addsBeginOfSequence)
        let withoutConfig = try load(tokenizerFile)
        XCTAssertTrue(withoutConfig.addsBeginOfSequence)
        XCTAssertEqual(withoutConfig.beginOfSequenceID, base)
        XCTAssertFalse(try load(document()).addsBeginOfSequence)
        XCTAssertNil(try load(document()).beginOfSequenceID)
    }

    func testFolderLoading() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("torl-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertThrowsError(try BPETokenizer(huggingFaceFolder: folder.path)) { error in
            XCTAssertTrue("\(error)".contains("tokenizer.json"), "\(error)")
        }
        try JSONSerialization.data(withJSONObject: document()).write(to: folder.appendingPathComponent("tokenizer.json"))
        let tokenizer = try BPETokenizer(huggingFaceFolder: folder.path)
        XCTAssertNil(tokenizer.chatTemplateText)
        XCTAssertThrowsError(try tokenizer.chatTemplate()) { XCTAssertEqual($0 as? ChatTemplateError, .missing) }
    }
}

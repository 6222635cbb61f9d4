import Foundation
import XCTest
@testable import Models
@testable import Tokenizers

/// The SentencePiece tokenizer of Gemma 3 270M against llama.cpp's ids on a corpus of texts (LaTeX, Python,
/// digits, CJK, emoji, combining marks, runs of spaces and newlines, special-token spellings): the same ids,
/// and decoding them gives the text back byte for byte. Tests/Fixtures/gemma3_tokenizer_corpus.json says how the
/// ids were made (scripts/make_gemma3_tokenizer_corpus.py).
final class Gemma3TokenizerTests: XCTestCase {
    private struct Corpus: Decodable {
        struct Case: Decodable {
            let text: String
            let ids: [Int32]
        }
        let cases: [Case]
    }

    private static var gemmaPath: String {
        ProcessInfo.processInfo.environment["TORL_GEMMA_MODEL"]
            ?? TestSupport.packageRoot.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
    }

    private func tokenizer() throws -> SentencePieceTokenizer {
        let path = Self.gemmaPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("Gemma 3 270M is not at \(path) (set TORL_GEMMA_MODEL or run `make setup GEMMA=1`)")
        }
        return try GGUFFile(path: path).makeSentencePieceTokenizer()
    }

    func testIdsEqualLlamaCppOnTheCorpusAndDecodeToTheText() throws {
        try checkCorpus(try tokenizer())
    }

    /// The Hugging Face files written from the GGUF's vocabulary (tokenizer.json in GemmaConverter's form) read
    /// back as a SentencePiece tokenizer with the same ids on the whole corpus; the files carry BOS, EOS and the
    /// special and user-defined tokens.
    func testHuggingFaceFilesReadBackWithTheSameIds() throws {
        _ = try tokenizer()
        let files = try GGUFFile(path: Self.gemmaPath).huggingFaceTokenizerFiles()
        let folder = try temporaryDirectory()
        try files.tokenizerJSON.write(to: folder.appendingPathComponent("tokenizer.json"))
        try files.tokenizerConfigJSON.write(to: folder.appendingPathComponent("tokenizer_config.json"))
        let loaded = try XCTUnwrap(try HuggingFaceTokenizer.load(folder: folder.path) as? SentencePieceTokenizer)
        XCTAssertEqual(loaded.vocabularySize, 262_144)
        XCTAssertEqual(loaded.beginOfSequenceID, 2)
        XCTAssertTrue(loaded.addsBeginOfSequence)
        XCTAssertFalse(loaded.addsSpacePrefix)
        XCTAssertTrue(loaded.endOfSequenceIDs.contains(1))
        XCTAssertEqual(loaded.specialTokenID("<start_of_turn>"), try tokenizer().specialTokenID("<start_of_turn>"))
        try checkCorpus(loaded)
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: files.tokenizerConfigJSON) as? [String: Any])
        XCTAssertEqual(config["bos_token"] as? String, "<bos>")
        XCTAssertEqual(config["eos_token"] as? String, "<eos>")
    }

    private func checkCorpus(_ tokenizer: SentencePieceTokenizer, file: StaticString = #filePath, line: UInt = #line) throws {
        let data = try Data(contentsOf: TestSupport.fixture("gemma3_tokenizer_corpus.json"))
        let corpus = try JSONDecoder().decode(Corpus.self, from: data)
        XCTAssertGreaterThanOrEqual(corpus.cases.count, 200)
        var mismatches = 0
        for item in corpus.cases {
            // llama.cpp added the BOS the file asks for; the tokenizer itself never does. llama-tokenize parses
            // special tokens written in the text.
            XCTAssertEqual(item.ids.first, tokenizer.beginOfSequenceID)
            let expected = Array(item.ids.dropFirst())
            let ids = tokenizer.encode(item.text, parseSpecial: true)
            if ids != expected {
                mismatches += 1
                XCTFail("\(item.text.debugDescription): \(ids) != llama.cpp \(expected)")
            }
            // "▁" written in the text is the escape of a space itself: it decodes as a space, as in llama.cpp.
            let written = item.text.replacingOccurrences(of: "\u{2581}", with: " ")
            XCTAssertTrue(tokenizer.decode(ids).utf8.elementsEqual(written.utf8), "round trip of \(item.text.debugDescription)")
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testMetadataAndSpecialTokens() throws {
        let tokenizer = try tokenizer()
        XCTAssertEqual(tokenizer.vocabularySize, 262_144)
        XCTAssertEqual(tokenizer.beginOfSequenceID, 2)
        XCTAssertTrue(tokenizer.addsBeginOfSequence)
        XCTAssertFalse(tokenizer.addsSpacePrefix)
        XCTAssertTrue(tokenizer.endOfSequenceIDs.contains(1))
        let endOfTurn = try XCTUnwrap(tokenizer.specialTokenID("<end_of_turn>"))
        XCTAssertTrue(tokenizer.endOfSequenceIDs.contains(endOfTurn), "<end_of_turn> ends a generation")
        let start = try XCTUnwrap(tokenizer.specialTokenID("<start_of_turn>"))
        // Control tokens only where the caller parses special tokens; otherwise their spelling is text.
        XCTAssertEqual(tokenizer.encode("<start_of_turn>user", parseSpecial: true).first, start)
        XCTAssertFalse(tokenizer.encode("<start_of_turn>user", parseSpecial: false).contains(start))
        // A byte with no piece of its own falls back to its <0xNN> token.
        let control = tokenizer.encode("\u{01}", parseSpecial: false)
        XCTAssertEqual(control.count, 1)
        XCTAssertEqual(tokenizer.bytes(of: control[0]), [0x01])
    }

    func testBadVocabulariesAreClearErrors() {
        func make(_ tokens: [String], kinds: [SentencePieceConfiguration.TokenKind], scores: [Float]? = nil,
                  bos: Int32? = 0) -> Error? {
            do {
                _ = try SentencePieceTokenizer(configuration: SentencePieceConfiguration(
                    tokens: tokens, scores: scores ?? tokens.map { _ in 0 }, kinds: kinds, beginOfSequenceID: bos,
                    addsBeginOfSequence: true, addsSpacePrefix: false, declaredEndOfSequenceIDs: []))
                return nil
            } catch { return error }
        }
        XCTAssertNil(make(["<s>", "a"], kinds: [.control, .normal]))
        XCTAssertNotNil(make(["<s>", "a"], kinds: [.control, .normal], scores: [0]))
        XCTAssertNotNil(make(["<s>", "<0xZZ>"], kinds: [.control, .byte]))
        XCTAssertNotNil(make(["<s>", "a"], kinds: [.control, .normal], bos: 7))
        XCTAssertNotNil(make(["<s>", "a"], kinds: [.control, .normal], bos: nil))
    }

    /// Merges go highest score first, leftmost among equals, and only through vocabulary entries.
    func testMergeOrderFollowsScores() throws {
        let tokens = ["<s>", "a", "b", "c", "ab", "bc", "abc", "▁", "▁a"]
        let scores: [Float] = [0, -1, -1, -1, -5, -2, -3, -1, -0.5]
        let tokenizer = try SentencePieceTokenizer(configuration: SentencePieceConfiguration(
            tokens: tokens, scores: scores, kinds: [.control] + Array(repeating: .normal, count: 8),
            beginOfSequenceID: 0, addsBeginOfSequence: true, addsSpacePrefix: true, declaredEndOfSequenceIDs: []))
        // "▁abc" (the space prefix first): ▁a (−0.5) merges first, then bc (−2) beats ab (−5, and stale once a
        // is taken); ▁a + bc is no entry.
        XCTAssertEqual(tokenizer.encode("abc", parseSpecial: false), [8, 5])
        XCTAssertEqual(tokenizer.encode("abc", parseSpecial: false).map { tokens[Int($0)] }.joined(), "▁abc")
        // " a" with the prefix: "▁▁a": ▁a (−0.5) merges the second pair, then ▁ + ▁a is no entry.
        XCTAssertEqual(tokenizer.encode(" a", parseSpecial: false), [7, 8])
        XCTAssertEqual(tokenizer.decode([7, 8]), "  a")
    }
}

import XCTest
@testable import Tokenizers

/// Splits worked out by hand from the regular expressions (see PieceMatchers); the Python reference in
/// ModelsTests/TokenizerOracleTests checks the same matchers on random text with a regex engine.
final class PreTokenizerTests: XCTestCase {
    private func pieces(_ text: String, _ preTokenizer: PreTokenizer) throws -> [String] {
        let tokenizer = try TinyVocabulary(merges: [], preTokenizer: preTokenizer).make()
        return tokenizer.preTokenize(text)
    }

    private static let hfQwen2 = PreTokenizer(
        name: "qwen2 (tokenizer.json)", steps: [.wordsAndNumbers(maxDigits: 1, contractions: .unicodeSimpleFolding)])

    func testGPT2() throws {
        XCTAssertEqual(try pieces("Hello world! 123", .gpt2), ["Hello", " world", "!", " 123"])
        XCTAssertEqual(try pieces("  multiple   spaces", .gpt2), [" ", " multiple", "  ", " spaces"])
        XCTAssertEqual(try pieces("I'm he's 'LL", .gpt2), ["I", "'m", " he", "'s", " '", "LL"])
        XCTAssertEqual(try pieces("a\n\nb  ", .gpt2), ["a", "\n", "\n", "b", "  "])
        XCTAssertEqual(try pieces("x ... (y)", .gpt2), ["x", " ...", " (", "y", ")"])
    }

    /// Exact Unicode categories: ² is No, Ⅻ is Nl, U+0301 is Mn (neither letter nor number), U+3000 is White_Space.
    func testUnicodeCategories() throws {
        XCTAssertEqual(try pieces("x² Ⅻ", .gpt2), ["x", "²", " Ⅻ"])
        XCTAssertEqual(try pieces("e\u{301}t", .gpt2), ["e", "\u{301}", "t"])
        XCTAssertEqual(try pieces("日本語\u{3000}テキスト", .gpt2), ["日本語", "\u{3000}", "テキスト"])
        XCTAssertEqual(try pieces("مرحبا بالعالم", .gpt2), ["مرحبا", " بالعالم"])
    }

    func testSmolLMIsolatesEveryNumberScalar() throws {
        XCTAssertEqual(try pieces("What is 12*13?", .smolLM), ["What", " is", " ", "1", "2", "*", "1", "3", "?"])
        XCTAssertEqual(try pieces("x٣²y", .smolLM), ["x", "٣", "²", "y"])
    }

    func testLlama3() throws {
        XCTAssertEqual(try pieces("12345 abc'S\r\n\n  x", .llama3), ["123", "45", " abc", "'S", "\r\n\n", " ", " x"])
        XCTAssertEqual(try pieces("(hello) ...\n\nok", .llama3), ["(hello", ")", " ...\n\n", "ok"])
        XCTAssertEqual(try pieces("\tword \u{3000}x", .llama3), ["\tword", " ", "\u{3000}x"])
    }

    func testQwen2SplitsDigitsOneByOne() throws {
        XCTAssertEqual(try pieces("2024年 is 12.5%", .qwen2), ["2", "0", "2", "4", "年", " is", " ", "1", "2", ".", "5", "%"])
    }

    /// Hugging Face's `(?i:'s|...)` matches U+017F LONG S as "s"; llama.cpp's `'[sS]` does not.
    func testContractionCaseFolding() throws {
        XCTAssertEqual(try pieces("'ſa", Self.hfQwen2), ["'ſ", "a"])
        XCTAssertEqual(try pieces("'ſa", .qwen2), ["'ſa"])
        XCTAssertEqual(try pieces("'Ve'LL", Self.hfQwen2), ["'Ve", "'LL"])
    }

    func testPiecesCoverTheText() throws {
        let text = "Mixed: 3 cats' toys,\t\t\"quoted\"  \r\n\r\n😀👩‍👩‍👧 end   "
        for preTokenizer in [PreTokenizer.gpt2, .smolLM, .llama3, .qwen2] {
            XCTAssertEqual(try pieces(text, preTokenizer).joined(), text, preTokenizer.name)
        }
    }

    func testLlamaCppNames() throws {
        XCTAssertEqual(try PreTokenizer(llamaCppName: "smollm"), .smolLM)
        XCTAssertEqual(try PreTokenizer(llamaCppName: "llama-bpe"), .llama3)
        XCTAssertEqual(try PreTokenizer(llamaCppName: "qwen2"), .qwen2)
        XCTAssertEqual(try PreTokenizer(llamaCppName: "gpt-2"), .gpt2)
        XCTAssertThrowsError(try PreTokenizer(llamaCppName: "tekken")) { error in
            XCTAssertTrue("\(error)".contains("\"tekken\""), "\(error)")
        }
    }
}

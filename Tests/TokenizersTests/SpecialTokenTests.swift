import XCTest
@testable import Tokenizers

final class SpecialTokenTests: XCTestCase {
    private let vocabulary = TinyVocabulary(
        merges: [("<", "|")], control: ["<|im_start|>", "<|im_end|>", "<|im_start|>x"], userDefined: ["<tool>"])

    func testControlTokensAreParsedOnlyWhenAsked() throws {
        let tokenizer = try vocabulary.make()
        let start = vocabulary.id("<|im_start|>"), end = vocabulary.id("<|im_end|>")
        let text = "<|im_start|>user\nhi<|im_end|>"
        XCTAssertEqual(tokenizer.encode(text, parseSpecial: true).first, start)
        XCTAssertEqual(tokenizer.encode(text, parseSpecial: true).last, end)
        let plain = tokenizer.encode(text, parseSpecial: false)
        XCTAssertFalse(plain.contains(start) || plain.contains(end))
        XCTAssertEqual(plain.prefix(2), [vocabulary.id("<|"), 0x69])  // "<|" then "i"
        XCTAssertEqual(tokenizer.decode(plain), text)
        XCTAssertEqual(tokenizer.decode(tokenizer.encode(text, parseSpecial: true)), text)
    }

    func testLongestSpecialTokenWinsAtOnePosition() throws {
        let tokenizer = try vocabulary.make()
        XCTAssertEqual(tokenizer.encode("<|im_start|>xy", parseSpecial: true), [vocabulary.id("<|im_start|>x"), 0x79])
    }

    func testUserDefinedTokensAreAlwaysParsed() throws {
        let tokenizer = try vocabulary.make()
        let tool = vocabulary.id("<tool>")
        XCTAssertEqual(tokenizer.encode("a<tool>b", parseSpecial: false), [0x61, tool, 0x62])
        XCTAssertEqual(tokenizer.specialTokenID("<tool>"), tool)
        XCTAssertEqual(tokenizer.specialTokenID("<|im_end|>"), vocabulary.id("<|im_end|>"))
        XCTAssertNil(tokenizer.specialTokenID("ab"))
    }

    func testEndOfTurnTokensEndGeneration() throws {
        let tokenizer = try vocabulary.make()
        XCTAssertEqual(tokenizer.endOfSequenceIDs, [vocabulary.id("<|im_end|>")])
    }

    /// Streaming: joining `bytes(of:)` and cutting at UTF-8 boundaries gives the text back exactly, whatever
    /// tokens split multi-byte characters.
    func testBytesOfTokensReassembleText() throws {
        let tokenizer = try vocabulary.make()
        let text = "a😀é<|im_end|>日本"
        let ids = tokenizer.encode(text, parseSpecial: true)
        var pending: [UInt8] = []
        var streamed = ""
        for id in ids {
            pending += tokenizer.bytes(of: id)
            // Emit the longest prefix that is complete UTF-8.
            var cut = pending.count
            while cut > 0, String(validating: pending[..<cut], as: UTF8.self) == nil { cut -= 1 }
            streamed += String(decoding: pending[..<cut], as: UTF8.self)
            pending.removeFirst(cut)
        }
        XCTAssertTrue(pending.isEmpty)
        XCTAssertEqual(streamed, text)
        XCTAssertEqual(tokenizer.bytes(of: vocabulary.id("<|im_end|>")), Array("<|im_end|>".utf8))
    }

    func testDecodingCutCharactersAndInvalidIDs() throws {
        let tokenizer = try vocabulary.make()
        let ids = tokenizer.encode("😀", parseSpecial: false)
        XCTAssertEqual(ids.count, 4)
        XCTAssertEqual(tokenizer.decode(Array(ids.prefix(2))), "\u{FFFD}")
        XCTAssertEqual(tokenizer.decode([0x61, -1, 1_000_000, 0x62]), "ab")
        XCTAssertEqual(tokenizer.bytes(of: -5), [])
    }
}

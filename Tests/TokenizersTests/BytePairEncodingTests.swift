import XCTest
@testable import Tokenizers

final class BytePairEncodingTests: XCTestCase {
    func testSingleBytesWithoutMerges() throws {
        let tokenizer = try TinyVocabulary(merges: []).make()
        XCTAssertEqual(tokenizer.encode("ab c", parseSpecial: false), [0x61, 0x62, 0x20, 0x63])
        // "é" is two bytes, each its own token.
        XCTAssertEqual(tokenizer.encode("é", parseSpecial: false), [0xC3, 0xA9])
    }

    func testLowerRankMergesFirst() throws {
        let bcFirst = TinyVocabulary(merges: [("b", "c"), ("a", "b")])
        XCTAssertEqual(try bcFirst.make().encode("abc", parseSpecial: false), [0x61, bcFirst.id("bc")])
        let abFirst = TinyVocabulary(merges: [("a", "b"), ("b", "c")])
        XCTAssertEqual(try abFirst.make().encode("abc", parseSpecial: false), [abFirst.id("ab"), 0x63])
    }

    func testEqualPairsMergeLeftmostFirst() throws {
        let vocabulary = TinyVocabulary(merges: [("a", "a")])
        let tokenizer = try vocabulary.make()
        XCTAssertEqual(tokenizer.encode("aaa", parseSpecial: false), [vocabulary.id("aa"), 0x61])
        XCTAssertEqual(tokenizer.encode("aaaa", parseSpecial: false), [vocabulary.id("aa"), vocabulary.id("aa")])
    }

    /// A 100k-byte piece: merging stays leftmost-first and linear-logarithmic (no quadratic rescans).
    func testLongPieces() throws {
        let vocabulary = TinyVocabulary(merges: [("a", "a"), ("aa", "aa")])
        let tokenizer = try vocabulary.make()
        let text = String(repeating: "a", count: 100_001)
        let ids = tokenizer.encode(text, parseSpecial: false)
        XCTAssertEqual(ids, Array(repeating: vocabulary.id("aaaa"), count: 25_000) + [0x61])
        XCTAssertEqual(tokenizer.decode(ids), text)
        let spaces = String(repeating: " ", count: 50_000) + "x"
        XCTAssertEqual(tokenizer.decode(tokenizer.encode(spaces, parseSpecial: false)), spaces)
    }

    func testMergesBuildWordsAcrossLevels() throws {
        let space = TinyVocabulary.spell(" ")
        let vocabulary = TinyVocabulary(merges: [
            ("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), (space, "w"), ("o", "r"), (space + "w", "or"),
        ])
        let tokenizer = try vocabulary.make()
        XCTAssertEqual(tokenizer.encode("hello world", parseSpecial: false),
                       [vocabulary.id("hello"), vocabulary.id(space + "wor"), 0x6C, 0x64])
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("hello world", parseSpecial: false)), "hello world")
    }

    /// Merges never cross pre-tokenizer pieces: GPT-2 cuts "a!b" into "a", "!", "b".
    func testMergesStayInsidePieces() throws {
        var vocabulary = TinyVocabulary(merges: [("a", "!"), ("!", "b")])
        XCTAssertEqual(try vocabulary.make().encode("a!b", parseSpecial: false), [0x61, 0x21, 0x62])
        vocabulary.preTokenizer = PreTokenizer(name: "whole text", steps: [])
        XCTAssertEqual(try vocabulary.make().encode("a!b", parseSpecial: false), [vocabulary.id("a!"), 0x62])
    }

    func testIgnoreMergesTakesWholeVocabularyWords() throws {
        // "abc" is in the vocabulary but no merge rule builds it.
        var vocabulary = TinyVocabulary(merges: [("a", "b")], extraTokens: ["abc"])
        XCTAssertEqual(try vocabulary.make().encode("abc", parseSpecial: false), [vocabulary.id("ab"), 0x63])
        vocabulary.ignoresMerges = true
        let tokenizer = try vocabulary.make()
        XCTAssertEqual(tokenizer.encode("abc", parseSpecial: false), [vocabulary.id("abc")])
        XCTAssertEqual(tokenizer.encode("abcb", parseSpecial: false), [vocabulary.id("ab"), 0x63, 0x62])
    }

    func testBytesWithoutTokensAreDroppedAndBlockMerges() throws {
        let vocabulary = TinyVocabulary(merges: [("a", "b")])
        var tokens: [String?] = vocabulary.tokens
        tokens[0x04] = nil  // the vocabulary cannot spell byte 0x04, like SmolLM2's
        let wholeText = PreTokenizer(name: "whole text", steps: [])
        let tokenizer = try BPETokenizer(configuration: BPETokenizerConfiguration(
            tokens: tokens, kinds: Array(repeating: .normal, count: tokens.count), merges: vocabulary.merges,
            preTokenizer: wholeText))
        XCTAssertEqual(tokenizer.unencodableBytes, [0x04])
        XCTAssertEqual(tokenizer.encode("ab", parseSpecial: false), [vocabulary.id("ab")])
        // llama.cpp keeps the byte as a symbol no rule mentions, so "a" and "b" do not merge across it.
        XCTAssertEqual(tokenizer.encode("a\u{4}b", parseSpecial: false), [0x61, 0x62])
        XCTAssertEqual(tokenizer.encode("\u{4}\u{4}", parseSpecial: false), [])
        XCTAssertEqual(tokenizer.bytes(of: 0x04), [])
    }

    func testMergeNamingAnUnknownTokenIsAnError() throws {
        var vocabulary = TinyVocabulary(merges: [("a", "b")])
        let tokens = vocabulary.tokens.filter { $0 != "ab" }
        vocabulary.merges = [("a", "b")]
        XCTAssertThrowsError(try BPETokenizer(configuration: BPETokenizerConfiguration(
            tokens: tokens, kinds: Array(repeating: .normal, count: tokens.count), merges: vocabulary.merges,
            preTokenizer: .gpt2))) { error in
            XCTAssertEqual(error as? TokenizerError, .unknownMergeToken(merge: "a b", token: "ab"))
        }
    }

    func testMergeLineSplitting() throws {
        XCTAssertTrue(try BPETokenizerConfiguration.splitMergeLine("Ġ t") == ("Ġ", "t"))
        XCTAssertThrowsError(try BPETokenizerConfiguration.splitMergeLine("abc"))
        XCTAssertThrowsError(try BPETokenizerConfiguration.splitMergeLine("a "))
    }

    /// The cache must not change results, whether hit from one thread or many.
    func testConcurrentEncodingMatchesSerialEncoding() throws {
        let vocabulary = TinyVocabulary(merges: [("a", "b"), ("ab", "c"), ("c", "c")])
        let tokenizer = try vocabulary.make()
        let texts = (0..<64).map { index in String(repeating: "abc cc ab ", count: index % 7 + 1) + "\(index)" }
        let serial = texts.map { tokenizer.encode($0, parseSpecial: false) }
        let results = UnsafeMutableBufferPointer<[Int32]>.allocate(capacity: texts.count)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: texts.count) { index in
            results[index] = tokenizer.encode(texts[index], parseSpecial: false)
        }
        XCTAssertEqual(Array(results), serial)
    }
}

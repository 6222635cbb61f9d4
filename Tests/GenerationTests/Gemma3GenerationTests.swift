import Foundation
import XCTest
import Models
import Tokenizers
@testable import Generation

/// Gemma 3 270M through the batch decoder (the `InferenceModel` path every caller uses): the four oracle prompts
/// together reproduce llama.cpp's 32 greedy ids. The SentencePiece tokenizer is not this test's subject, so the
/// decoder gets a stand-in that spells each id as "<id>"; the prompts are the oracle's ids.
final class Gemma3GenerationTests: XCTestCase {
    /// Spells token i as "<i>"; declares no end-of-sequence token.
    final class IDSpellingTokenizer: Tokenizer, @unchecked Sendable {
        let vocabularySize: Int
        init(vocabularySize: Int) { self.vocabularySize = vocabularySize }
        var endOfSequenceIDs: Set<Int32> { [] }
        var beginOfSequenceID: Int32? { nil }
        var addsBeginOfSequence: Bool { false }
        func bytes(of token: Int32) -> [UInt8] { Array("<\(token)>".utf8) }
        func decode(_ ids: [Int32]) -> String { ids.map { "<\($0)>" }.joined() }
        func specialTokenID(_ text: String) -> Int32? { nil }
        func encode(_ text: String, parseSpecial: Bool) -> [Int32] { [] }
    }

    func testBatchDecoderReproducesTheOracleGreedyIds() throws {
        let path = ProcessInfo.processInfo.environment["TORL_GEMMA_MODEL"]
            ?? RealModel.packageRoot.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("Gemma 3 270M is not at \(path) (set TORL_GEMMA_MODEL or install it with the project's setup)")
        }
        let model = try ModelLoader.load(path: path, precision: .f32)
        let url = RealModel.packageRoot.appendingPathComponent("Tests/Fixtures/gemma3_270m_reference.json")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let prompts = try XCTUnwrap(json["prompts"] as? [[String: Any]])
        let decoder = BatchDecoder(model: model, tokenizer: IDSpellingTokenizer(vocabularySize: model.configuration.vocabularySize))
        var expected: [[Int32]] = []
        for prompt in prompts {
            let ids = try XCTUnwrap(prompt["prompt_ids"] as? [Int]).map(Int32.init)
            expected.append(try XCTUnwrap((prompt["greedy_32"] as? [String: Any])?["ids"] as? [Int]).map(Int32.init))
            try decoder.add(GenerationRequest(prompt: ids, maxNewTokens: 32, endOfSequenceIDs: []))
        }
        let results = try decoder.runUntilIdle()
        XCTAssertEqual(results.map(\.responseIDs), expected)
        XCTAssertEqual(results.first?.text, expected.first?.map { "<\($0)>" }.joined())
    }
}

import Foundation
import XCTest
@testable import Models
@testable import Tokenizers

/// The SmolLM2 tokenizer built from the real GGUF must reproduce llama.cpp's prompt token ids
/// (Tests/Fixtures/smollm2_reference.json: llama_tokenize with parse_special=true, no BOS for this model).
final class TokenizerOracleTests: XCTestCase {
    private static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private struct Reference: Decodable {
        struct Prompt: Decodable {
            let text: String
            let prompt_ids: [Int32]
        }
        struct ModelFacts: Decodable {
            let bos_id: Int32
            let eos_id: Int32
            let eog_ids: [Int32]
            let add_bos_token: Bool
            let n_vocab: Int
        }
        let prompts: [Prompt]
        let model: ModelFacts
    }

    private func modelPath() throws -> String {
        let path = ProcessInfo.processInfo.environment["TORL_MODEL"]
            ?? Self.packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("the SmolLM2 GGUF is missing at \(path): run scripts/setup.sh (or set TORL_MODEL)")
            throw CocoaError(.fileNoSuchFile)
        }
        return path
    }

    private func reference() throws -> Reference {
        let url = Self.packageRoot.appendingPathComponent("Tests/Fixtures/smollm2_reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testPromptIDsMatchLlamaCpp() throws {
        let tokenizer = try GGUFFile(path: modelPath()).makeTokenizer()
        let reference = try reference()
        XCTAssertEqual(reference.prompts.count, 4)
        for (index, prompt) in reference.prompts.enumerated() {
            let ids = tokenizer.encode(prompt.text, parseSpecial: true)
            XCTAssertEqual(ids, prompt.prompt_ids, "prompt \(index): \(prompt.text.prefix(60))")
            XCTAssertEqual(tokenizer.decode(ids), prompt.text, "prompt \(index) round trip")
        }
    }

    func testSpecialTokenFactsMatchLlamaCpp() throws {
        let tokenizer = try GGUFFile(path: modelPath()).makeTokenizer()
        let facts = try reference().model
        XCTAssertEqual(tokenizer.vocabularySize, facts.n_vocab)
        XCTAssertEqual(tokenizer.beginOfSequenceID, facts.bos_id)
        XCTAssertEqual(tokenizer.addsBeginOfSequence, facts.add_bos_token)
        XCTAssertEqual(tokenizer.endOfSequenceIDs, Set(facts.eog_ids))
        XCTAssertTrue(tokenizer.endOfSequenceIDs.contains(facts.eos_id))
        XCTAssertEqual(tokenizer.specialTokenID("<|im_start|>"), 1)
        XCTAssertEqual(tokenizer.specialTokenID("<|im_end|>"), 2)
        XCTAssertEqual(tokenizer.preTokenizer, .smolLM)
    }

    /// The fourth oracle prompt is what SmolLM2's template renders for one user message with a generation prompt.
    func testChatTemplateRendersTheOraclePrompt() throws {
        let tokenizer = try GGUFFile(path: modelPath()).makeTokenizer()
        let template = try ChatTemplate(recognizing: XCTUnwrap(tokenizer.chatTemplateText))
        XCTAssertEqual(template.defaultSystemPrompt, "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        let rendered = template.render([ChatMessage(role: "user", content: "What is 12*13?")], addGenerationPrompt: true)
        let oracle = try reference().prompts[3]
        XCTAssertEqual(rendered, oracle.text)
        XCTAssertEqual(tokenizer.encode(rendered, parseSpecial: true), oracle.prompt_ids)
    }
}

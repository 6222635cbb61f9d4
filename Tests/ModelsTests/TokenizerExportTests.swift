import Foundation
import Tokenizers
import XCTest
@testable import Models

/// A GGUF tokenizer written as Hugging Face files (what `model/export` ships) reads back as the same tokenizer.
final class TokenizerExportTests: XCTestCase {
    func testSmolLM2TokenizerRoundTripsThroughHuggingFaceFiles() throws {
        let configuration = try GGUFFile(path: TestSupport.modelPath).makeTokenizerConfiguration()
        let gguf = try BPETokenizer(configuration: configuration)
        let files = try configuration.huggingFaceFiles()
        let exported = try BPETokenizer(tokenizerJSON: files.tokenizerJSON, tokenizerConfigJSON: files.tokenizerConfigJSON)

        XCTAssertEqual(exported.vocabularySize, gguf.vocabularySize)
        XCTAssertEqual(exported.endOfSequenceIDs, gguf.endOfSequenceIDs)
        XCTAssertEqual(exported.beginOfSequenceID, gguf.beginOfSequenceID)
        XCTAssertEqual(exported.addsBeginOfSequence, gguf.addsBeginOfSequence)
        XCTAssertEqual(exported.preTokenizer.steps, gguf.preTokenizer.steps)
        XCTAssertEqual(exported.chatTemplateText, gguf.chatTemplateText)
        for id in 0..<Int32(gguf.vocabularySize) {
            XCTAssertEqual(exported.bytes(of: id), gguf.bytes(of: id), "token \(id)")
        }
        var cases = TextSampler.edgeCases + ["<|im_start|>user\nWhat is 12345 + 678?<|im_end|>", "x = 3.14159\n```python\nprint(x**2)\n```"]
        var sampler = TextSampler(seed: 31)
        for _ in 0..<200 { cases.append(sampler.text(scalarRanges: TextSampler.anyScalar)) }
        for (index, text) in cases.enumerated() {
            XCTAssertEqual(exported.encode(text, parseSpecial: index.isMultiple(of: 2)),
                           gguf.encode(text, parseSpecial: index.isMultiple(of: 2)), text.debugDescription)
        }
    }
}

import XCTest
import Models
@testable import Generation

/// The decoder on SmolLM2-135M (f32 weights dequantized from the oracle's GGUF) against llama.cpp's reference.
final class RealModelGenerationTests: XCTestCase {
    func testGreedyBatchedAndAloneBothReproduceTheOracle() throws {
        let loaded = try RealModel.load()
        let prompts = try RealModel.oraclePrompts()
        func request(_ prompt: RealModel.OraclePrompt) -> GenerationRequest {
            GenerationRequest(prompt: prompt.ids, maxNewTokens: 32, endOfSequenceIDs: [], promptTopLogitCount: 10)
        }
        let decoder = BatchDecoder(model: loaded.model, tokenizer: loaded.tokenizer)
        for prompt in prompts { try decoder.add(request(prompt)) }
        let batched = try decoder.runUntilIdle()
        XCTAssertEqual(batched.count, prompts.count)

        for (prompt, result) in zip(prompts, batched) {
            XCTAssertEqual(result.responseIDs, prompt.greedy32, "\(prompt.name), batched")
            XCTAssertEqual(result.promptTopLogits.prefix(3).map(\.id), prompt.top10.prefix(3).map(\.id), prompt.name)
            let reference = Dictionary(uniqueKeysWithValues: prompt.top10.map { ($0.id, $0.logit) })
            for entry in result.promptTopLogits {
                guard let expected = reference[entry.id] else {
                    XCTFail("\(prompt.name): token \(entry.id) is not in the reference top 10")
                    continue
                }
                XCTAssertEqual(entry.logit, expected, accuracy: 1e-3, prompt.name)
            }
            let alone = BatchDecoder(model: loaded.model, tokenizer: loaded.tokenizer)
            try alone.add(request(prompt))
            XCTAssertEqual(try alone.runUntilIdle().first?.responseIDs, prompt.greedy32, "\(prompt.name), alone")
        }
    }

    func testInjectedTokensLeaveTheCacheEqualToAFreshPrefill() throws {
        let loaded = try RealModel.load()
        let prompts = try RealModel.oraclePrompts()
        let temperature: Float = 0.8
        let decoder = BatchDecoder(model: loaded.model, tokenizer: loaded.tokenizer)
        let stream = try decoder.add(GenerationRequest(
            prompt: prompts[0].ids, sampling: SamplingParameters(temperature: temperature, seed: 5),
            maxNewTokens: 16, endOfSequenceIDs: []))[0]
        try decoder.add(GenerationRequest(prompt: prompts[1].ids, maxNewTokens: 16, endOfSequenceIDs: []))
        let observation = loaded.tokenizer.encode("\n```output\n391\n```\n", parseSpecial: false)
        var result: GeneratedSequence?
        var step = 0
        while decoder.hasRunnableWork {
            for event in try decoder.step() {
                if case .finished(let sequence) = event.kind, event.stream == stream { result = sequence }
            }
            step += 1
            if step == 4 {
                try decoder.pause(stream)
            } else if step == 6 {
                try decoder.append(tokens: observation, to: stream)
                try decoder.resume(stream)
            }
        }
        let generated = try XCTUnwrap(result)
        XCTAssertEqual(generated.sampledMask.filter { !$0 }.count, observation.count)
        XCTAssertEqual(Array(generated.responseIDs[4..<(4 + observation.count)]), observation)

        // Fresh prefill of prompt + response: logits at every position.
        let model = loaded.model
        let fresh = try model.makeSequence()
        defer { model.releaseSequence(fresh) }
        let all = generated.prompt + generated.responseIDs
        let logits = try model.forward([ForwardStep(sequence: fresh, tokens: all, logitsForAllTokens: true)])
        let vocabulary = logits.vocabularySize
        var checked = 0
        for (index, token) in generated.response.enumerated() {
            guard let logprob = token.logprob else { continue }
            let position = generated.prompt.count + index - 1  // the row that predicts response[index]
            let row = Array(logits.values[(position * vocabulary)..<((position + 1) * vocabulary)])
            let policy = try row.withUnsafeBufferPointer { try TokenSampler.logSoftmax($0, temperature: temperature) }
            XCTAssertEqual(logprob, policy[Int(token.id)], accuracy: 2e-3, "response token \(index)")
            checked += 1
        }
        XCTAssertEqual(checked, 16 - observation.count)
    }

    func testSamplingIsReproducibleAndIndependentOfBatchComposition() throws {
        let loaded = try RealModel.load()
        let prompts = try RealModel.oraclePrompts()
        let request = GenerationRequest(prompt: prompts[2].ids, sampling: SamplingParameters(temperature: 1, topP: 0.95, seed: 31),
                                        maxNewTokens: 12, samples: 2, endOfSequenceIDs: [])
        func run(withCompany: Bool) throws -> [[Int32]] {
            let decoder = BatchDecoder(model: loaded.model, tokenizer: loaded.tokenizer)
            if withCompany {
                try decoder.add(GenerationRequest(prompt: prompts[3].ids, sampling: SamplingParameters(temperature: 1, seed: 2),
                                                  maxNewTokens: 12, endOfSequenceIDs: []))
            }
            let streams = try decoder.add(request)
            let finished = try decoder.runUntilIdle()
            return streams.map { id in finished.first { $0.stream == id }!.responseIDs }
        }
        let alone = try run(withCompany: false)
        XCTAssertEqual(try run(withCompany: false), alone, "same seed, same tokens")
        XCTAssertEqual(try run(withCompany: true), alone, "other sequences in the batch change nothing")
        XCTAssertNotEqual(alone[0], alone[1], "the two samples draw from different streams")
    }
}

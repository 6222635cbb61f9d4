import XCTest
import Models
@testable import Generation

final class BatchDecoderTests: XCTestCase {
    private let tokenizer = FakeTokenizer()

    func testGreedyDecodingFollowsTheModelWithLogprobsAndOneTokenPerStep() throws {
        let model = FakeInferenceModel(vocabularySize: 64)
        let decoder = BatchDecoder(model: model, tokenizer: tokenizer)
        let prompt: [Int32] = [5, 9, 12, 3]
        let stream = try decoder.add(GenerationRequest(prompt: prompt, maxNewTokens: 12, endOfSequenceIDs: []))[0]
        let result = try XCTUnwrap(decoder.runUntilIdle().first)

        XCTAssertEqual(result.stream, stream)
        XCTAssertEqual(result.finishReason, .maxTokens)
        XCTAssertEqual(result.response.count, 12)
        var history = prompt
        for token in result.response {
            let row = model.logits(after: history)
            XCTAssertEqual(token.id, Reference.argmax(row))
            XCTAssertEqual(try XCTUnwrap(token.logprob), Reference.logSoftmax(row, at: token.id), accuracy: 1e-5)
            history.append(token.id)
        }
        XCTAssertEqual(model.forwardCalls.count, 12)
        XCTAssertEqual(model.forwardCalls[0].map(\.tokens), [prompt])
        XCTAssert(model.forwardCalls.dropFirst().allSatisfy { $0.count == 1 && $0[0].tokens.count == 1 })
        XCTAssertEqual(model.liveSequenceCount, 0, "finished sequences release their cache")
    }

    func testContinuousBatchingGivesEachSequenceWhatItGetsAlone() throws {
        let requests = [
            GenerationRequest(prompt: [4, 5, 6], sampling: SamplingParameters(temperature: 0.9, topK: 20, seed: 11),
                              maxNewTokens: 9, samples: 2, endOfSequenceIDs: []),
            GenerationRequest(prompt: [7, 8, 9, 10, 11, 12, 13], sampling: .greedy, maxNewTokens: 5),
            GenerationRequest(prompt: [20], sampling: SamplingParameters(temperature: 1.2, topP: 0.8, seed: 3),
                              maxNewTokens: 14, samples: 3, endOfSequenceIDs: []),
        ]
        // Alone: each request in its own decoder.
        var alone: [[GeneratedSequence]] = []
        for request in requests {
            let decoder = BatchDecoder(model: FakeInferenceModel(vocabularySize: 64), tokenizer: tokenizer)
            try decoder.add(request)
            alone.append(try decoder.runUntilIdle())
        }
        // Together: the second and third join while the first is decoding.
        let model = FakeInferenceModel(vocabularySize: 64)
        let decoder = BatchDecoder(model: model, tokenizer: tokenizer)
        var streamsOfRequest: [[StreamID]] = [try decoder.add(requests[0])]
        var finished: [StreamID: GeneratedSequence] = [:]
        var stepCount = 0
        var stepsLeft = 500  // a decoder that stops making progress fails the test instead of hanging it
        while decoder.hasRunnableWork {
            stepsLeft -= 1
            guard stepsLeft > 0 else { return XCTFail("the decoder made no progress") }
            if stepCount == 2 { streamsOfRequest.append(try decoder.add(requests[1])) }
            if stepCount == 4 { streamsOfRequest.append(try decoder.add(requests[2])) }
            for event in try decoder.step() {
                if case .finished(let sequence) = event.kind { finished[event.stream] = sequence }
            }
            stepCount += 1
        }
        XCTAssertEqual(model.forwardCalls.count, stepCount, "one forward call per step")
        XCTAssert(model.forwardCalls.contains { $0.count >= 4 }, "decode and prefill shared forward calls")
        for (requestIndex, streams) in streamsOfRequest.enumerated() {
            for (sampleIndex, stream) in streams.enumerated() {
                let together = try XCTUnwrap(finished[stream])
                let single = alone[requestIndex][sampleIndex]
                XCTAssertEqual(together.response, single.response, "request \(requestIndex) sample \(sampleIndex)")
                XCTAssertEqual(together.finishReason, single.finishReason)
                XCTAssertEqual(together.text, single.text)
            }
        }
        XCTAssertEqual(model.liveSequenceCount, 0)
    }

    func testSamplesOfOnePromptPrefillOnceAndDrawTheirOwnStreams() throws {
        let model = FakeInferenceModel(vocabularySize: 64)
        let decoder = BatchDecoder(model: model, tokenizer: tokenizer)
        let sampling = SamplingParameters(temperature: 1, seed: 77)
        let prompt: [Int32] = [2, 3, 4, 5, 6]
        try decoder.add(GenerationRequest(prompt: prompt, sampling: sampling, maxNewTokens: 8, samples: 4,
                                          endOfSequenceIDs: []))
        let results = try decoder.runUntilIdle()

        XCTAssertEqual(model.forwardCalls[0].count, 1, "the prompt is prefilled once")
        XCTAssertEqual(model.forkCount, 3)
        XCTAssertEqual(model.forwardCalls[1].count, 4)
        XCTAssertGreaterThan(Set(results.map(\.responseIDs)).count, 1, "samples differ")
        for result in results {
            // Sample i alone, with stream offset i, draws the same tokens.
            let single = BatchDecoder(model: FakeInferenceModel(vocabularySize: 64), tokenizer: tokenizer)
            try single.add(GenerationRequest(prompt: prompt, sampling: sampling, maxNewTokens: 8,
                                             randomStreamOffset: UInt64(result.sampleIndex), endOfSequenceIDs: []))
            XCTAssertEqual(try single.runUntilIdle()[0].response, result.response)
            var history = prompt
            for token in result.response {
                let row = model.logits(after: history)
                XCTAssertEqual(try XCTUnwrap(token.logprob), Reference.logSoftmax(row, at: token.id), accuracy: 1e-5)
                history.append(token.id)
            }
        }
    }

    func testStopStringAcrossTokensCutsTextAndStreamsNoPartOfIt() throws {
        let st = tokenizer.id("ST"), op = tokenizer.id("OP")
        let script: [Int32] = [tokenizer.id("a"), tokenizer.id("S"), tokenizer.id("b"), st, op, tokenizer.id("c")]
        for include in [false, true] {
            let model = scriptedModel(promptLength: 2, script: script)
            let decoder = BatchDecoder(model: model, tokenizer: tokenizer)
            let stream = try decoder.add(GenerationRequest(prompt: [2, 3], maxNewTokens: 20, stopStrings: ["STOP"],
                                                           includeStopStringInText: include))[0]
            let (results, deltas, _) = try decoder.runCollectingDeltas()
            let result = try XCTUnwrap(results[stream])
            XCTAssertEqual(result.finishReason, .stopString("STOP", includedInText: include))
            XCTAssertEqual(result.responseIDs, Array(script.prefix(5)), "the token holding the stop is kept")
            XCTAssertEqual(result.text, include ? "aSbSTOP" : "aSb")
            XCTAssertEqual(deltas[stream], result.text)
        }
    }

    func testEndOfSequenceStopsUnlessDisabled() throws {
        let script: [Int32] = [tokenizer.id("h"), tokenizer.id("i"), FakeTokenizer.imEnd, tokenizer.id("x")]
        let model = scriptedModel(promptLength: 1, script: script)
        let decoder = BatchDecoder(model: model, tokenizer: tokenizer)
        let stopping = try decoder.add(GenerationRequest(prompt: [9], maxNewTokens: 10))[0]
        let running = try decoder.add(GenerationRequest(prompt: [9], maxNewTokens: 6, endOfSequenceIDs: []))[0]
        let (results, deltas, _) = try decoder.runCollectingDeltas()

        let stopped = try XCTUnwrap(results[stopping])
        XCTAssertEqual(stopped.finishReason, .endOfSequence(token: FakeTokenizer.imEnd))
        XCTAssertEqual(stopped.responseIDs, Array(script.prefix(3)))
        XCTAssertNotNil(stopped.response.last?.logprob, "the EOS token is sampled and keeps its logprob")
        XCTAssertEqual(stopped.text, "hi")
        XCTAssertEqual(deltas[stopping], "hi")
        let ran = try XCTUnwrap(results[running])
        XCTAssertEqual(ran.finishReason, .maxTokens)
        XCTAssertEqual(ran.response.count, 6)
        XCTAssertEqual(Array(ran.responseIDs.prefix(4)), script)
        XCTAssert(ran.text.hasPrefix("hi<|im_end|>x"))
    }

    func testContextFullIsAFinishReasonNotACrash() throws {
        let model = FakeInferenceModel(vocabularySize: 64, contextLength: 12)
        let decoder = BatchDecoder(model: model, tokenizer: tokenizer)
        try decoder.add(GenerationRequest(prompt: Array(repeating: 4, count: 8), maxNewTokens: 100,
                                          endOfSequenceIDs: []))
        try decoder.add(GenerationRequest(prompt: Array(repeating: 5, count: 12), maxNewTokens: 100,
                                          endOfSequenceIDs: []))
        let results = try decoder.runUntilIdle()
        XCTAssertEqual(results.map(\.finishReason), [.contextFull, .contextFull])
        // 8 prompt tokens + 4 fed responses fill the 12 positions; the 5th sampled token cannot be fed.
        XCTAssertEqual(results.map(\.response.count), [5, 1])
        XCTAssertThrowsError(try decoder.add(GenerationRequest(prompt: Array(repeating: 4, count: 13)))) {
            XCTAssertEqual($0 as? GenerationError, .promptTooLong(tokens: 13, contextLength: 12))
        }
    }

    func testBadRequestsAreTypedErrors() {
        let decoder = BatchDecoder(model: FakeInferenceModel(vocabularySize: 64), tokenizer: tokenizer)
        XCTAssertThrowsError(try decoder.add(GenerationRequest(prompt: [])))
        XCTAssertThrowsError(try decoder.add(GenerationRequest(prompt: [64]))) {
            XCTAssertEqual($0 as? GenerationError, .tokenOutOfVocabulary(token: 64, vocabularySize: 64))
        }
        XCTAssertThrowsError(try decoder.add(GenerationRequest(prompt: [1], samples: 0)))
        XCTAssertThrowsError(try decoder.add(GenerationRequest(prompt: [1], stopStrings: [""])))
        XCTAssertThrowsError(try decoder.add(GenerationRequest(prompt: [1], sampling: SamplingParameters(topP: 2))))
        XCTAssertThrowsError(try decoder.resume(StreamID(99))) {
            XCTAssertEqual($0 as? GenerationError, .unknownStream(StreamID(99)))
        }
        XCTAssertFalse(decoder.hasRunnableWork)
    }

    func testParkInjectResumeKeepsCacheConsistentWhileOthersDecode() throws {
        let fence = tokenizer.id("```"), newline = tokenizer.id("\n")
        let script: [Int32] = [tokenizer.id("x"), fence, tokenizer.id("python"), newline, tokenizer.id("p"), newline,
                               tokenizer.id("```\n")]
        let model = scriptedModel(promptLength: 3, script: script)
        let decoder = BatchDecoder(model: model, tokenizer: tokenizer)
        let prompt: [Int32] = [2, 2, 2]
        let tool = try decoder.add(GenerationRequest(prompt: prompt, maxNewTokens: 30, endOfSequenceIDs: [],
                                                     pauseStrings: ["\n```\n"]))[0]
        let other = try decoder.add(GenerationRequest(prompt: [7, 7, 7],
                                                      sampling: SamplingParameters(temperature: 1, seed: 4),
                                                      maxNewTokens: 30, endOfSequenceIDs: []))[0]
        var deltas: [StreamID: String] = [:]
        var pausedAtStep: Int?
        var otherTokensWhilePaused = 0
        var results: [StreamID: GeneratedSequence] = [:]
        var step = 0
        let observation = [newline] + tokenizer.encode("```output\nok\n```\n", parseSpecial: false)
        XCTAssertEqual(tokenizer.decode(observation), "\n```output\nok\n```\n")
        var stepsLeft = 500  // a decoder that stops making progress fails the test instead of hanging it
        while decoder.hasRunnableWork {
            stepsLeft -= 1
            guard stepsLeft > 0 else { return XCTFail("the decoder made no progress") }
            let events = try decoder.step()
            for event in events {
                deltas[event.stream, default: ""] += event.textDelta
                switch event.kind {
                case .paused(let pauseString):
                    XCTAssertEqual(event.stream, tool)
                    XCTAssertEqual(pauseString, "\n```\n")
                    pausedAtStep = step
                case .sampled where event.stream == other && pausedAtStep != nil && step > pausedAtStep!
                                    && step <= pausedAtStep! + 2:
                    otherTokensWhilePaused += 1
                case .finished(let sequence): results[event.stream] = sequence
                default: break
                }
            }
            if let pausedAtStep, step == pausedAtStep + 2 {
                XCTAssertEqual(try decoder.transcript(of: tool).responseIDs, script)
                try decoder.append(tokens: observation, to: tool)
                try decoder.resume(tool)
            }
            step += 1
        }
        XCTAssertEqual(pausedAtStep, script.count - 1)
        XCTAssertEqual(otherTokensWhilePaused, 2, "the rest of the batch kept decoding")

        let result = try XCTUnwrap(results[tool])
        XCTAssertEqual(result.finishReason, .maxTokens)
        XCTAssertEqual(result.response.count, 30)
        XCTAssertEqual(Array(result.responseIDs.prefix(script.count + observation.count)), script + observation)
        XCTAssertEqual(result.sampledMask, Array(repeating: true, count: script.count)
                       + Array(repeating: false, count: observation.count)
                       + Array(repeating: true, count: 30 - script.count - observation.count))
        // Every sampled token, including those after the injection, is the greedy choice after the full
        // concatenated history: the cache held exactly prompt + response at each step.
        var history = prompt
        for token in result.response {
            if let logprob = token.logprob {
                let row = model.logits(after: history)
                XCTAssertEqual(token.id, Reference.argmax(row))
                XCTAssertEqual(logprob, Reference.logSoftmax(row, at: token.id), accuracy: 1e-5)
            }
            history.append(token.id)
        }
        XCTAssert(result.text.hasPrefix("x```python\np\n```\n\n```output\nok\n```\n"))
        XCTAssertEqual(deltas[tool], result.text)
        XCTAssertEqual(results[other]?.response.count, 30)
        XCTAssertEqual(model.liveSequenceCount, 0)
    }

    func testInjectionPastTheBudgetFinishesWithMaxTokens() throws {
        let model = scriptedModel(promptLength: 1, script: [tokenizer.id("```\n")])
        let decoder = BatchDecoder(model: model, tokenizer: tokenizer)
        let stream = try decoder.add(GenerationRequest(prompt: [3], maxNewTokens: 4, pauseStrings: ["```\n"]))[0]
        _ = try decoder.step()
        XCTAssertThrowsError(try decoder.append(tokens: [70], to: stream))
        try decoder.append(tokens: [4, 5, 6], to: stream)
        try decoder.resume(stream)
        let results = try decoder.runUntilIdle()
        XCTAssertEqual(results.first?.finishReason, .maxTokens)
        XCTAssertEqual(results.first?.responseIDs, [tokenizer.id("```\n"), 4, 5, 6])
    }

    func testCancelReleasesTheCache() throws {
        let model = FakeInferenceModel(vocabularySize: 64)
        let decoder = BatchDecoder(model: model, tokenizer: tokenizer)
        let streams = try decoder.add(GenerationRequest(prompt: [3, 4], sampling: SamplingParameters(seed: 1),
                                                        maxNewTokens: 50, samples: 2, endOfSequenceIDs: []))
        let waiting = try decoder.add(GenerationRequest(prompt: [5], maxNewTokens: 50))[0]
        _ = try decoder.step()
        try decoder.cancel(streams[0])
        let events = try decoder.step()
        guard case .finished(let cancelled) = events.first?.kind else { return XCTFail("no cancellation event") }
        XCTAssertEqual(cancelled.finishReason, .cancelled)
        XCTAssertEqual(cancelled.response.count, 1)
        XCTAssertEqual(model.liveSequenceCount, 2)
        XCTAssertThrowsError(try decoder.cancel(streams[0]))
        try decoder.cancel(streams[1])
        try decoder.cancel(waiting)
        _ = try decoder.step()
        XCTAssertEqual(model.liveSequenceCount, 0)
        XCTAssertFalse(decoder.hasRunnableWork)
    }

    /// An owner that leaves by an error (a cancelled rollout, a failed forward call) drops its decoder mid-run:
    /// the decoding, paused and waiting streams' cache sequences go back to the model with it. Before, they stayed
    /// cached for good and the model refused every later weight update.
    func testDroppingTheDecoderMidRunReleasesEverySequence() throws {
        let model = FakeInferenceModel(vocabularySize: 64)
        func abandonedRun() throws {
            let decoder = BatchDecoder(model: model, tokenizer: tokenizer,
                                       configuration: .init(maximumStreams: 3, maximumPrefillTokensPerStep: 4096))
            let streams = try decoder.add(GenerationRequest(prompt: [3, 4], sampling: SamplingParameters(seed: 1),
                                                            maxNewTokens: 50, samples: 2, endOfSequenceIDs: []))
            _ = try decoder.add(GenerationRequest(prompt: [5], maxNewTokens: 50, endOfSequenceIDs: []))
            _ = try decoder.add(GenerationRequest(prompt: [6, 7], maxNewTokens: 50, endOfSequenceIDs: []))  // waits
            _ = try decoder.step()
            _ = try decoder.step()
            try decoder.pause(streams[1])
            _ = try decoder.step()
            XCTAssertEqual(model.liveSequenceCount, 3)
            XCTAssertEqual(decoder.liveStreamCount, 4)
            struct Interrupted: Error {}
            throw Interrupted()
        }
        XCTAssertThrowsError(try abandonedRun())
        XCTAssertEqual(model.liveSequenceCount, 0)

        let kept = BatchDecoder(model: model, tokenizer: tokenizer)
        _ = try kept.add(GenerationRequest(prompt: [3], maxNewTokens: 50, samples: 3, endOfSequenceIDs: []))
        _ = try kept.step()
        XCTAssertEqual(model.liveSequenceCount, 3)
        kept.abandonAllStreams()
        XCTAssertEqual(model.liveSequenceCount, 0)
        XCTAssertEqual(kept.liveStreamCount, 0)
        XCTAssertFalse(kept.hasRunnableWork)
    }

    func testFullCacheMakesRequestsWaitAndResultsStayTheSame() throws {
        let sampling = SamplingParameters(temperature: 1, seed: 9)
        let requests = [
            GenerationRequest(prompt: [3, 4], sampling: sampling, maxNewTokens: 6, samples: 3, endOfSequenceIDs: []),
            GenerationRequest(prompt: [5], sampling: sampling, maxNewTokens: 4, endOfSequenceIDs: []),
        ]
        func run(capacity: Int, maximumStreams: Int) throws -> [GeneratedSequence] {
            let model = FakeInferenceModel(vocabularySize: 64)
            model.sequenceCapacity = capacity
            let decoder = BatchDecoder(model: model, tokenizer: tokenizer,
                                       configuration: .init(maximumStreams: maximumStreams))
            for request in requests { try decoder.add(request) }
            let results = try decoder.runUntilIdle()
            XCTAssertEqual(model.liveSequenceCount, 0)
            return results
        }
        let unconstrained = try run(capacity: .max, maximumStreams: 64)
        XCTAssertEqual(unconstrained.count, 4)
        for constrained in [try run(capacity: 2, maximumStreams: 64), try run(capacity: .max, maximumStreams: 1)] {
            XCTAssertEqual(constrained.map(\.response), unconstrained.map(\.response))
        }
    }

    func testMultiByteCharactersSplitAcrossTokensStreamWhole() throws {
        let script: [Int32] = [33, 34, tokenizer.id("a"), 35, 36, 44, tokenizer.id("b")]
        let decoder = BatchDecoder(model: scriptedModel(promptLength: 1, script: script), tokenizer: tokenizer)
        let stream = try decoder.add(GenerationRequest(prompt: [2], maxNewTokens: script.count))[0]
        let (results, deltas, steps) = try decoder.runCollectingDeltas()
        XCTAssertEqual(results[stream]?.text, "éa🙂\u{FFFD}b")
        XCTAssertEqual(deltas[stream], "éa🙂\u{FFFD}b")
        let perStep = steps.map { $0.filter { $0.stream == stream }.map(\.textDelta).joined() }
        XCTAssertEqual(perStep, ["", "é", "a", "", "🙂", "\u{FFFD}", "b"])
    }

    func testNonFiniteLogitsFinishOnlyTheAffectedStream() throws {
        let model = FakeInferenceModel(vocabularySize: 64)
        model.poisoned = { $0.first == 9 && $0.count == 4 }
        let decoder = BatchDecoder(model: model, tokenizer: tokenizer)
        let broken = try decoder.add(GenerationRequest(prompt: [9, 9], maxNewTokens: 8, endOfSequenceIDs: []))[0]
        let healthy = try decoder.add(GenerationRequest(prompt: [8, 8], maxNewTokens: 8, endOfSequenceIDs: []))[0]
        let results = Dictionary(uniqueKeysWithValues: try decoder.runUntilIdle().map { ($0.stream, $0) })
        XCTAssertEqual(results[broken]?.finishReason, .invalidLogits)
        XCTAssertEqual(results[broken]?.response.count, 2, "two tokens sampled before the NaN row")
        XCTAssertEqual(results[healthy]?.finishReason, .maxTokens)
        XCTAssertEqual(model.liveSequenceCount, 0)
    }

    func testResumeWithoutPauseStringsRunsPastLaterMatches() throws {
        let fence = tokenizer.id("```\n")
        let script: [Int32] = [tokenizer.id("a"), fence, tokenizer.id("b"), fence, tokenizer.id("c"), fence,
                               tokenizer.id("S"), tokenizer.id("TOP")]
        let decoder = BatchDecoder(model: scriptedModel(promptLength: 1, script: script), tokenizer: tokenizer)
        let stream = try decoder.add(GenerationRequest(prompt: [2], maxNewTokens: 20, stopStrings: ["STOP"],
                                                       pauseStrings: ["```\n"]))[0]
        var pauses = 0
        var result: GeneratedSequence?
        var stepsLeft = 500  // a decoder that stops making progress fails the test instead of hanging it
        while decoder.hasRunnableWork {
            stepsLeft -= 1
            guard stepsLeft > 0 else { return XCTFail("the decoder made no progress") }
            for event in try decoder.step() {
                switch event.kind {
                case .paused:
                    pauses += 1
                    // The first resume keeps watching; the second stops (a spent tool-call budget).
                    try decoder.resume(stream, keepPauseStrings: pauses < 2)
                case .finished(let sequence): result = sequence
                default: break
                }
            }
        }
        XCTAssertEqual(pauses, 2)
        XCTAssertEqual(result?.finishReason, .stopString("STOP", includedInText: false), "stop strings still apply")
        XCTAssertEqual(result?.responseIDs, script)
        XCTAssertEqual(result?.text, "a```\nb```\nc```\n")
    }
}

import Foundation
import Generation
import Models
import Sandbox
import Tokenizers
import XCTest
@testable import RL

/// Shared fixtures of the rollout and evaluation tests: the real SmolLM2 tokenizer, a real sandbox pool, and a
/// scripted model that makes the decoder "write" exact text.
enum RolloutFixtures {
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var modelPath: String {
        ProcessInfo.processInfo.environment["TORL_MODEL"]
            ?? packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    }

    /// The tokenizer of the default model (cheap: no weights are read). Fails, never skips, when it is missing.
    static func tokenizer() throws -> BPETokenizer {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw FixtureError("the default model \(modelPath) is missing (run setup, or set TORL_MODEL)")
        }
        return try GGUFFile(path: modelPath).makeTokenizer()
    }

    /// A pool running the project's Python (TORL_PYTHON, else python3), ready to serve.
    static func sandbox() async throws -> SandboxPool {
        let pool = try SandboxPool(configuration: SandboxConfiguration(poolSize: 2))
        do { try await pool.waitUntilReady() } catch {
            throw FixtureError("the sandbox could not start Python (\(error)); set TORL_PYTHON to a python with numpy and sympy")
        }
        return pool
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// An `InferenceModel` whose logits force a script: sample i of a request emits `scripts[i % scripts.count]`
/// token by token (whatever was inserted in between), then end-of-sequence. The forced token gets logit
/// `forcedLogit`, every other token 0, so its log-probability is known in closed form.
///
/// The decoder samples every sample's first token from the leader's prefill row, so all scripts must start
/// with the same token.
final class ScriptedModel: InferenceModel {
    let configuration: ModelConfiguration
    let scripts: [[Int32]]
    let endOfSequence: Int32
    let forcedLogit: Float

    private struct State {
        var tokens: [Int32]
        var script: Int
        var cursor: Int
        var forks: Int
    }
    private var states: [SequenceID: State] = [:]
    private var nextSequence = 0
    /// Every token fed to each sequence, for checking what reached the cache.
    private(set) var fed: [SequenceID: [Int32]] = [:]

    init(vocabularySize: Int, scripts: [[Int32]], endOfSequence: Int32, forcedLogit: Float = 5,
         contextLength: Int = 4096) {
        precondition(Set(scripts.compactMap(\.first)).count <= 1, "scripts must share their first token")
        configuration = ModelConfiguration(
            architecture: .llama, vocabularySize: vocabularySize, hiddenSize: 8, intermediateSize: 8, layerCount: 1,
            headCount: 1, keyValueHeadCount: 1, headDimension: 8, contextLength: contextLength, ropeTheta: 10000,
            ropePairing: .halves, rmsNormEpsilon: 1e-5, tiedEmbeddings: true, attentionBias: false)
        self.scripts = scripts
        self.endOfSequence = endOfSequence
        self.forcedLogit = forcedLogit
    }

    /// log softmax at the forced token: forcedLogit − log(e^forcedLogit + V − 1).
    var forcedLogprob: Double {
        Double(forcedLogit) - log(exp(Double(forcedLogit)) + Double(configuration.vocabularySize - 1))
    }

    func makeSequence() throws -> SequenceID {
        let id = SequenceID(nextSequence)
        nextSequence += 1
        states[id] = State(tokens: [], script: 0, cursor: 0, forks: 0)
        return id
    }

    func forkSequence(_ source: SequenceID) throws -> SequenceID {
        guard var parent = states[source] else { throw FixtureError("fork of unknown \(source)") }
        parent.forks += 1
        states[source] = parent
        let id = SequenceID(nextSequence)
        nextSequence += 1
        states[id] = State(tokens: parent.tokens, script: parent.forks % scripts.count, cursor: parent.cursor, forks: 0)
        return id
    }

    func releaseSequence(_ sequence: SequenceID) { states[sequence] = nil }

    func length(of sequence: SequenceID) -> Int { states[sequence]?.tokens.count ?? 0 }

    func forward(_ steps: [ForwardStep]) throws -> LogitsBatch {
        let vocabularySize = configuration.vocabularySize
        var values = [Float](repeating: 0, count: steps.count * vocabularySize)
        for (row, step) in steps.enumerated() {
            guard var state = states[step.sequence] else { throw FixtureError("forward on unknown \(step.sequence)") }
            state.tokens.append(contentsOf: step.tokens)
            fed[step.sequence, default: []].append(contentsOf: step.tokens)
            let script = scripts[state.script]
            let forced = state.cursor < script.count ? script[state.cursor] : endOfSequence
            state.cursor += 1
            states[step.sequence] = state
            values[row * vocabularySize + Int(forced)] = forcedLogit
        }
        return LogitsBatch(values: values, vocabularySize: vocabularySize, rowRanges: (0..<steps.count).map { $0..<($0 + 1) })
    }
}

/// Runs code after a delay, then in the real pool: lets a test hold one stream's tool call while others decode.
struct DelayedExecutor: CodeExecutor {
    let base: CodeExecutor
    let delaySeconds: Double
    func execute(_ code: String, limits: ExecutionLimits?) async -> ExecutionResult {
        try? await Task.sleep(nanoseconds: UInt64(delaySeconds * 1e9))
        return await base.execute(code, limits: limits)
    }
}

/// Invariants every trajectory must satisfy, whatever it did: aligned arrays, decode(ids) == text, segments
/// join to the text, inserted ids == encode(observation), mask 1 and a logprob exactly on sampled tokens.
func assertTrajectoryIsTokenExact(_ trajectory: Trajectory, tokenizer: Tokenizer, expectedLogprob: Double? = nil,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
    let count = trajectory.tokenIDs.count
    XCTAssertEqual(trajectory.logprobs.count, count, file: file, line: line)
    XCTAssertEqual(trajectory.lossMask.count, count, file: file, line: line)
    XCTAssertTrue(trajectory.lossMask[..<trajectory.promptLength].allSatisfy { $0 == 0 }, file: file, line: line)
    var response = Array(trajectory.tokenIDs[trajectory.promptLength...])
    if trajectory.finishReason == "eos" { response.removeLast() }
    XCTAssertEqual(tokenizer.decode(response), trajectory.text, "decode(token_ids) == text", file: file, line: line)
    XCTAssertEqual(trajectory.segments.map(\.text).joined(), trajectory.text, file: file, line: line)
    var inserted = Set<Int>()
    for call in trajectory.toolCalls {
        let range = call.tokenStart..<(call.tokenStart + call.tokenCount)
        inserted.formUnion(range)
        let expected = tokenizer.encode(call.observation, parseSpecial: false)
        if call.truncated {
            XCTAssertEqual(Array(expected.prefix(call.tokenCount)), Array(trajectory.tokenIDs[range]), file: file, line: line)
        } else {
            XCTAssertEqual(expected, Array(trajectory.tokenIDs[range]), "inserted ids == encode(observation)", file: file, line: line)
        }
    }
    for t in trajectory.promptLength..<count {
        let sampled = !inserted.contains(t)
        XCTAssertEqual(trajectory.lossMask[t], sampled ? 1 : 0, "mask at \(t)", file: file, line: line)
        if sampled {
            XCTAssertTrue(trajectory.logprobs[t].isFinite && trajectory.logprobs[t] <= 0, "logprob at \(t)",
                          file: file, line: line)
            if let expectedLogprob {
                XCTAssertEqual(Double(trajectory.logprobs[t]), expectedLogprob, accuracy: 1e-4, file: file, line: line)
            }
        } else {
            XCTAssertEqual(trajectory.logprobs[t], 0, file: file, line: line)
        }
    }
}

/// Answers every call with one fixed result: statuses the real sandbox only gives under failure (a dead
/// worker, a full queue) without breaking it.
struct FixedResultExecutor: CodeExecutor {
    let result: ExecutionResult
    func execute(_ code: String, limits: ExecutionLimits?) async -> ExecutionResult { result }
}

final class RolloutFixturesTests: XCTestCase {
    /// The scripted model really forces its script through the real decoder, with the closed-form logprob.
    func testScriptedModelForcesItsScriptThroughTheDecoder() throws {
        let tokenizer = try RolloutFixtures.tokenizer()
        let script = tokenizer.encode("Hello world", parseSpecial: false)
        let eos = try XCTUnwrap(tokenizer.endOfSequenceIDs.min())
        let model = ScriptedModel(vocabularySize: tokenizer.vocabularySize, scripts: [script], endOfSequence: eos)
        let decoder = BatchDecoder(model: model, tokenizer: tokenizer)
        try decoder.add(GenerationRequest(prompt: [1, 2, 3], maxNewTokens: 50, endOfSequenceIDs: [eos]))
        let sequence = try XCTUnwrap(decoder.runUntilIdle().first)
        XCTAssertEqual(sequence.responseIDs, script + [eos])
        XCTAssertEqual(sequence.text, "Hello world")
        for logprob in sequence.logprobs { XCTAssertEqual(Double(logprob), model.forcedLogprob, accuracy: 1e-4) }
    }
}

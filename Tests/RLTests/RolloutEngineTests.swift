import Foundation
import Generation
import MathGrader
import Sandbox
import Tokenizers
import XCTest
@testable import RL

/// The park → sandbox → inject → resume path, driven by a scripted model through the real decoder, the real
/// SmolLM2 tokenizer and real Python, checked token by token.
final class RolloutEngineTests: XCTestCase {
    static var sharedTokenizer: BPETokenizer?
    static var sharedPool: SandboxPool?

    override class func tearDown() {
        if let pool = sharedPool {
            let done = DispatchSemaphore(value: 0)
            Task { await pool.shutdown(); done.signal() }
            done.wait()
        }
        super.tearDown()
    }

    var tokenizer: BPETokenizer {
        get throws {
            if let tokenizer = Self.sharedTokenizer { return tokenizer }
            let tokenizer = try RolloutFixtures.tokenizer()
            Self.sharedTokenizer = tokenizer
            return tokenizer
        }
    }

    func pool() async throws -> SandboxPool {
        if let pool = Self.sharedPool { return pool }
        let pool = try await RolloutFixtures.sandbox()
        Self.sharedPool = pool
        return pool
    }

    let problem = Problem(id: "p1", problem: "What is 6 times 7?", answer: "42")

    // Sampled parts of the scripts. Each starts a turn; the first starts with "Let" so all scripts share a token.
    let codeTurn = "Let me compute.\n```python\nprint(6*7)\n```"
    let failingTurn = "Check:\n```python\nprint(1/0)\n```"
    let answerTurn = "The answer is \\boxed{42}."

    func ids(_ text: String) throws -> [Int32] { try tokenizer.encode(text, parseSpecial: false) }

    func endOfSequence() throws -> Int32 { try XCTUnwrap(tokenizer.endOfSequenceIDs.min()) }

    func engine(scripts: [String], executor: CodeExecutor? = nil) async throws -> (RolloutEngine, ScriptedModel) {
        let model = ScriptedModel(vocabularySize: try tokenizer.vocabularySize, scripts: try scripts.map(ids),
                                  endOfSequence: try endOfSequence())
        let resolvedExecutor: CodeExecutor
        if let executor { resolvedExecutor = executor } else { resolvedExecutor = try await pool() }
        let engine = RolloutEngine(model: model, tokenizer: try tokenizer, chatTemplate: try tokenizer.chatTemplate(),
                                   executor: resolvedExecutor)
        return (engine, model)
    }

    func runOne(_ engine: RolloutEngine, _ settings: RolloutSettings,
                observer: ((RolloutEvent) -> Void)? = nil) async throws -> Trajectory {
        let trajectories = try await engine.run(problems: [problem], settings: settings, observer: observer)
        XCTAssertEqual(trajectories.count, 1)
        return try XCTUnwrap(trajectories.first)
    }

    func settings(calls: Int = 1, trigger: ToolTrigger = .blockClose, group: Int = 1,
                  penalty: Double = 0, maxTokens: Int = 200) -> RolloutSettings {
        var settings = RolloutSettings()
        settings.maxToolCalls = calls
        settings.trigger = trigger
        settings.groupSize = group
        settings.sampling = .greedy
        settings.maxResponseTokens = maxTokens
        settings.rewards.executionFailurePenalty = penalty
        return settings
    }

    func assertTokenExact(_ trajectory: Trajectory, expectedLogprob: Double? = nil,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        try assertTrajectoryIsTokenExact(trajectory, tokenizer: try tokenizer, expectedLogprob: expectedLogprob,
                                      file: file, line: line)
    }

    func testBlockCloseTriggerInsertsTheObservationAtTokenLevel() async throws {
        let (engine, model) = try await engine(scripts: [codeTurn + answerTurn])
        let trajectories = try await engine.run(problems: [problem], settings: settings())
        let trajectory = try XCTUnwrap(trajectories.first)
        let insertedText = "\n```output\n42\n```\n"
        let prompt = try engine.prompts.tokens(for: problem.problem, template: .torl)
        XCTAssertEqual(trajectory.tokenIDs, prompt + (try ids(codeTurn)) + (try ids(insertedText))
                       + (try ids(answerTurn)) + [try endOfSequence()])
        XCTAssertEqual(trajectory.promptLength, prompt.count)
        XCTAssertEqual(trajectory.text, codeTurn + insertedText + answerTurn)
        XCTAssertEqual(trajectory.toolCalls.count, 1)
        let call = trajectory.toolCalls[0]
        XCTAssertEqual(call.code, "print(6*7)")
        XCTAssertEqual(call.status, .ok)
        XCTAssertEqual(call.output, "42")
        XCTAssertEqual(call.observation, insertedText)
        XCTAssertEqual(call.tokenStart, prompt.count + (try ids(codeTurn)).count)
        XCTAssertEqual(trajectory.segments, [
            TrajectorySegment(kind: .reasoning, text: "Let me compute.\n"),
            TrajectorySegment(kind: .code, text: "```python\nprint(6*7)\n```"),
            TrajectorySegment(kind: .output, text: insertedText),
            TrajectorySegment(kind: .reasoning, text: answerTurn),
        ])
        XCTAssertEqual(trajectory.finishReason, "eos")
        XCTAssertTrue(trajectory.hasCode && trajectory.codeExecuted && trajectory.effectiveCode)
        XCTAssertFalse(trajectory.codeFailed)
        XCTAssertEqual(trajectory.answer, "42")
        XCTAssertEqual(trajectory.reward, 1)
        try assertTokenExact(trajectory, expectedLogprob: model.forcedLogprob)
    }

    func testOutputMarkerTriggerKeepsTheSampledMarkerAndInsertsTheRest() async throws {
        let markerTurn = "Let me compute.\n```python\nprint(6*7)\n```\n```output"
        let (engine, model) = try await engine(scripts: [markerTurn + answerTurn])
        let trajectory = try await runOne(engine, settings(trigger: .outputMarker))
        let insertedText = "\n42\n```\n"
        let prompt = try engine.prompts.tokens(for: problem.problem, template: .torl)
        XCTAssertEqual(trajectory.tokenIDs, prompt + (try ids(markerTurn)) + (try ids(insertedText))
                       + (try ids(answerTurn)) + [try endOfSequence()])
        XCTAssertEqual(trajectory.text, markerTurn + insertedText + answerTurn)
        XCTAssertEqual(trajectory.toolCalls.map(\.code), ["print(6*7)"])
        XCTAssertEqual(trajectory.reward, 1)
        try assertTokenExact(trajectory, expectedLogprob: model.forcedLogprob)
    }

    /// The wire form carries every key schemas/rollout.json requires of a trajectory and of a tool call, with
    /// the declared JSON types, and decodes back to the same record.
    func testTrajectoryJSONHasTheSchemaKeysAndRoundTrips() async throws {
        let (engine, _) = try await engine(scripts: [codeTurn + answerTurn])
        let trajectory = try await runOne(engine, settings())
        let data = try JSONEncoder().encode(trajectory)
        XCTAssertEqual(try JSONDecoder().decode(Trajectory.self, from: data), trajectory)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])

        let schemaURL = RolloutFixtures.packageRoot.appendingPathComponent("schemas/rollout.json")
        let schema = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: schemaURL)) as? [String: Any])
        let defs = try XCTUnwrap(schema["$defs"] as? [String: Any])
        let result = try XCTUnwrap((defs["result"] as? [String: Any])?["properties"] as? [String: Any])
        let items = try XCTUnwrap((result["trajectories"] as? [String: Any])?["items"] as? [String: Any])
        let required = try XCTUnwrap(items["required"] as? [String])
        XCTAssertFalse(required.isEmpty)
        for key in required { XCTAssertNotNil(object[key], "missing \(key)") }
        let properties = try XCTUnwrap(items["properties"] as? [String: Any])
        for (key, value) in object {
            guard let type = (properties[key] as? [String: Any])?["type"] as? String else { continue }
            switch type {
            case "string": XCTAssertTrue(value is String, key)
            case "array": XCTAssertTrue(value is [Any], key)
            case "boolean": XCTAssertTrue(value is Bool, key)
            case "integer", "number": XCTAssertTrue(value is NSNumber, key)
            default: break
            }
        }
        let common = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: RolloutFixtures.packageRoot.appendingPathComponent("schemas/common.json"))) as? [String: Any])
        let toolCallSchema = try XCTUnwrap((common["$defs"] as? [String: Any])?["tool_call"] as? [String: Any])
        let call = try XCTUnwrap((object["tool_calls"] as? [[String: Any]])?.first)
        for key in try XCTUnwrap(toolCallSchema["required"] as? [String]) { XCTAssertNotNil(call[key], "tool call misses \(key)") }
        XCTAssertEqual(call["status"] as? String, "ok")
        XCTAssertEqual(object["loss_mask"] as? [Int], trajectory.lossMask.map(Int.init))
    }

    /// C = 0 runs nothing; C = 1 runs the first block only; C = 2 runs both, and the second output (an error)
    /// is masked as exactly as the first (the published per-turn mask got this wrong).
    func testMaximumToolCallsZeroOneTwo() async throws {
        let script = codeTurn + failingTurn + answerTurn
        let (engine, model) = try await engine(scripts: [script])
        let prompt = try engine.prompts.tokens(for: problem.problem, template: .torl)
        let eos = try endOfSequence()
        let first = "\n```output\n42\n```\n"
        let second = "\n```output\nZeroDivisionError: division by zero\n```\n"

        let none = try await runOne(engine, settings(calls: 0))
        XCTAssertEqual(none.tokenIDs, prompt + (try ids(script)) + [eos])
        XCTAssertEqual(none.text, script)
        XCTAssertTrue(none.toolCalls.isEmpty)
        XCTAssertTrue(none.hasCode)
        XCTAssertFalse(none.codeExecuted || none.effectiveCode)
        try assertTokenExact(none, expectedLogprob: model.forcedLogprob)

        let one = try await runOne(engine, settings(calls: 1))
        XCTAssertEqual(one.tokenIDs, prompt + (try ids(codeTurn)) + (try ids(first))
                       + (try ids(failingTurn + answerTurn)) + [eos])
        XCTAssertEqual(one.toolCalls.map(\.status), [.ok])
        XCTAssertEqual(one.segments.map(\.kind), [.reasoning, .code, .output, .reasoning, .code, .reasoning])
        try assertTokenExact(one, expectedLogprob: model.forcedLogprob)

        let two = try await runOne(engine, settings(calls: 2))
        XCTAssertEqual(two.tokenIDs, prompt + (try ids(codeTurn)) + (try ids(first)) + (try ids(failingTurn))
                       + (try ids(second)) + (try ids(answerTurn)) + [eos])
        XCTAssertEqual(two.text, codeTurn + first + failingTurn + second + answerTurn)
        XCTAssertEqual(two.toolCalls.map(\.status), [.ok, .error])
        XCTAssertEqual(two.toolCalls.map(\.code), ["print(6*7)", "print(1/0)"])
        XCTAssertTrue(two.codeFailed)
        XCTAssertFalse(two.codeExecuted)
        XCTAssertEqual(two.lossMask.filter { $0 == 0 }.count,
                       prompt.count + (try ids(first)).count + (try ids(second)).count)
        try assertTokenExact(two, expectedLogprob: model.forcedLogprob)
    }

    /// Rewards by hand: +1 / -1, and the -0.5 penalty only where code failed, never for responses without code.
    func testRewardsWithAndWithoutTheExecutabilityPenalty() async throws {
        let scripts = [
            codeTurn + answerTurn,                                  // code ok, correct:       +1
            "Let us check.\n```python\nprint(1/0)\n```" + answerTurn, // code failed, correct:  +1 - 0.5
            "Let us check.\n```python\nprint(1/0)\n```The answer is \\boxed{41}.", // failed, wrong: -1.5
            "Let me think. The answer is \\boxed{41}.",             // no code, wrong:         -1
            "Let me think. It is 42.",                              // no code, no answer:     -1
        ]
        let (engine, model) = try await engine(scripts: scripts)
        let penalised = try await engine.run(problems: [problem], settings: settings(group: 5, penalty: -0.5))
        XCTAssertEqual(penalised.map(\.reward), [1, 0.5, -1.5, -1, -1])
        XCTAssertEqual(penalised.map(\.sample), [0, 1, 2, 3, 4])
        XCTAssertEqual(penalised.map(\.group), [0, 0, 0, 0, 0])
        XCTAssertEqual(penalised.map(\.answer), ["42", "42", "41", "41", nil])
        XCTAssertEqual(penalised.map(\.grade.verdict), [.correct, .correct, .incorrect, .incorrect, .noAnswer])
        XCTAssertEqual(penalised.map(\.codeFailed), [false, true, true, false, false])
        XCTAssertEqual(penalised.map(\.hasCode), [true, true, true, false, false])
        for trajectory in penalised { try assertTokenExact(trajectory, expectedLogprob: model.forcedLogprob) }

        var custom = settings(group: 5)
        custom.rewards = RewardValues(correct: 2, incorrect: -3, executionFailurePenalty: 0)
        let plain = try await engine.run(problems: [problem], settings: custom)
        XCTAssertEqual(plain.map(\.reward), [2, 2, -3, -3, -3])
    }

    func testUnboxedAnswersCountOnlyWhenAcceptedAndRestatedArithmeticOnlyWhenAllowed() async throws {
        let scripts = ["Let me think. The answer is 42.", "Let me think. The answer is 41.", "Let me think. It is 42.",
                       "Let me think. The answer is 6 \\times 7."]
        let (engine, _) = try await engine(scripts: scripts)
        let strict = try await engine.run(problems: [problem], settings: settings(group: 4))
        XCTAssertEqual(strict.map(\.grade.verdict), [.noAnswer, .noAnswer, .noAnswer, .noAnswer])
        XCTAssertEqual(strict.map(\.reward), [-1, -1, -1, -1])
        var lenient = settings(group: 4)
        lenient.acceptsUnboxedAnswers = true
        let accepted = try await engine.run(problems: [problem], settings: lenient)
        XCTAssertEqual(accepted.map(\.grade.verdict), [.correct, .incorrect, .noAnswer, .correct])
        XCTAssertEqual(accepted.map(\.answer), ["42", "41", nil, "6 \\times 7"])
        XCTAssertEqual(accepted.map(\.reward), [1, -1, -1, 1])
        var evaluated = lenient
        evaluated.requiresEvaluatedAnswers = true
        let computed = try await engine.run(problems: [problem], settings: evaluated)
        XCTAssertEqual(computed.map(\.grade.verdict), [.correct, .incorrect, .noAnswer, .incorrect])
        XCTAssertEqual(computed.map(\.grade.rule), [.identical, .exactRational, .noAnswer, .unevaluated])
        XCTAssertEqual(computed.map(\.reward), [1, -1, -1, -1])
    }

    /// The sandbox's own failures are not the code's: no penalty, not counted as failed, not executed either;
    /// the model still sees the sandbox's message.
    func testSandboxFailuresAreNotPenalisedAsCodeFailures() async throws {
        let broken = FixedResultExecutor(result: ExecutionResult(status: .sandboxError, message: "worker died"))
        let (engine, model) = try await engine(scripts: [codeTurn + answerTurn], executor: broken)
        let trajectory = try await runOne(engine, settings(penalty: -0.5))
        XCTAssertEqual(trajectory.toolCalls.map(\.status), [.sandboxError])
        XCTAssertEqual(trajectory.toolCalls.first?.observation, "\n```output\nworker died\n```\n")
        XCTAssertFalse(trajectory.codeFailed)
        XCTAssertFalse(trajectory.codeExecuted)
        XCTAssertFalse(trajectory.effectiveCode)
        XCTAssertEqual(trajectory.reward, 1)
        try assertTokenExact(trajectory, expectedLogprob: model.forcedLogprob)
    }

    /// Effective code needs a successful output before the final answer; an answer given before the code ran
    /// is not effective, and a timeout is a code failure with the published timeout message.
    func testEffectiveCodeAndTimeoutObservation() async throws {
        let scripts = ["Let me guess \\boxed{42} first.\n```python\nprint(6*7)\n```",
                       "Let it spin.\n```python\nwhile True: pass\n```The answer is \\boxed{42}."]
        let (engine, _) = try await engine(scripts: scripts)
        var timed = settings(group: 2, penalty: -0.5)
        timed.executionLimits = ExecutionLimits(wallTimeoutSeconds: 0.5, cpuSeconds: 0.5)
        let trajectories = try await engine.run(problems: [problem], settings: timed)
        XCTAssertEqual(trajectories.map(\.codeExecuted), [true, false])
        XCTAssertEqual(trajectories.map(\.effectiveCode), [false, false])
        XCTAssertEqual(trajectories[1].toolCalls.map(\.status), [.timeout])
        XCTAssertEqual(trajectories[1].toolCalls.first?.output, ObservationOptions().timeoutMessage)
        XCTAssertEqual(trajectories.map(\.reward), [1, 0.5])
    }

    /// While one stream waits for a slow tool call, the others keep decoding and finish first; the waiting
    /// stream then resumes with its observation.
    func testOtherStreamsDecodeWhileOneWaitsForTheSandbox() async throws {
        let slow = DelayedExecutor(base: try await pool(), delaySeconds: 0.4)
        let scripts = [codeTurn + answerTurn, "Let me think. The answer is \\boxed{42}."]
        let (engine, model) = try await engine(scripts: scripts, executor: slow)
        var order: [String] = []
        let trajectories = try await engine.run(problems: [problem, problem], settings: settings(group: 2)) { event in
            switch event {
            case .toolCall(let key, _, _): order.append("call \(key.group).\(key.sample)")
            case .toolResult(let key, _, _): order.append("result \(key.group).\(key.sample)")
            case .finished(let key, _): order.append("finished \(key.group).\(key.sample)")
            case .text: break
            }
        }
        XCTAssertEqual(trajectories.count, 4)
        // Both code streams called first; both no-code streams finished before any result came back.
        XCTAssertEqual(Array(order.prefix(4)).sorted(), ["call 0.0", "call 1.0", "finished 0.1", "finished 1.1"])
        XCTAssertEqual(Set(order.suffix(4)), ["result 0.0", "result 1.0", "finished 0.0", "finished 1.0"])
        XCTAssertEqual(trajectories.map(\.reward), [1, 1, 1, 1])
        for trajectory in trajectories { try assertTokenExact(trajectory, expectedLogprob: model.forcedLogprob) }
    }

    /// Cancelling the task that runs a rollout ends it between two steps with CancellationError.
    func testCancellingTheTaskEndsTheRollout() async throws {
        let (engine, _) = try await engine(scripts: [codeTurn + answerTurn])
        let cancelled = expectation(description: "cancelled")
        let task = Task { () -> Error? in
            do {
                _ = try await engine.run(problems: [problem], settings: settings(), observer: { event in
                    if case .toolCall = event { withUnsafeCurrentTask { $0?.cancel() } }
                })
                return nil
            } catch {
                cancelled.fulfill()
                return error
            }
        }
        await fulfillment(of: [cancelled], timeout: 30)
        let error = await task.value
        XCTAssertTrue(error is CancellationError, "\(String(describing: error))")
    }

    /// One problem of a shared batch is abandoned while its tool call runs: its stream stops at the next step
    /// (the late tool result is dropped), the other problem is decoded to the end as if alone.
    func testCancellingOneProblemStopsOnlyItsStreams() async throws {
        let other = Problem(id: "p2", problem: "What is 6 times 7, again?", answer: "42")
        let (engine, _) = try await engine(scripts: [codeTurn + answerTurn])  // every problem's sample 0
        final class Flags { var abandoned = false; var toolCallsAfterCancel = 0 }
        let flags = Flags()
        let trajectories = try await engine.run(problems: [problem, other], settings: settings(),
                                                isProblemCancelled: { $0 == 0 && flags.abandoned }) { event in
            if case .toolCall(let key, _, _) = event, key.group == 0 { flags.abandoned = true }
            if case .toolResult(let key, _, _) = event, key.group == 0 { flags.toolCallsAfterCancel += 1 }
        }
        XCTAssertEqual(trajectories.count, 2)
        XCTAssertEqual(trajectories[0].finishReason, "cancelled")
        XCTAssertTrue(trajectories[0].toolCalls.isEmpty, "the abandoned call's result must not be inserted")
        XCTAssertEqual(flags.toolCallsAfterCancel, 0)
        XCTAssertFalse(trajectories[0].text.contains("The answer is"), trajectories[0].text)
        XCTAssertEqual(trajectories[1].finishReason, "eos")
        XCTAssertEqual(trajectories[1].reward, 1)
        XCTAssertEqual(trajectories[1].toolCalls.map(\.status), [.ok])
        XCTAssertTrue(trajectories[1].text.hasSuffix("```output\n42\n```\n" + answerTurn), trajectories[1].text)
        for trajectory in trajectories { try assertTokenExact(trajectory) }
    }

    /// The abandoned problem's tool call is still running when the other problem finishes: the run ends without
    /// waiting for it (its result would be dropped anyway).
    func testAnAbandonedToolCallDoesNotHoldBackTheBatch() async throws {
        /// The first call to reach the executor takes 3 s more and says so in its `wallMs`. The engine starts each
        /// call in its own task, so which problem's call arrives first is up to the scheduler: a run where problem
        /// 1's call was the slow one does not set up the case and is repeated.
        final class FirstCallSlowExecutor: CodeExecutor, @unchecked Sendable {
            static let delaySeconds = 3.0
            let base: CodeExecutor
            private let calls = NSLock()
            private var count = 0
            init(base: CodeExecutor) { self.base = base }
            func execute(_ code: String, limits: ExecutionLimits?) async -> ExecutionResult {
                let first = calls.withLock { count += 1; return count == 1 }
                if first { try? await Task.sleep(nanoseconds: UInt64(Self.delaySeconds * 1e9)) }
                var result = await base.execute(code, limits: limits)
                if first { result.wallMs += Self.delaySeconds * 1000 }
                return result
            }
        }
        final class Flags { var abandoned = false }
        let other = Problem(id: "p2", problem: "What is 6 times 7, again?", answer: "42")
        for _ in 0..<5 {
            let (engine, _) = try await engine(scripts: [codeTurn + answerTurn],
                                               executor: FirstCallSlowExecutor(base: try await pool()))
            let flags = Flags()
            let started = Date()
            let trajectories = try await engine.run(problems: [problem, other], settings: settings(),
                                                    isProblemCancelled: { $0 == 0 && flags.abandoned },
                                                    observer: { event in
                if case .toolCall(let key, _, _) = event, key.group == 0 { flags.abandoned = true }
            })
            XCTAssertEqual(trajectories.map(\.finishReason), ["cancelled", "eos"])
            XCTAssertEqual(trajectories[1].reward, 1)
            let otherCall = try XCTUnwrap(trajectories[1].toolCalls.first)
            if otherCall.wallMs >= FirstCallSlowExecutor.delaySeconds * 1000 { continue }  // problem 1 got the slow call
            XCTAssertLessThan(Date().timeIntervalSince(started), 2.5, "the run waited for the abandoned 3 s call")
            return
        }
        XCTFail("in 5 runs the slow call never went to the abandoned problem")
    }

    /// A tool call that takes 5 s, standing in for a slow sandbox run; nothing of it outlives the test but a sleep.
    struct FiveSecondExecutor: CodeExecutor {
        static let seconds = 5.0
        func execute(_ code: String, limits: ExecutionLimits?) async -> ExecutionResult {
            try? await Task.sleep(nanoseconds: UInt64(Self.seconds * 1e9))
            return ExecutionResult(status: .ok, exitCode: 0, stdout: "42\n", wallMs: Self.seconds * 1000)
        }
    }

    /// A moment set on one thread and read on others.
    final class Moment: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Date?
        var date: Date? { lock.withLock { value } }
        func mark() { lock.withLock { value = Date() } }
    }

    /// Every stream of the batch waits on a 5 s tool call when their requesters go away (0.3 s into the calls,
    /// from another thread, as a client disconnecting would): the run sees it within its poll of the
    /// cancellations and returns, not when the calls come back.
    func testCancelledProblemsAreSeenWhileEveryStreamWaitsOnATool() async throws {
        let (engine, _) = try await engine(scripts: [codeTurn + answerTurn], executor: FiveSecondExecutor())
        let abandoned = Moment()
        var calls = 0
        let other = Problem(id: "p2", problem: "What is 6 times 7, again?", answer: "42")
        let started = Date()
        let trajectories = try await engine.run(problems: [problem, other], settings: settings(),
                                                isProblemCancelled: { _ in abandoned.date != nil }) { event in
            guard case .toolCall = event else { return }
            calls += 1
            // Both streams are parked on their calls once the second one starts; the run now only waits.
            if calls == 2 { DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { abandoned.mark() } }
        }
        let total = Date().timeIntervalSince(started)
        let seen = Date().timeIntervalSince(try XCTUnwrap(abandoned.date, "the run ended before its problems were abandoned"))
        XCTAssertEqual(trajectories.map(\.finishReason), ["cancelled", "cancelled"])
        XCTAssertTrue(trajectories.allSatisfy(\.toolCalls.isEmpty))
        XCTAssertLessThan(seen, 1, "the run ended \(seen) s after its problems were abandoned: it waited for the 5 s calls")
        XCTAssertLessThan(total, 3, "the whole run took \(total) s")
    }

    /// The same for the task: cancelling it while every stream waits on a tool ends the run at once.
    func testCancellingTheTaskWhileEveryStreamWaitsOnAToolEndsTheRollout() async throws {
        let (engine, _) = try await engine(scripts: [codeTurn + answerTurn], executor: FiveSecondExecutor())
        let called = expectation(description: "tool call started")
        let task = Task { () -> Error? in
            do {
                _ = try await engine.run(problems: [problem], settings: settings(), observer: { event in
                    if case .toolCall = event { called.fulfill() }
                })
                return nil
            } catch {
                return error
            }
        }
        await fulfillment(of: [called], timeout: 30)
        try await Task.sleep(nanoseconds: 300_000_000)  // the run is waiting on the call by now
        let cancelled = Date()
        task.cancel()
        let error = await task.value
        let seen = Date().timeIntervalSince(cancelled)
        XCTAssertTrue(error is CancellationError, "\(String(describing: error))")
        XCTAssertLessThan(seen, 1, "the run ended \(seen) s after it was cancelled: it waited for the 5 s call")
    }

    /// Streamed deltas (sampled and inserted) join to the final text; tool events carry the code and result.
    func testObserverStreamsTextToolCallsAndResults() async throws {
        let (engine, _) = try await engine(scripts: [codeTurn + answerTurn])
        var text = "", insertedText = "", calls: [String] = [], results: [ToolCallRecord] = []
        let trajectory = try await runOne(engine, settings()) { event in
            switch event {
            case .text(_, let delta, let inserted):
                text += delta
                if inserted { insertedText += delta }
            case .toolCall(_, _, let code): calls.append(code)
            case .toolResult(_, _, let call): results.append(call)
            case .finished: break
            }
        }
        XCTAssertEqual(text, trajectory.text)
        XCTAssertEqual(insertedText, "\n```output\n42\n```\n")
        XCTAssertEqual(calls, ["print(6*7)"])
        XCTAssertEqual(results, trajectory.toolCalls)
    }

    /// The response budget counts inserted tokens: an observation that does not fit is cut, and the response
    /// ends at exactly the budget.
    func testObservationIsCutAtTheResponseBudget() async throws {
        let (engine, model) = try await engine(scripts: [codeTurn + answerTurn])
        let budget = (try ids(codeTurn)).count + 3
        let trajectory = try await runOne(engine, settings(maxTokens: budget))
        XCTAssertEqual(trajectory.responseLength, budget)
        XCTAssertEqual(trajectory.finishReason, "max_tokens")
        XCTAssertEqual(trajectory.toolCalls.first?.tokenCount, 3)
        XCTAssertEqual(trajectory.toolCalls.first?.truncated, true)
        XCTAssertEqual(trajectory.reward, -1)
        try assertTokenExact(trajectory, expectedLogprob: model.forcedLogprob)
    }

    func testPromptOverTheLimitFinishesUnstartedWithTheIncorrectReward() async throws {
        let (engine, _) = try await engine(scripts: [answerTurn])
        var limited = settings(group: 2)
        limited.maxPromptTokens = 5
        let trajectories = try await engine.run(problems: [problem], settings: limited)
        XCTAssertEqual(trajectories.map(\.finishReason), ["prompt_too_long", "prompt_too_long"])
        XCTAssertEqual(trajectories.map(\.reward), [-1, -1])
        XCTAssertEqual(trajectories[0].responseLength, 0)
    }

    func testInvalidSettingsAreRejectedByName() async throws {
        let (engine, _) = try await engine(scripts: [answerTurn])
        var bad = settings()
        bad.groupSize = 0
        do {
            _ = try await engine.run(problems: [problem], settings: bad)
            XCTFail("group size 0 was accepted")
        } catch let error as RolloutError {
            XCTAssertEqual(error, .invalidSettings("group size must be >= 1, got 0"))
        }
    }

    func testTemplatesRenderThePublishedPromptAndChatML() throws {
        let builder = PromptBuilder(tokenizer: try tokenizer, chatTemplate: try tokenizer.chatTemplate())
        XCTAssertEqual(try builder.text(for: "1+1?", template: .torl),
                       "A conversation between User and Assistant. The user asks a question, and the Assistant solves it.\nUser: Please integrate natural language reasoning with programs to solve the problem above, and put your final answer within \\boxed{}.\n1+1?\nAssistant:\n")
        let chat = try builder.text(for: "1+1?", template: .chat)
        XCTAssertTrue(chat.hasSuffix("<|im_start|>user\n\(PromptTemplate.instruction)\n1+1?<|im_end|>\n<|im_start|>assistant\n"), chat)
        let chatIDs = try builder.tokens(for: "1+1?", template: .chat)
        XCTAssertTrue(chatIDs.contains(try XCTUnwrap(try tokenizer.specialTokenID("<|im_start|>"))))
        // The plain-text prompt never turns problem text into special tokens.
        let hostile = try builder.tokens(for: "<|im_end|>", template: .torl)
        XCTAssertFalse(hostile.contains(try XCTUnwrap(try tokenizer.specialTokenID("<|im_end|>"))))
        XCTAssertThrowsError(try PromptBuilder(tokenizer: try tokenizer, chatTemplate: nil).text(for: "x", template: .chat))
    }

    func testInstructionReplacesThePublishedOneInBothTemplates() throws {
        let builder = PromptBuilder(tokenizer: try tokenizer, chatTemplate: try tokenizer.chatTemplate())
        let instruction = "Write Python that prints the answer."
        XCTAssertEqual(try builder.text(for: "1+1?", template: .torl, instruction: instruction),
                       "A conversation between User and Assistant. The user asks a question, and the Assistant solves it.\nUser: Write Python that prints the answer.\n1+1?\nAssistant:\n")
        let chat = try builder.text(for: "1+1?", template: .chat, instruction: instruction)
        XCTAssertTrue(chat.hasSuffix("<|im_start|>user\nWrite Python that prints the answer.\n1+1?<|im_end|>\n<|im_start|>assistant\n"), chat)
        var empty = RolloutSettings()
        empty.instruction = ""
        XCTAssertThrowsError(try empty.validate()) { error in
            XCTAssertEqual(error as? RolloutError, .invalidSettings("instruction must not be empty"))
        }
    }

    func testCodeBlockScannerAndObservationLayout() {
        let text = "a\n```python\nx = 1\nprint(x)\n```\nb\n```text\nnot code\n```\n```py\nprint(2)\n```"
        let blocks = CodeBlockScanner.pythonBlocks(in: text[...])
        XCTAssertEqual(blocks.map(\.code), ["x = 1\nprint(x)", "print(2)"])
        XCTAssertEqual(String(text[blocks[0].range]), "```python\nx = 1\nprint(x)\n```")
        // An unclosed block is not complete; a lone fence outside a block opens one, it does not close.
        XCTAssertTrue(CodeBlockScanner.pythonBlocks(in: "```python\nprint(1)\n"[...]).isEmpty)
        XCTAssertTrue(CodeBlockScanner.pythonBlocks(in: "see\n```"[...]).isEmpty)
        // Text after the closing backticks on the fence line is not part of the block.
        let trailing = "```python\nx = 1\n```So x is 1."
        let trailingBlocks = CodeBlockScanner.pythonBlocks(in: trailing[...])
        XCTAssertEqual(trailingBlocks.map { String(trailing[$0.range]) }, ["```python\nx = 1\n```"])

        let result = ExecutionResult(status: .ok, stdout: "42\n")
        let observation = observationText(result)
        XCTAssertEqual(ObservationLayout.insertedText(afterSampledText: "```", observation: observation, trigger: .blockClose),
                       "\n" + formatObservation(result))
        XCTAssertEqual(ObservationLayout.insertedText(afterSampledText: "```\n", observation: observation, trigger: .blockClose),
                       formatObservation(result))
        XCTAssertEqual(ObservationLayout.insertedText(afterSampledText: "```output", observation: observation,
                                                      trigger: .outputMarker), "\n42\n```\n")
        XCTAssertEqual(ToolTrigger.outputMarker.codeToRun(inTurn: "x\n```python\na=1\n```\n```output"), "a=1")
        XCTAssertNil(ToolTrigger.outputMarker.codeToRun(inTurn: "no code\n```output"))
    }
}

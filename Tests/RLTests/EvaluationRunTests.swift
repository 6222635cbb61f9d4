import Foundation
import Generation
import Sandbox
import Tokenizers
import XCTest
@testable import RL

/// A whole benchmark run through the rollout engine (scripted model, real tokenizer, real Python), with the
/// figures checked against hand counts, plus one real-model smoke run.
final class EvaluationRunTests: XCTestCase {
    static var sharedPool: SandboxPool?

    override class func tearDown() {
        if let pool = sharedPool {
            let done = DispatchSemaphore(value: 0)
            Task { await pool.shutdown(); done.signal() }
            done.wait()
        }
        super.tearDown()
    }

    func pool() async throws -> SandboxPool {
        if let pool = Self.sharedPool { return pool }
        let pool = try await RolloutFixtures.sandbox()
        Self.sharedPool = pool
        return pool
    }

    /// Two problems, three samples each. Sample 0 computes 42 with code, sample 1 answers 41 after failing code,
    /// sample 2 answers 42 without code. Problem A's reference is 42, problem B's is 41.
    func testEvaluationFiguresAndRecords() async throws {
        let tokenizer = try RolloutFixtures.tokenizer()
        let scripts = [
            "Let me compute.\n```python\nprint(6*7)\n```The answer is \\boxed{42}.",
            "Let us try.\n```python\nprint(1/0)\n```So \\boxed{41}.",
            "Let me think: \\boxed{42}.",
        ].map { tokenizer.encode($0, parseSpecial: false) }
        let model = ScriptedModel(vocabularySize: tokenizer.vocabularySize, scripts: scripts,
                                  endOfSequence: try XCTUnwrap(tokenizer.endOfSequenceIDs.min()))
        let engine = RolloutEngine(model: model, tokenizer: tokenizer, chatTemplate: try tokenizer.chatTemplate(),
                                   executor: try await pool())
        let problems = [Problem(id: "A", problem: "6*7?", answer: "42"), Problem(id: "B", problem: "41?", answer: "41")]
        var settings = RolloutSettings()
        settings.groupSize = 3
        settings.sampling = .greedy
        settings.maxResponseTokens = 100
        var records: [EvaluationRecord] = []
        var progress: [Int] = []
        let summary = try await Evaluator(engine: engine).run(
            problems: problems, settings: settings, onRecord: { records.append($0) },
            onProgress: { finished, total in
                XCTAssertEqual(total, 6)
                progress.append(finished)
            })
        XCTAssertEqual(progress, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(records.map(\.problemID).sorted(), ["A", "B"])
        let recordA = try XCTUnwrap(records.first { $0.problemID == "A" })
        XCTAssertEqual(recordA.correct, 2)
        XCTAssertEqual(recordA.majorityAnswer, "42")
        XCTAssertTrue(recordA.majorityCorrect)
        XCTAssertEqual(recordA.responses.map(\.answer), ["42", "41", "42"])
        XCTAssertEqual(recordA.responses[0].toolCalls.map(\.output), ["42"])
        let recordB = try XCTUnwrap(records.first { $0.problemID == "B" })
        XCTAssertEqual(recordB.correct, 1)
        XCTAssertFalse(recordB.majorityCorrect)

        let metrics = summary.metrics
        func value(_ name: String) throws -> Double { try XCTUnwrap(XCTUnwrap(metrics[name], name), name) }
        XCTAssertEqual(summary.problems, 2)
        XCTAssertEqual(try value("accuracy"), 0.5)              // sample 0: A right, B wrong
        XCTAssertEqual(try value("avg@3"), 0.5, accuracy: 1e-12) // (2/3 + 1/3) / 2
        // pass@1 = avg@3; pass@2: A 1 − C(1,2)/C(3,2) = 1, B 1 − C(2,2)/C(3,2) = 2/3; pass@3 = 1.
        XCTAssertEqual(try value("pass@1"), 0.5, accuracy: 1e-12)
        XCTAssertEqual(try value("pass@2"), (1 + 2.0 / 3) / 2, accuracy: 1e-12)
        XCTAssertEqual(try value("pass@3"), 1)
        XCTAssertEqual(try value("maj@3"), 0.5)
        XCTAssertEqual(try value("code_share"), 4.0 / 6)
        XCTAssertEqual(try value("code_executed_share"), 0.5)  // of the 4 responses with a call, 2 ran ok
        XCTAssertEqual(try value("effective_code_share"), 2.0 / 6)
        XCTAssertEqual(try value("calls_ok"), 2)
        XCTAssertEqual(try value("calls_error"), 2)
        XCTAssertEqual(try value("finish_eos"), 6)

        // Records are Codable JSON with the snake_case keys the daemon and the CLI write.
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(recordA)) as? [String: Any]
        XCTAssertEqual(Set(try XCTUnwrap(json).keys),
                       ["problem_id", "problem", "reference", "responses", "correct", "majority_answer", "majority_correct"])
    }

    /// The real SmolLM2 model through the whole path (chat template, shared prefill and forked caches, a real
    /// tool call in real Python). Greedy SmolLM2-135M answers this prompt with a python block, so the trigger
    /// fires; both samples are greedy and must agree token for token, and be token-exact.
    func testRealModelSmokeRollout() async throws {
        let loaded = try LoadedModel.load(path: RolloutFixtures.modelPath)
        let engine = RolloutEngine(model: loaded.model, tokenizer: loaded.tokenizer,
                                   chatTemplate: try loaded.chatTemplate(), executor: try await pool())
        var settings = RolloutSettings()
        settings.template = .chat
        settings.groupSize = 2
        settings.sampling = .greedy
        settings.maxResponseTokens = 64
        let problem = Problem(id: "smoke", problem: "Write a Python program that prints 12*12.", answer: "144")
        let trajectories = try await engine.run(problems: [problem], settings: settings)
        XCTAssertEqual(trajectories.count, 2)
        XCTAssertEqual(trajectories[0].tokenIDs, trajectories[1].tokenIDs)
        let trajectory = try XCTUnwrap(trajectories.first)
        XCTAssertEqual(trajectory.toolCalls.count, 1, "the model wrote no python block: \(trajectory.text)")
        XCTAssertTrue(trajectory.segments.map(\.kind).starts(with: [.code, .output]), "\(trajectory.segments)")
        for trajectory in trajectories {
            try assertTrajectoryIsTokenExact(trajectory, tokenizer: loaded.tokenizer)
        }
    }
}

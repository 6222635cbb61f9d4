import Foundation
import XCTest
@testable import Daemon
import JSONRPC
import RL
import TorlProtocol

/// The sampling, prompt and tool fields shared by solve, rollout, train_step and evaluate.
final class GenerationOptionsTests: XCTestCase {
    func testSharedFieldsReachTheRolloutSettingsOfEveryMethod() throws {
        let shared: [String: JSONValue] = [
            "instruction": "Reply with the number only.", "accept_unboxed_answers": true, "require_evaluated_answers": true, "trigger": "output_marker",
            "max_prompt_tokens": 77, "template": "chat", "max_tokens": 12, "temperature": 0.5, "top_p": 0.9,
            "top_k": 5, "max_tool_calls": 2, "stop": ["\nUser:", "Q:"],
        ]
        func with(_ own: [String: JSONValue]) -> JSONValue { .object(shared.merging(own) { $1 }) }
        let options = [
            try ParamsDecoding.decode(SolveParams.self, from: with(["problem": "1+1"])).options,
            try ParamsDecoding.decode(RolloutParams.self, from: with(["problems": [["problem": "1+1"]]])).options,
            try ParamsDecoding.decode(EvaluateParams.self, from: with(["dataset": "d.jsonl", "batch": 3])).options,
            try ParamsDecoding.decode(TrainStepParams.self, from: with(["problems": [["problem": "1+1"]]])).options,
        ]
        for option in options {
            let settings = try option.settings(over: RolloutSettings())
            XCTAssertEqual(settings.instruction, "Reply with the number only.")
            XCTAssertTrue(settings.acceptsUnboxedAnswers)
            XCTAssertTrue(settings.requiresEvaluatedAnswers)
            XCTAssertEqual(settings.trigger, .outputMarker)
            XCTAssertEqual(settings.maxPromptTokens, 77)
            XCTAssertEqual(settings.template, .chat)
            XCTAssertEqual(settings.maxResponseTokens, 12)
            XCTAssertEqual(settings.maxToolCalls, 2)
            XCTAssertEqual(settings.sampling.temperature, 0.5)
            XCTAssertEqual(settings.sampling.topK, 5)
            XCTAssertEqual(settings.stopStrings, ["\nUser:", "Q:"])
        }
        // Absent fields keep the method's defaults.
        let plain = try ParamsDecoding.decode(SolveParams.self, from: ["problem": "1+1"]).options.settings(over: RolloutSettings())
        XCTAssertNil(plain.instruction)
        XCTAssertFalse(plain.acceptsUnboxedAnswers)
        XCTAssertFalse(plain.requiresEvaluatedAnswers)
        XCTAssertEqual(plain.trigger, .blockClose)
        XCTAssertEqual(plain.maxPromptTokens, RolloutSettings().maxPromptTokens)
        XCTAssertEqual(plain.stopStrings, [])
    }

    func testBadFieldsAreInvalidParamsNamingTheField() async throws {
        let fixture = try await DaemonFixture.get()
        let client = try await fixture.client()
        defer { Task { try? await client.shutdownAndExit() } }
        let cases: [(String, JSONValue, String)] = [
            ("solve", ["problem": "1+1", "instruction": "   "], "instruction"),
            ("solve", ["problem": "1+1", "trigger": "on_demand"], "trigger"),
            ("solve", ["problem": "1+1", "max_prompt_tokens": 0], "max_prompt_tokens"),
            ("solve", ["problem": "1+1", "stop": ["User:", ""]], "stop"),
            ("rollout", ["problems": [["problem": "1+1"]], "stop": "User:"], "stop"),
            ("rollout", ["problems": [["problem": "1+1"]], "accept_unboxed_answers": "yes"], "accept_unboxed_answers"),
            ("evaluate", ["problems": [["problem": "1+1", "answer": "2"]], "batch": 0], "batch"),
            ("train_step", ["problems": [["problem": "1+1", "answer": "2"]], "warmup_steps": 3, "cosine_total_steps": 2], "cosine_total_steps"),
            ("train_step", ["problems": [["problem": "1+1", "answer": "2"]], "min_lr_ratio": 1.5], "min_lr_ratio"),
            ("train_step", ["problems": [["problem": "1+1", "answer": "2"]], "warmup_steps": -1], "warmup_steps"),
        ]
        for (method, params, field) in cases {
            do {
                _ = try await client.request(method, params: params)
                XCTFail("\(method) accepted \(params)")
            } catch let error as RPCError {
                XCTAssertEqual(error.code, RPCError.invalidParamsCode, "\(method) \(params): \(error)")
                XCTAssertEqual(error.data?["field"]?.stringValue, field, "\(method) \(params): \(error)")
            }
        }
    }

    /// The fields change what the model is given: a shorter instruction makes a shorter prompt, and a prompt over
    /// max_prompt_tokens is not generated at all.
    func testInstructionAndPromptLimitChangeTheRealPrompt() async throws {
        let fixture = try await DaemonFixture.get()
        let client = try await fixture.client()
        defer { Task { try? await client.shutdownAndExit() } }
        func firstTrajectory(_ extra: [String: JSONValue]) async throws -> JSONValue {
            let params: [String: JSONValue] = ["problems": [["problem": "What is 2 + 3?", "answer": "5"]], "group_size": 1,
                                               "temperature": 0, "max_tokens": 1, "max_tool_calls": 0]
            let result = try await client.request("rollout", params: .object(params.merging(extra) { $1 }))
            return try XCTUnwrap(result["trajectories"]?.arrayValue?.first)
        }
        let published = try await firstTrajectory([:])
        let brief = try await firstTrajectory(["instruction": "Answer."])
        let publishedLength = try XCTUnwrap(published["prompt_length"]?.intValue)
        let briefLength = try XCTUnwrap(brief["prompt_length"]?.intValue)
        // The published instruction is about twenty tokens longer than "Answer.".
        XCTAssertGreaterThan(publishedLength - briefLength, 10, "published \(publishedLength), brief \(briefLength)")
        XCTAssertEqual(published["finish_reason"]?.stringValue, "max_tokens")

        let refused = try await firstTrajectory(["max_prompt_tokens": Int64(publishedLength - 1).jsonValue])
        XCTAssertEqual(refused["finish_reason"]?.stringValue, "prompt_too_long")
        let admitted = try await firstTrajectory(["max_prompt_tokens": Int64(publishedLength).jsonValue])
        XCTAssertEqual(admitted["finish_reason"]?.stringValue, "max_tokens")
    }

    /// A stop string ends the response where the model writes it (kept in the text, as the trainer needs every
    /// sampled token): the greedy response's own second word, taken from an unstopped run, stops the same run there.
    func testStopStringsEndTheResponseWhereTheyAreWritten() async throws {
        let fixture = try await DaemonFixture.get()
        let client = try await fixture.client()
        defer { Task { try? await client.shutdownAndExit() } }
        func firstTrajectory(_ extra: [String: JSONValue]) async throws -> JSONValue {
            let params: [String: JSONValue] = ["problems": [["problem": "What is 2 + 3?", "answer": "5"]], "group_size": 1,
                                               "temperature": 0, "max_tokens": 24, "max_tool_calls": 0]
            let result = try await client.request("rollout", params: .object(params.merging(extra) { $1 }))
            return try XCTUnwrap(result["trajectories"]?.arrayValue?.first)
        }
        let unstopped = try await firstTrajectory([:])
        let free = try XCTUnwrap(unstopped["text"]?.stringValue)
        let words = free.split(separator: " ", omittingEmptySubsequences: true)
        XCTAssertGreaterThan(words.count, 3, "the unstopped response must go on past its second word: \(free)")
        let stop = String(words[1])
        let stopped = try await firstTrajectory(["stop": .array([.string(stop)])])
        let text = try XCTUnwrap(stopped["text"]?.stringValue)
        XCTAssertEqual(stopped["finish_reason"]?.stringValue, "stop_string", text)
        XCTAssertTrue(text.hasSuffix(stop), "\(text) should end with \(stop)")
        XCTAssertTrue(free.hasPrefix(text), "the stopped response is the start of the free one: \(text) / \(free)")
        XCTAssertLessThan(text.count, free.count)
    }
}

extension Int64 {
    var jsonValue: JSONValue { .int(self) }
}

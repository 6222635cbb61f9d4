import Foundation
import XCTest
@testable import Daemon
import JSONRPC

/// `torl eval` and `torl train` as thin clients, run for real: against the fixture's daemon with --connect, and
/// with a private daemon over stdio.
final class CLIClientTests: XCTestCase {
    private func writeDataset(_ directory: URL) throws -> URL {
        let url = directory.appendingPathComponent("problems.jsonl")
        let lines = [#"{"id": "p1", "problem": "What is 2 + 3?", "answer": "5"}"#,
                     #"{"id": "p2", "problem": "What is 6 * 7?", "answer": "42"}"#,
                     #"{"id": "p3", "problem": "What is 9 - 4?", "answer": "5"}"#]
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    private func lines(of url: URL) throws -> [JSONValue] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { try JSONValue.parsing($0) }
    }

    func testEvalConnectPrintsTheSummaryAndTheDaemonWritesRecords() async throws {
        let fixture = try await DaemonFixture.get()
        let directory = try fixture.scratch("eval")
        let dataset = try writeDataset(directory)
        // Relative paths are the caller's: the command makes them absolute for the daemon.
        let run = try await TorlProcess.run(
            ["eval", "--connect", fixture.socket.description, "--dataset", "problems.jsonl", "--limit", "2",
             "--max-tokens", "8", "--max-tool-calls", "0", "--output", "records.jsonl", "--json",
             "--instruction", "Put the answer in \\boxed{}.", "--accept-unboxed-answers"], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        let summary = try JSONValue.parsing(run.stdout)
        XCTAssertEqual(summary["problems"]?.intValue, 2)
        XCTAssertEqual(summary["samples"]?.intValue, 1)
        XCTAssertNotNil(summary["accuracy"]?.doubleValue)
        XCTAssertGreaterThan(summary["elapsed_seconds"]?.doubleValue ?? 0, 0)
        XCTAssertLessThanOrEqual(summary["response_tokens_mean"]?.doubleValue ?? 99, 8)
        let records = try lines(of: directory.appendingPathComponent("records.jsonl"))
        XCTAssertEqual(records.compactMap { $0["problem_id"]?.stringValue }.sorted(), ["p1", "p2"])

        // The table form, as users read it.
        let table = try await TorlProcess.run(
            ["eval", "--connect", fixture.socket.description, "--dataset", dataset.path, "--limit", "1",
             "--max-tokens", "4", "--max-tool-calls", "0"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.hasPrefix(dataset.path + "\n"), table.stdout)
        XCTAssertTrue(table.stdout.contains("\n  accuracy "), table.stdout)
        XCTAssertTrue(table.stdout.contains("\n  problems                     1\n"), table.stdout)
    }

    /// Without --connect the command starts its own daemon over stdio (here at bf16 with one sandbox worker).
    func testEvalWithAPrivateDaemon() async throws {
        let fixture = try await DaemonFixture.get()
        let directory = try fixture.scratch("eval-private")
        _ = try writeDataset(directory)
        var environment = ProcessInfo.processInfo.environment
        environment["TORL_CONNECT"] = nil
        let run = try await TorlProcess.run(
            ["eval", "--weights", "bf16", "--pool-size", "1", "--dataset", "problems.jsonl", "--limit", "1",
             "--samples", "2", "--max-tokens", "6", "--max-tool-calls", "0", "--json"], in: directory,
            environment: environment)
        XCTAssertEqual(run.status, 0, run.stderr)
        let summary = try JSONValue.parsing(run.stdout)
        XCTAssertEqual(summary["problems"]?.intValue, 1)
        XCTAssertEqual(summary["samples"]?.intValue, 2)
        XCTAssertEqual(summary["trajectories"]?.intValue, 2)
        XCTAssertNotNil(summary["pass@2"]?.doubleValue)
    }

    func testEvalConnectRefusesAPoolSizeForASharedDaemon() async throws {
        let fixture = try await DaemonFixture.get()
        let run = try await TorlProcess.run(["eval", "--connect", fixture.socket.description, "--pool-size", "3",
                                             "--dataset", "/nonexistent.jsonl"])
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains("--pool-size only applies to a daemon this command starts"), run.stderr)
        XCTAssertEqual(run.stdout, "")
    }

    /// On a shared daemon whose trainer has unsaved steps, a client asking for another precision (model/load) or
    /// resuming a checkpoint (checkpoint/restore) stops with an error naming the step and the unsaved count, and
    /// the daemon keeps its model and trainer.
    func testClientsRefuseToDiscardAnotherClientsUnsavedTraining() async throws {
        let fixture = try await DaemonFixture.get()
        let directory = try fixture.scratch("unsaved-cli")
        let dataset = try writeDataset(directory)
        let client = try await fixture.client()
        // The refusal comes before the file is read: no checkpoint needs to exist.
        let checkpoint = directory.appendingPathComponent("ck.safetensors").path
        let trained = try await client.request("train_step", params: [
            "problems": [["id": "a", "problem": "What is 2 + 3?", "answer": "5"]], "group_size": 2, "max_tokens": 2,
            "max_tool_calls": 0, "seed": 4,
        ])
        let step = try XCTUnwrap(trained["step"]?.intValue)
        let before = try await client.request("status")
        let unsaved = try XCTUnwrap(before["training"]?["unsaved_steps"]?.intValue)
        XCTAssertGreaterThanOrEqual(unsaved, 1)
        let weights = try XCTUnwrap(before["model"]?["weights"]?.stringValue)
        let other = weights == "bf16" ? "f32" : "bf16"

        let eval = try await TorlProcess.run(
            ["eval", "--connect", fixture.socket.description, "--weights", other, "--dataset", dataset.path,
             "--limit", "1", "--max-tokens", "4", "--max-tool-calls", "0"])
        XCTAssertNotEqual(eval.status, 0)
        XCTAssertEqual(eval.stdout, "")
        XCTAssertTrue(eval.stderr.contains("(\(other)) would discard the daemon's trainer: it is at step \(step) with \(unsaved) step(s) not saved or exported"), eval.stderr)
        XCTAssertTrue(eval.stderr.contains("leave out --model/--weights"), eval.stderr)
        XCTAssertTrue(eval.stderr.contains("--discard-training"), eval.stderr)

        let resume = try await TorlProcess.run(
            ["train", "--connect", fixture.socket.description, "--synthetic", "--steps", String(step + 5),
             "--resume", checkpoint])
        XCTAssertNotEqual(resume.status, 0)
        XCTAssertTrue(resume.stderr.contains("resuming from \(checkpoint) would discard the daemon's trainer: it is at step \(step) with \(unsaved) step(s)"), resume.stderr)
        XCTAssertTrue(resume.stderr.contains("leave out --resume"), resume.stderr)

        let status = try await client.request("status")
        XCTAssertEqual(status["model"]?["weights"]?.stringValue, weights)
        XCTAssertEqual(status["training"]?["step"]?.intValue, step)
        XCTAssertEqual(status["training"]?["unsaved_steps"]?.intValue, unsaved)
        try await client.shutdownAndExit()
    }

    /// A trainer already at --steps has nothing to do: the command says so, with its step, and prints no summary.
    func testTrainConnectOnATrainerAtItsStepsSaysThereIsNothingToDo() async throws {
        let fixture = try await DaemonFixture.get()
        let directory = try fixture.scratch("nothing")
        let client = try await fixture.client()
        let trained = try await client.request("train_step", params: [
            "problems": [["id": "a", "problem": "What is 2 + 3?", "answer": "5"]], "group_size": 2, "max_tokens": 2,
            "max_tool_calls": 0, "seed": 6,
        ])
        let step = Int(try XCTUnwrap(trained["step"]?.intValue))
        try await client.shutdownAndExit()
        for steps in [step, max(1, step - 1)] {
            let run = try await TorlProcess.run(
                ["train", "--connect", fixture.socket.description, "--synthetic", "--steps", String(steps),
                 "--metrics", "metrics.jsonl", "--json"], in: directory)
            XCTAssertNotEqual(run.status, 0, "--steps \(steps) at step \(step)")
            XCTAssertEqual(run.stdout, "")
            XCTAssertTrue(run.stderr.contains("nothing to train: the trainer is already at step \(step), and --steps \(steps) is the total number of updates"), run.stderr)
            XCTAssertTrue(run.stderr.contains("pass --steps \(step + 1) or more"), run.stderr)
            let written = try String(contentsOf: directory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            XCTAssertEqual(written, "", "no step ran, so no metrics line")
        }
    }

    /// Options that would change nothing are refused before any daemon is reached, naming the conflict.
    func testTrainRefusesOptionsThatWouldBeIgnored() async throws {
        let cases: [([String], String)] = [
            (["--steps", "5", "--cosine", "--warmup-steps", "5"], "--warmup-steps (5) must be < --steps (5)"),
            (["--steps", "5", "--cosine", "--warmup-steps", "9"], "--warmup-steps (9) must be < --steps (5)"),
            (["--steps", "5", "--warmup-steps=-1"], "--warmup-steps must be >= 0"),
            (["--eval-limit", "3"], "--eval-dataset, --eval-limit and --eval-metrics only apply to the evaluations of --eval-every N"),
            (["--eval-dataset", "problems.jsonl"], "--eval-dataset, --eval-limit and --eval-metrics only apply to the evaluations of --eval-every N"),
            (["--eval-metrics", "eval.jsonl"], "--eval-dataset, --eval-limit and --eval-metrics only apply to the evaluations of --eval-every N"),
            (["--keep-checkpoints=-1"], "--eval-every, --checkpoint-every and --keep-checkpoints must be >= 0"),
        ]
        for (arguments, message) in cases {
            let run = try await TorlProcess.run(["train", "--connect", "unix:/nonexistent/torl.sock", "--synthetic"] + arguments)
            XCTAssertNotEqual(run.status, 0, "\(arguments)")
            XCTAssertTrue(run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
        // The same options in a consistent command line pass validation: the run gets as far as the (missing) daemon.
        let valid = try await TorlProcess.run(["train", "--connect", "unix:/nonexistent/torl.sock", "--synthetic",
                                               "--steps", "5", "--cosine", "--warmup-steps", "4", "--eval-every", "2",
                                               "--eval-dataset", "problems.jsonl", "--eval-limit", "3"])
        XCTAssertNotEqual(valid.status, 0)
        XCTAssertTrue(valid.stderr.contains("/nonexistent/torl.sock"), valid.stderr)
    }

    func testTrainConnectRunsOneStepAndAppendsItsMetrics() async throws {
        let fixture = try await DaemonFixture.get()
        let directory = try fixture.scratch("train")
        let client = try await fixture.client()
        let before = Int(try await client.request("status")["training"]?["step"]?.intValue ?? 0)
        try await client.shutdownAndExit()
        let run = try await TorlProcess.run(
            ["train", "--connect", fixture.socket.description, "--synthetic", "--count", "4", "--difficulty", "1",
             "--steps", String(before + 1), "--batch", "1", "--group-size", "2", "--max-tokens", "16",
             "--metrics", "metrics.jsonl", "--json"], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        let metrics = try lines(of: directory.appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(metrics.count, 1)
        let line = try XCTUnwrap(metrics.first)
        XCTAssertEqual(line["step"]?.intValue, Int64(before + 1))
        XCTAssertEqual(line["trained_tokens"]?.intValue.map { $0 > 0 }, true)
        XCTAssertLessThanOrEqual(line["mean_response_length"]?.doubleValue ?? 99, 16)
        for key in ["loss", "reward_mean", "gradient_norm", "learning_rate", "update_seconds"] {
            XCTAssertNotNil(line[key]?.doubleValue, "metrics line lacks \(key): \(line)")
        }
        let summary = try JSONValue.parsing(run.stdout)
        XCTAssertEqual(summary["step"]?.intValue, Int64(before + 1))
        XCTAssertEqual(summary["metrics"], line)
        XCTAssertTrue(run.stderr.contains("step \(before + 1)/\(before + 1)  reward"), run.stderr)
    }

    /// Two steps on the fixture's daemon with checkpoints, a greedy evaluation and an export; then a run on a
    /// private daemon (no --connect) resumed from the first checkpoint repeats the second step exactly (same
    /// problems, same seed, same weights), which is what "resume" promises.
    func testTrainCheckpointsExportsAndAResumedPrivateRunRepeatsTheStep() async throws {
        let fixture = try await DaemonFixture.get()
        let directory = try fixture.scratch("resume")
        _ = try writeDataset(directory)
        let client = try await fixture.client()
        let start = Int(try await client.request("status")["training"]?["step"]?.intValue ?? 0)
        try await client.shutdownAndExit()
        // A small entropy bonus gives every step a gradient, so the forward and backward passes run and their
        // figures exist to compare (a step whose rewards are all equal would skip them and report them as null).
        let common = ["train", "--synthetic", "--count", "6", "--difficulty", "1", "--steps", String(start + 2),
                      "--batch", "1", "--group-size", "2", "--max-tokens", "12", "--lr", "1e-4", "--seed", "3",
                      "--entropy", "1e-4"]
        let full = try await TorlProcess.run(
            common + ["--connect", fixture.socket.description, "--metrics", "full.jsonl", "--checkpoint-every", "1",
                      "--checkpoint-dir", "ck", "--eval-every", "1", "--eval-dataset", "problems.jsonl",
                      "--eval-limit", "1", "--export", "hf", "--json"], in: directory)
        XCTAssertEqual(full.status, 0, full.stderr)
        let summary = try JSONValue.parsing(full.stdout)
        XCTAssertEqual(summary["checkpoints"]?.arrayValue?.count, 2)
        XCTAssertEqual(summary["evaluations"]?[1]?["problems"]?.intValue, 1)
        XCTAssertTrue(full.stderr.contains("eval at step \(start + 2): accuracy"), full.stderr)
        let exported = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("hf").path)
        XCTAssertTrue(Set(exported).isSuperset(of: ["config.json", "model.safetensors", "tokenizer.json"]), "\(exported)")

        var environment = ProcessInfo.processInfo.environment
        environment["TORL_CONNECT"] = nil
        let checkpoint = "ck/step-\(start + 1).safetensors"
        let resumed = try await TorlProcess.run(
            common + ["--metrics", "resumed.jsonl", "--resume", checkpoint, "--pool-size", "1"], in: directory,
            environment: environment)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resumed from \(checkpoint) at step \(start + 1)"), resumed.stderr)
        let uninterrupted = try lines(of: directory.appendingPathComponent("full.jsonl"))
        let repeated = try lines(of: directory.appendingPathComponent("resumed.jsonl"))
        XCTAssertEqual(uninterrupted.count, 2)
        XCTAssertEqual(repeated.count, 1)
        // The same rollouts (same problems, seed and weights): what was sampled and scored is equal exactly.
        for key in ["step", "mean_response_length", "reward_mean", "trained_tokens", "accuracy", "forward_backward_skipped"] {
            XCTAssertEqual(repeated[0][key], uninterrupted[1][key], "step \(start + 2)'s \(key) after resume")
        }
        // The update's figures come from float reductions whose order may differ between the two processes.
        for key in ["entropy", "loss", "mean_ratio"] {
            let resumedValue = try XCTUnwrap(repeated[0][key]?.doubleValue), originalValue = try XCTUnwrap(uninterrupted[1][key]?.doubleValue)
            XCTAssertEqual(resumedValue, originalValue, accuracy: 1e-6 * max(1, abs(originalValue)), "step \(start + 2)'s \(key) after resume")
        }
    }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }
}

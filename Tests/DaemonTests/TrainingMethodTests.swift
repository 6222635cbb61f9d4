import Foundation
import SystemSupport
import XCTest
@testable import Daemon
import JSONRPC
import Models
import RL
import TorlProtocol

/// train_step's learning-rate schedule fields, model/load and the trainer, evaluate's progress, on the real daemon.
final class TrainingMethodTests: XCTestCase {
    private let problem: JSONValue = [["id": "add", "problem": "What is 2 + 3?", "answer": "5"]]

    /// train_step's `activations` chooses the trainer's activation policy (default keepAll); another value is
    /// -32602 naming the field. The conversion alone: no daemon needed.
    func testActivationsFieldChoosesThePolicyAndABadValueNamesTheField() throws {
        func hyperParameters(_ extra: [String: JSONValue]) throws -> RL.TrainingHyperParameters {
            let params: [String: JSONValue] = ["problems": problem]
            return try ParamsDecoding.decode(TrainStepParams.self, from: .object(params.merging(extra) { $1 }))
                .hyperParameters.trainingHyperParameters()
        }
        XCTAssertEqual(try hyperParameters([:]).activationPolicy, .keepAll)
        XCTAssertEqual(try hyperParameters(["activations": "keepAll"]).activationPolicy, .keepAll)
        let recomputing = try hyperParameters(["activations": "recomputePerLayer"])
        XCTAssertEqual(recomputing.activationPolicy, .recomputePerLayer)
        XCTAssertEqual(recomputing.trainerConfiguration(samplingTemperature: 1, responseBudget: 8).activationPolicy,
                       .recomputePerLayer)
        for bad: JSONValue in ["recompute_per_layer", "", 1] {
            do {
                _ = try hyperParameters(["activations": bad])
                XCTFail("activations \(bad) was accepted")
            } catch let error as RPCError {
                XCTAssertEqual(error.code, RPCError.invalidParamsCode, "\(error)")
                XCTAssertEqual(error.data?["field"]?.stringValue, "activations", "\(error)")
            }
        }
    }

    /// LoRA settings against the daemon's trainer: absent or equal ones keep it; an untouched trainer (made by
    /// checkpoint/save or model/export before any train_step) is replaced; any other is refused naming
    /// `lora_rank`, with what the trainer trains and what to do. The decision alone: no daemon needed.
    func testLoRASettingsReplaceAnUntouchedTrainerAndOtherwiseSayWhatToDo() throws {
        let rank8 = LoRAConfiguration(rank: 8), rank4 = LoRAConfiguration(rank: 4, alpha: 8, targets: [.q, .v])
        for untouched in [false, true] {
            XCTAssertEqual(try TrainingSlot.choice(current: nil, step: 0, untouched: untouched, wanted: nil), .keep)
            XCTAssertEqual(try TrainingSlot.choice(current: rank8, step: 0, untouched: untouched, wanted: nil), .keep)
            XCTAssertEqual(try TrainingSlot.choice(current: rank8, step: 3, untouched: untouched, wanted: rank8), .keep)
        }
        XCTAssertEqual(try TrainingSlot.choice(current: nil, step: 0, untouched: true, wanted: rank8), .replace)
        XCTAssertThrowsError(try TrainingSlot.choice(current: nil, step: 2, untouched: true, wanted: rank8),
                             "a trainer past step 0 is never replaced")
        for (current, step, trains) in [(nil, 0, "trains every weight"), (nil, 2, "trains every weight"),
                                        (rank4, 5, "trains LoRA rank 4, alpha 8.0, targets q,v")] as [(LoRAConfiguration?, Int, String)] {
            do {
                _ = try TrainingSlot.choice(current: current, step: step, untouched: false, wanted: rank8)
                XCTFail("LoRA rank 8 was accepted by a trainer at step \(step) training \(trains)")
            } catch let error as RPCError {
                XCTAssertEqual(error.code, RPCError.invalidParamsCode)
                XCTAssertEqual(error.data?["field"]?.stringValue, "lora_rank")
                for part in ["step \(step)", trains, "model/load", "discard_training", "first train_step",
                             "leave the LoRA settings out"] {
                    XCTAssertTrue(error.message.contains(part), "\(part) missing from: \(error.message)")
                }
            }
        }
    }

    /// Warmup is linear from the first update: update number s (0-based) of a warmup over W steps uses
    /// lr * (s + 1) / W. The step's `learning_rate` metric is the rate the update used.
    func testWarmupStepsShapeTheLearningRateOfTheUpdate() async throws {
        let fixture = try await DaemonFixture.get()
        let client = try await fixture.client()
        defer { Task { try? await client.shutdownAndExit() } }
        let before = Int(try await client.request("status")["training"]?["step"]?.intValue ?? -1)
        XCTAssertGreaterThanOrEqual(before, 0)
        let warmup = before + 4
        let result = try await client.request("train_step", params: [
            "problems": problem, "group_size": 2, "max_tokens": 4, "max_tool_calls": 0, "seed": 7,
            "learning_rate": 1e-4, "warmup_steps": .int(Int64(warmup)), "cosine_total_steps": .int(Int64(warmup + 10)),
            "min_lr_ratio": 0.1,
        ])
        XCTAssertEqual(result["step"]?.intValue, Int64(before + 1))
        let rate = try XCTUnwrap(result["metrics"]?["learning_rate"]?.doubleValue)
        XCTAssertEqual(rate, 1e-4 * Double(before + 1) / Double(warmup), accuracy: 1e-12)
        // No tool calls (C = 0) and no KL: both optional metrics are on the wire as null, not left out.
        XCTAssertEqual(result["metrics"]?["code_executed_share"], .null)
        XCTAssertEqual(result["metrics"]?["kl"], .null)
        let status = try await client.request("status")
        XCTAssertEqual(status["training"]?["step"]?.intValue, Int64(before + 1))
        XCTAssertEqual(status["training"]?["running"], .bool(false))
    }

    /// Another model (here: the same file at the other precision) gets a new trainer, reported at step 0, and
    /// the next train_step is that trainer's first. The trainer's steps are unsaved, so the load must say
    /// `discard_training`.
    func testModelLoadStartsANewTrainer() async throws {
        let fixture = try await DaemonFixture.get()
        let client = try await fixture.client()
        defer { Task { try? await client.shutdownAndExit() } }
        _ = try await client.request("train_step", params: [
            "problems": problem, "group_size": 2, "max_tokens": 2, "max_tool_calls": 0, "seed": 1,
        ])
        let trained = try await client.request("status")["training"]?["step"]?.intValue ?? 0
        XCTAssertGreaterThan(trained, 0)
        let path = try DaemonFixture.modelPath()
        let current = try await client.request("status")["model"]?["weights"]?.stringValue
        let other = current == "bf16" ? "f32" : "bf16"
        let info = try await client.request("model/load", params: [
            "path": .string(path), "weights": .string(other), "discard_training": true,
        ])
        XCTAssertEqual(info["weights"]?.stringValue, other)
        XCTAssertEqual(info["path"]?.stringValue, URL(fileURLWithPath: path).standardizedFileURL.path)
        let afterLoad = try await client.request("status")
        XCTAssertEqual(afterLoad["training"]?["step"]?.intValue, 0)
        let first = try await client.request("train_step", params: [
            "problems": problem, "group_size": 2, "max_tokens": 2, "max_tool_calls": 0, "seed": 1,
        ])
        XCTAssertEqual(first["step"]?.intValue, 1)
        // Back to f32, the precision the other tests assume nothing about but users start with.
        _ = try await client.request("model/load", params: ["path": .string(path), "weights": "f32", "discard_training": true])
    }

    /// LoRA on the wire, on the default model (a Llama GGUF: adjacent RoPE order) with a bf16 base: train_step's
    /// LoRA settings make the trainer, `status` shows it and its size, other settings are refused naming
    /// `lora_rank`, `model/export` with `adapter` writes the PEFT folder, and `model/load` with that `adapter`
    /// starts a trainer that continues those adapters.
    func testLoRATrainStepStatusExportAndAdapterLoad() async throws {
        let fixture = try await DaemonFixture.get()
        let client = try await fixture.client()
        defer { Task { try? await client.shutdownAndExit() } }
        let path = try DaemonFixture.modelPath()
        _ = try await client.request("model/load", params: ["path": .string(path), "weights": "bf16", "discard_training": true])
        let step: [String: JSONValue] = ["problems": problem, "group_size": 2, "max_tokens": 2, "max_tool_calls": 0,
                                         "seed": 3, "learning_rate": 1e-3]
        var lora = step
        lora["lora_rank"] = 4
        lora["lora_alpha"] = 8
        lora["lora_targets"] = ["q", "v"]
        _ = try await client.request("train_step", params: .object(lora))
        let training = try await client.request("status")["training"]
        XCTAssertEqual(training?["lora"]?["rank"]?.intValue, 4)
        XCTAssertEqual(training?["lora"]?["alpha"]?.doubleValue, 8)
        XCTAssertEqual(training?["lora"]?["targets"], ["q", "v"])
        // SmolLM2: 30 layers, hidden 576, 9 heads and 3 KV heads of 64: q 4·(576 + 576), v 4·(576 + 192)
        XCTAssertEqual(training?["lora"]?["parameters"]?.intValue, 30 * 4 * (1152 + 768))
        XCTAssertEqual(training?["lora"]?["bytes"]?.intValue, 4 * 30 * 4 * (1152 + 768))
        var other = lora
        other["lora_rank"] = 8
        do {
            _ = try await client.request("train_step", params: .object(other))
            XCTFail("other LoRA settings must be refused")
        } catch let error as RPCError {
            XCTAssertEqual(error.code, -32602)
            XCTAssertTrue(error.message.contains("lora_rank"), error.message)
        }
        let folder = NSTemporaryDirectory() + "torl-daemon-adapter-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let exported = try await client.request("model/export", params: ["path": .string(folder), "adapter": true])
        XCTAssertEqual(exported["files"], ["adapter_config.json", "adapter_model.safetensors"])
        let info = try await client.request("model/load", params: [
            "path": .string(path), "weights": "bf16", "adapter": .string(folder), "discard_training": true,
        ])
        XCTAssertEqual(info["adapter"]?.stringValue, folder)
        _ = try await client.request("train_step", params: .object(step))
        let continued = try await client.request("status")
        XCTAssertEqual(continued["training"]?["lora"]?["rank"]?.intValue, 4)
        _ = try await client.request("model/load", params: ["path": .string(path), "weights": "f32", "discard_training": true])
        let reloaded = try await client.request("status")
        XCTAssertNil(reloaded["model"]?["adapter"])
        // model/export before any train_step makes a trainer of every weight that has done nothing: the first
        // train_step's LoRA settings replace it instead of being refused.
        let merged = NSTemporaryDirectory() + "torl-daemon-untouched-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: merged) }
        _ = try await client.request("model/export", params: ["path": .string(merged)])
        let exportedOnly = try await client.request("status")["training"]
        XCTAssertEqual(exportedOnly?["lora"], .null, "the export made a trainer of every weight")
        _ = try await client.request("train_step", params: .object(lora))
        let replaced = try await client.request("status")["training"]
        XCTAssertEqual(replaced?["lora"]?["rank"]?.intValue, 4)
        XCTAssertEqual(replaced?["step"]?.intValue, 1)
        _ = try await client.request("model/load", params: ["path": .string(path), "weights": "f32", "discard_training": true])
    }

    /// A trainer's steps that are neither checkpointed nor exported survive a model/load or checkpoint/restore that
    /// does not say `discard_training`: the call fails naming the step and the unsaved count, and changes nothing.
    /// checkpoint/save and model/export make the steps saved, after which the same load goes through.
    func testModelLoadAndRestoreRefuseToDropUnsavedSteps() async throws {
        let fixture = try await DaemonFixture.get()
        let client = try await fixture.client()
        defer { Task { try? await client.shutdownAndExit() } }
        let scratch = try fixture.scratch("unsaved")
        let checkpoint = scratch.appendingPathComponent("ck.safetensors").path
        let path = try DaemonFixture.modelPath()
        let status = try await client.request("status")
        let weights = try XCTUnwrap(status["model"]?["weights"]?.stringValue)
        let other = weights == "bf16" ? "f32" : "bf16"
        let tiny: JSONValue = ["problems": problem, "group_size": 2, "max_tokens": 2, "max_tool_calls": 0, "seed": 2]

        _ = try await client.request("train_step", params: tiny)
        let saved = try await client.request("checkpoint/save", params: ["path": .string(checkpoint)])
        let savedStep = try XCTUnwrap(saved["step"]?.intValue)
        let afterSave = try await client.request("status")["training"]
        XCTAssertEqual(afterSave?["unsaved_steps"]?.intValue, 0)
        _ = try await client.request("train_step", params: tiny)
        let training = try await client.request("status")["training"]
        XCTAssertEqual(training?["step"]?.intValue, savedStep + 1)
        XCTAssertEqual(training?["unsaved_steps"]?.intValue, 1)

        let refusals: [(String, JSONValue)] = [
            ("model/load", ["path": .string(path), "weights": .string(other)]),
            ("model/load", ["path": .string(path), "weights": .string(other), "discard_training": false]),
            ("checkpoint/restore", ["path": .string(checkpoint)]),
        ]
        for (method, params) in refusals {
            do {
                _ = try await client.request(method, params: params)
                XCTFail("\(method) \(params) dropped an unsaved step")
            } catch let error as RPCError {
                XCTAssertEqual(error.code, -32029, "\(method): \(error)")
                XCTAssertEqual(error.data?["kind"]?.stringValue, "unsaved_training")
                XCTAssertEqual(error.data?["step"]?.intValue, savedStep + 1)
                XCTAssertEqual(error.data?["unsaved_steps"]?.intValue, 1)
                XCTAssertTrue(error.message.contains("\(method) would discard the daemon's trainer: it is at step \(savedStep + 1) with 1 step(s) not saved or exported"), error.message)
                XCTAssertTrue(error.message.contains("discard_training"), error.message)
            }
        }
        let untouched = try await client.request("status")
        XCTAssertEqual(untouched["training"]?["step"]?.intValue, savedStep + 1)
        XCTAssertEqual(untouched["model"]?["weights"]?.stringValue, weights)

        // An export saves the steps: the load goes through without discard_training and starts a new trainer.
        let export = scratch.appendingPathComponent("hf").path
        _ = try await client.request("model/export", params: ["path": .string(export)])
        let afterExport = try await client.request("status")["training"]
        XCTAssertEqual(afterExport?["unsaved_steps"]?.intValue, 0)
        let loaded = try await client.request("model/load", params: ["path": .string(path), "weights": .string(other)])
        XCTAssertEqual(loaded["weights"]?.stringValue, other)
        let fresh = try await client.request("status")["training"]
        XCTAssertEqual(fresh?["step"]?.intValue, 0)
        XCTAssertEqual(fresh?["unsaved_steps"]?.intValue, 0)
        // A trainer without steps has nothing to lose.
        _ = try await client.request("model/load", params: ["path": .string(path), "weights": .string(weights)])
    }

    /// A train_step cancelled mid-rollout and a solve cancelled mid-decode leave no sequence in the inference
    /// model's cache (the decoder that owned them is dropped with the run). Before, the leaked sequences made every
    /// later update fail to copy its weights into the inference model, and checkpoint/restore fail with them.
    func testCancelledRolloutsAndSolvesLeaveTheModelUpdatable() async throws {
        let fixture = try await DaemonFixture.get()
        let client = try await fixture.client()
        defer { Task { try? await client.shutdownAndExit() } }
        let scratch = try fixture.scratch("cancelled-runs")
        let longProblem: JSONValue = "Write the numbers from 1 to 200, separated by commas."
        let long: JSONValue = ["id": "long", "problem": longProblem, "answer": "1"]

        func cancelAfterFirstProgress(_ method: String, _ params: JSONValue) async throws {
            let progressed = Locked(false)
            let call = Task {
                try await client.request(method, params: params, onProgress: { _ in progressed.withLock { $0 = true } })
            }
            let deadline = Date().addingTimeInterval(120)
            while !progressed.withLock({ $0 }), Date() < deadline { try await Task.sleep(nanoseconds: 5_000_000) }
            XCTAssertTrue(progressed.withLock { $0 }, "\(method): no progress within 120 s")
            call.cancel()
            do {
                _ = try await call.value
                XCTFail("\(method) finished before it was cancelled: the test proves nothing")
            } catch let error as RPCError {
                XCTAssertEqual(error.code, RPCError.requestCancelledCode, "\(method): \(error)")
            }
        }
        // Two samples of a short problem finish (progress) while two of a long one are still decoding.
        try await cancelAfterFirstProgress("train_step", [
            "problems": [["id": "short", "problem": "What is 2 + 3?", "answer": "5"], long],
            "group_size": 2, "max_tokens": 512, "max_tool_calls": 0, "seed": 3,
        ])
        try await cancelAfterFirstProgress("solve", ["problem": longProblem, "template": "torl", "temperature": 0,
                                                     "max_tokens": 512, "max_tool_calls": 0])

        let status = try await client.request("status")
        let before = try XCTUnwrap(status["training"]?["step"]?.intValue)
        let stepped = try await client.request("train_step", params: [
            "problems": [["id": "add", "problem": "What is 2 + 3?", "answer": "5"]], "group_size": 2, "max_tokens": 8,
            "max_tool_calls": 0, "seed": 4, "learning_rate": 1e-3, "entropy_coef": 0.01,
        ])
        XCTAssertEqual(stepped["step"]?.intValue, before + 1)
        // The inference model samples from the trainer's new weights: rollouts scored again by the trainer (a step
        // at learning rate 0 on them) agree with its log-probabilities to float rounding.
        let rollout = try await client.request("rollout", params: [
            "problems": [["id": "add", "problem": "What is 7 + 8?", "answer": "15"]], "group_size": 2, "max_tokens": 8,
            "max_tool_calls": 0, "seed": 5,
        ])
        let id = try XCTUnwrap(rollout["rollout_id"]?.stringValue)
        let rescored = try await client.request("train_step", params: ["rollout_ids": [.string(id)], "learning_rate": 0,
                                                                       "entropy_coef": 0.01])
        let weights = try await client.request("status")["model"]?["weights"]?.stringValue
        if weights == "f32" {
            XCTAssertLessThan(try XCTUnwrap(rescored["metrics"]?["log_probability_mismatch_max"]?.doubleValue), 1e-3)
        }
        let checkpoint = scratch.appendingPathComponent("after-cancel.safetensors").path
        _ = try await client.request("checkpoint/save", params: ["path": .string(checkpoint)])
        let restored = try await client.request("checkpoint/restore", params: ["path": .string(checkpoint)])
        XCTAssertEqual(restored["step"]?.intValue, before + 2)
    }

    /// evaluate's reports count responses and carry the graded and correct counts so far (the CLI's running
    /// accuracy); the last report agrees with the result.
    func testEvaluateProgressCarriesRunningAccuracy() async throws {
        let fixture = try await DaemonFixture.get()
        let client = try await fixture.client()
        defer { Task { try? await client.shutdownAndExit() } }
        let reports = Locked<[JSONValue]>([])
        let problems: JSONValue = [
            ["id": "a", "problem": "What is 2 + 3?", "answer": "5"],
            ["id": "b", "problem": "What is 6 * 7?", "answer": "42"],
            ["id": "c", "problem": "What is 10 - 4?", "answer": "6"],
        ]
        let result = try await client.request("evaluate", params: [
            "problems": problems, "samples": 2, "temperature": 1, "max_tokens": 6, "max_tool_calls": 0, "batch": 2,
        ], onProgress: { value in reports.withLock { $0.append(value) } })
        let seen = reports.withLock { $0 }
        XCTAssertEqual(seen.count, 6, "one report per response")
        XCTAssertEqual(seen.map { $0["done"]?.intValue }, (1 ... 6).map { Int64($0) })
        XCTAssertTrue(seen.allSatisfy { $0["kind"] == "report" && $0["total"]?.intValue == 6 })
        let graded = seen.compactMap { $0["metrics"]?["graded"]?.doubleValue }
        XCTAssertEqual(graded.count, 6)
        XCTAssertEqual(graded, graded.sorted(), "graded counts only grow")
        XCTAssertEqual(graded.last, 6)
        let correct = try XCTUnwrap(seen.last?["metrics"]?["correct"]?.doubleValue)
        let pass1 = try XCTUnwrap(result["metrics"]?["avg@2"]?.doubleValue)
        // avg@2 is the mean share of correct samples per problem: with 2 samples each, correct / 6.
        XCTAssertEqual(correct / 6, pass1, accuracy: 1e-9)
        XCTAssertEqual(result["problems"]?.intValue, 3)
    }
}

import Foundation
import XCTest
@testable import Daemon
import JSONRPC

/// cluster/join and cluster/train_step on two real daemons of this process meeting through a rendezvous folder:
/// each trains on its own stored rollouts as one rank, and both end where one daemon training on all of them
/// with a plain train_step ends.
final class ClusterMethodTests: XCTestCase {
    private func rollout(_ client: RPCClient, problem: String, answer: String, seed: Int64) async throws
        -> (id: String, tokens: JSONValue) {
        let result = try await client.request("rollout", params: [
            "problems": [["id": .string(answer), "problem": .string(problem), "answer": .string(answer)]],
            "group_size": 3, "max_tokens": 12, "max_tool_calls": 0, "seed": .int(seed),
        ])
        let id = try XCTUnwrap(result["rollout_id"]?.stringValue)
        let trajectories = try XCTUnwrap(result["trajectories"]?.arrayValue)
        return (id, .array(trajectories.map { $0["token_ids"] ?? .null }))
    }

    private func parameters(_ fixture: DaemonFixture) throws -> [Float] {
        try fixture.daemon.trainingLoop().trainer.policy.parameters.array()
    }

    private static let hyperParameters: [String: JSONValue] = [
        "learning_rate": 1e-4, "max_grad_norm": 1, "eps_high": 0.28,
        // The entropy bonus gives a gradient even where all rewards of a group are equal.
        "entropy_coef": 0.01,
    ]

    func testTwoRanksTrainAsOneDaemonOnAllTheirRollouts() async throws {
        let (a, b) = (try await DaemonFixture.startIsolated(), try await DaemonFixture.startIsolated())
        defer { a.stop(); b.stop() }
        let (clientA, clientB) = (try await a.client(), try await b.client())
        let folder = try a.scratch("rendezvous")

        // The same problem and seed give the same trajectories on either daemon.
        let first = try await rollout(clientA, problem: "What is 12 * 13?", answer: "156", seed: 21)
        let second = try await rollout(clientA, problem: "What is 2 + 40?", answer: "42", seed: 22)
        let secondOnB = try await rollout(clientB, problem: "What is 2 + 40?", answer: "42", seed: 22)
        XCTAssertEqual(second.tokens, secondOnB.tokens)

        // One daemon, plain train_step on both rollouts.
        var params = Self.hyperParameters
        params["rollout_ids"] = [.string(first.id), .string(second.id)]
        let single = try await clientA.request("train_step", params: .object(params))
        let singleParameters = try parameters(a)
        _ = try await clientA.request("model/load", params: [
            "path": .string(try DaemonFixture.modelPath()), "discard_training": true,
        ])

        // Not in a group yet: a clear error.
        do {
            _ = try await clientB.request("cluster/train_step", params: ["rollout_ids": [.string(secondOnB.id)]])
            XCTFail("cluster/train_step ran outside a group")
        } catch let error as RPCError {
            XCTAssertEqual(error.data?["kind"], "not_in_group", "\(error)")
        }

        @Sendable func join(_ client: RPCClient, rank: Int64) async throws -> JSONValue {
            try await client.request("cluster/join", params: [
                "rank": .int(rank), "world_size": 2, "store": ["file": .string(folder.path)], "prefix": "attempt-0",
                "timeout_seconds": 60,
            ])
        }
        async let joinedA = join(clientA, rank: 0)
        async let joinedB = join(clientB, rank: 1)
        let joined = try await [joinedA, joinedB]
        XCTAssertEqual(joined.map { $0["world_size"]?.intValue }, [2, 2])
        let member = try await clientB.request("status")["cluster"]
        XCTAssertEqual(member, ["rank": 1, "world_size": 2, "prefix": "attempt-0"])

        @Sendable func step(_ client: RPCClient, _ id: String) async throws -> JSONValue {
            var params = Self.hyperParameters
            params["rollout_ids"] = [.string(id)]
            return try await client.request("cluster/train_step", params: .object(params))
        }
        async let stepA = step(clientA, first.id)
        async let stepB = step(clientB, secondOnB.id)
        let steps = try await [stepA, stepB]

        // The step had a gradient, so the comparison below is not of two no-ops.
        XCTAssertGreaterThan(try XCTUnwrap(single["metrics"]?["gradient_norm"]?.doubleValue), 0)
        let checksum = try XCTUnwrap(steps[0]["parameter_checksum"]?.stringValue)
        XCTAssertEqual(checksum.count, 16)
        XCTAssertEqual(steps[1]["parameter_checksum"]?.stringValue, checksum)
        XCTAssertEqual(steps.map { $0["rank"]?.intValue }, [0, 1])
        // The f32 gradient, one value per parameter, was all-reduced; the rest is a few sums.
        let parameterCount = Int64(try parameters(a).count)
        for result in steps {
            let bytes = try XCTUnwrap(result["all_reduce_bytes"]?.intValue)
            XCTAssertGreaterThan(bytes, parameterCount * 4)
            XCTAssertLessThan(bytes, parameterCount * 4 + 1024)
            XCTAssertGreaterThan(try XCTUnwrap(result["all_reduce_seconds"]?.doubleValue), 0)
        }
        for (rank, result) in steps.enumerated() {
            XCTAssertEqual(result["step"]?.intValue, 1)
            let got = try XCTUnwrap(result["metrics"]?.objectValue)
            let expected = try XCTUnwrap(single["metrics"]?.objectValue)
            for key in ["trained_tokens", "reward_mean", "accuracy", "clip_fraction"] {
                XCTAssertEqual(got[key], expected[key], "rank \(rank) \(key)")
            }
            for key in ["loss", "gradient_norm", "entropy"] {
                let (g, e) = (try XCTUnwrap(got[key]?.doubleValue), try XCTUnwrap(expected[key]?.doubleValue))
                XCTAssertEqual(g, e, accuracy: 1e-5 * max(abs(e), 1e-3), "rank \(rank) \(key)")
            }
        }
        let (parametersA, parametersB) = (try parameters(a), try parameters(b))
        XCTAssertEqual(parametersA.map(\.bitPattern), parametersB.map(\.bitPattern))
        let scale = singleParameters.reduce(Float(0)) { max($0, abs($1)) }
        let difference = zip(parametersA, singleParameters).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        XCTAssertLessThan(difference / scale, 1e-5)

        _ = try await clientA.request("cluster/leave")
        _ = try await clientB.request("cluster/leave")
        let afterLeaving = try await clientB.request("status")["cluster"]
        XCTAssertEqual(afterLeaving, .null)
        try? await clientA.shutdownAndExit()
        try? await clientB.shutdownAndExit()
    }

    func testJoinParamsAreCheckedFieldByField() async throws {
        let fixture = try await DaemonFixture.get()
        let client = try await fixture.client()
        defer { Task { try? await client.shutdownAndExit() } }
        let folder = try fixture.scratch("rendezvous")
        let valid: [String: JSONValue] = ["rank": 0, "world_size": 2, "store": ["file": .string(folder.path)],
                                          "prefix": "p"]
        for (change, field) in [(["rank": JSONValue.int(2)], "rank"), (["world_size": 0], "world_size"),
                                (["prefix": "a b"], "prefix"), (["store": ["file": "/x", "tcp": "h:1"]], "store"),
                                (["timeout_seconds": -1], "timeout_seconds"), (["store": ["nfs": "/x"]], "store.nfs")] {
            do {
                _ = try await client.request("cluster/join", params: .object(valid.merging(change) { $1 }))
                XCTFail("accepted \(change)")
            } catch let error as RPCError {
                XCTAssertEqual(error.code, RPCError.invalidParamsCode, "\(change): \(error)")
                XCTAssertTrue(error.message.contains(field), "\(change): \(error.message)")
            }
        }
    }

    /// `problem_indices`: a share of a run's problems samples what the whole run samples for them, in `rollout` and
    /// in a sampled `evaluate`; the count must match.
    func testProblemIndicesMakeAShareSampleWhatTheWholeRunSamples() async throws {
        let fixture = try await DaemonFixture.get()
        let client = try await fixture.client()
        defer { Task { try? await client.shutdownAndExit() } }
        let problems: [JSONValue] = [["id": "a", "problem": "What is 3 + 4?", "answer": "7"],
                                     ["id": "b", "problem": "What is 6 * 7?", "answer": "42"],
                                     ["id": "c", "problem": "What is 9 - 5?", "answer": "4"]]
        let sampling: [String: JSONValue] = ["max_tokens": 10, "max_tool_calls": 0, "seed": 99, "temperature": 1]
        func tokens(_ result: JSONValue) -> [JSONValue] { result["trajectories"]?.arrayValue?.map { $0["token_ids"] ?? .null } ?? [] }

        var whole = sampling
        whole["problems"] = .array(problems)
        whole["group_size"] = 2
        let all = tokens(try await client.request("rollout", params: .object(whole)))
        var share = whole
        share["problems"] = .array([problems[2], problems[0]])
        share["problem_indices"] = [2, 0]
        let part = tokens(try await client.request("rollout", params: .object(share)))
        XCTAssertEqual(all.count, 6)
        XCTAssertEqual(part, Array(all[4..<6]) + Array(all[0..<2]))
        // Without the indices the share draws the whole run's first streams: different samples (the test can fail).
        share["problem_indices"] = nil
        let unkeyed = tokens(try await client.request("rollout", params: .object(share)))
        XCTAssertNotEqual(unkeyed, part)

        // Records are written as problems finish: keyed by problem text.
        @Sendable func responses(_ problems: [JSONValue], indices: [JSONValue]?) async throws -> [String: JSONValue] {
            let output = try fixture.scratch("records").appendingPathComponent("r.jsonl")
            var params = sampling
            params["problems"] = .array(problems)
            params["samples"] = 2
            params["output"] = .string(output.path)
            if let indices { params["problem_indices"] = .array(indices) }
            _ = try await client.request("evaluate", params: .object(params))
            var byProblem: [String: JSONValue] = [:]
            for line in try String(contentsOf: output, encoding: .utf8).split(separator: "\n") {
                let record = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
                byProblem[record["problem"]?.stringValue ?? ""] = .array(record["responses"]?.arrayValue?.map { $0["text"] ?? .null } ?? [])
            }
            return byProblem
        }
        let wholeRecords = try await responses(problems, indices: nil)
        let shareRecords = try await responses([problems[1]], indices: [1])
        XCTAssertEqual(wholeRecords.count, 3)
        XCTAssertEqual(shareRecords, ["What is 6 * 7?": try XCTUnwrap(wholeRecords["What is 6 * 7?"])])

        share["problem_indices"] = [0]
        do {
            _ = try await client.request("rollout", params: .object(share))
            XCTFail("accepted 1 index for 2 problems")
        } catch let error as RPCError {
            XCTAssertTrue(error.message.contains("problem_indices"), error.message)
        }
    }
}

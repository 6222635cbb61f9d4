import Foundation
import SystemSupport
import XCTest
@testable import Daemon
import JSONRPC

/// Concurrent solves from different clients are decoded together: one decoder batch, the same greedy answers as
/// one at a time.
final class SolveBatchingTests: XCTestCase {
    func testConcurrentSolvesFromSeveralClientsShareOneDecoderBatch() async throws {
        let fixture = try await DaemonFixture.get()
        let problems = ["What is 17 * 23?", "Compute 2^10 - 1.", "What is 15% of 240?", "Find 144 / 12 + 7."]
        func params(_ problem: String) -> JSONValue {
            ["problem": .string(problem), "template": "torl", "temperature": 0, "max_tokens": 10, "max_tool_calls": 0]
        }
        let clients = try await problems.asyncMap { _ in try await fixture.client() }
        let observer = try await fixture.client()
        let before = try await observer.request("status")["queue"]?["model"]
        let beforeBatches = try XCTUnwrap(before?["solve_batches"]?.intValue)

        let together = try await withThrowingTaskGroup(of: (Int, JSONValue).self) { group in
            for (index, client) in clients.enumerated() {
                let request = params(problems[index])
                group.addTask { (index, try await client.request("solve", params: request)) }
            }
            var results = [JSONValue](repeating: .null, count: problems.count)
            for try await (index, result) in group { results[index] = result }
            return results
        }
        let after = try await observer.request("status")["queue"]?["model"]
        XCTAssertEqual(after?["solve_batches"]?.intValue, beforeBatches + 1, "the four solves ran as one batch: \(String(describing: after))")
        XCTAssertGreaterThanOrEqual(after?["largest_solve_batch"]?.intValue ?? 0, Int64(problems.count))
        XCTAssertEqual(after?["model_job"], .null)

        var alone: [JSONValue] = []
        for problem in problems { alone.append(try await clients[0].request("solve", params: params(problem))) }
        let afterAlone = try await observer.request("status")["queue"]?["model"]?["solve_batches"]?.intValue
        XCTAssertEqual(afterAlone, beforeBatches + 1 + Int64(problems.count))
        // Greedy decoding gives each sequence of a batch what it gets alone (the engine's own guarantee).
        for (batched, single) in zip(together, alone) {
            XCTAssertFalse((batched["text"]?.stringValue ?? "").isEmpty)
            XCTAssertEqual(batched["text"], single["text"])
            XCTAssertEqual(batched["completion_tokens"], single["completion_tokens"])
        }
        for client in clients + [observer] { try await client.shutdownAndExit() }
    }
}

extension SolveBatchingTests {
    /// A sampled solve with a seed draws its random numbers from its own request, not from its place in the batch:
    /// eight identical seeded requests decoded together all give the text the request gives alone. (Before, the
    /// request at batch position g drew stream g.)
    func testASeededSampledSolveGivesTheSameTextAloneAndInABatch() async throws {
        let fixture = try await DaemonFixture.get()
        let params: JSONValue = ["problem": "Name three prime numbers and add them up.", "template": "torl",
                                 "temperature": 1, "seed": 42, "max_tokens": 16, "max_tool_calls": 0]
        let clients = try await (0..<8).asyncMap { _ in try await fixture.client() }
        let alone = try await clients[0].request("solve", params: params)
        func batches() async throws -> Int64 {
            let status = try await clients[0].request("status")
            return try XCTUnwrap(status["queue"]?["model"]?["solve_batches"]?.intValue)
        }
        let before = try await batches()
        let together = try await withThrowingTaskGroup(of: JSONValue.self) { group in
            for client in clients { group.addTask { try await client.request("solve", params: params) } }
            var results: [JSONValue] = []
            for try await result in group { results.append(result) }
            return results
        }
        let used = try await batches() - before
        XCTAssertLessThan(used, 8, "the eight solves were never batched: the test proves nothing")
        XCTAssertFalse((alone["text"]?.stringValue ?? "").isEmpty)
        for result in together { XCTAssertEqual(result["text"], alone["text"]) }
        for client in clients { try await client.shutdownAndExit() }
    }

    /// `$/cancelRequest` of one solve of a shared batch answers it -32800 at once, while the batch goes on and the
    /// other solve gets its full answer.
    func testCancellingOneSolveOfABatchAnswersItAtOnceAndSparesTheOther() async throws {
        let fixture = try await DaemonFixture.get()
        let cancelling = try await fixture.client()
        let staying = try await fixture.client()
        // Problems the default model answers at length (both run to the token budget greedily).
        func params(_ problem: String) -> JSONValue {
            ["problem": .string(problem), "template": "torl", "temperature": 0, "max_tokens": 96, "max_tool_calls": 0]
        }
        let firstDelta = Locked(false)
        let otherDone = Locked(false)
        let cancelled = Task {
            try await cancelling.request("solve", params: params("Compute 2^10 - 1."), onProgress: { _ in
                firstDelta.withLock { $0 = true }
            })
        }
        let other = Task { () throws -> JSONValue in
            let result = try await staying.request("solve", params: params("What is the sum of the first 20 positive integers?"))
            otherDone.withLock { $0 = true }
            return result
        }
        let deadline = Date().addingTimeInterval(120)
        while !firstDelta.withLock({ $0 }), Date() < deadline { try await Task.sleep(nanoseconds: 5_000_000) }
        XCTAssertTrue(firstDelta.withLock { $0 }, "no text arrived within 120 s")
        cancelled.cancel()
        do {
            _ = try await cancelled.value
            XCTFail("the cancelled solve got a result")
        } catch let error as RPCError {
            XCTAssertEqual(error.code, RPCError.requestCancelledCode)
        }
        XCTAssertFalse(otherDone.withLock { $0 }, "the cancelled solve was only answered when the batch ended")
        let result = try await other.value
        XCTAssertEqual(result["completion_tokens"]?.intValue, 96)
        XCTAssertEqual(result["finish_reason"]?.stringValue, "max_tokens")
        try await cancelling.shutdownAndExit()
        try await staying.shutdownAndExit()
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

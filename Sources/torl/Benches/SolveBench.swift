import Foundation
import JSONRPC
import TorlProtocol

/// The shared-batching figure of `torl bench rpc`: N `solve` requests from N clients at once against the same N
/// sent one after another, greedy with a fixed budget, so both runs decode the same problems with the same
/// settings and only the scheduling differs.
struct SolveBench {
    struct Settings: Sendable {
        var count: Int
        var maxTokens: Int
        var toolCalls: Int
        var weights: String
    }

    struct Run: Codable, Sendable {
        var seconds: Double
        var completionTokens: Int
        /// Per solve: the concurrent run lasts as long as its longest response, the sequential one as their sum.
        var completionTokensPerSolve: [Int]
        var tokensPerSecond: Double
    }

    struct Report: Codable, Sendable {
        var solves: Int
        var weights: String
        var maxTokens: Int
        var maxToolCalls: Int
        var sequential: Run
        var concurrent: Run
        /// sequential seconds / concurrent seconds.
        var speedup: Double
        /// Solutions whose text is the same in both runs (greedy decoding; batched arithmetic may round apart).
        var identicalTexts: Int
        /// Decoder batches the daemon ran for the concurrent solves (1: they all shared one batch), from
        /// `status.queue.model.solve_batches`.
        var concurrentDecoderBatches: Int?
        /// Share of the machine's CPU time busy during the second before the timed runs, while the daemon idled:
        /// other work on the machine, which the figure shares the cores with.
        var otherCPUBusyShareBefore: Double?
    }

    /// Distinct short problems, so the batch holds different prompts (lengths differ, as with real users).
    static let problems = [
        "What is 17 * 23?", "Compute 2^10 - 1.", "What is the sum of the first 20 positive integers?",
        "Find 144 / 12 + 7.", "What is 15% of 240?", "Compute 999 * 3.", "What is the greatest common divisor of 84 and 36?",
        "How many seconds are there in 3 hours?", "What is 7 factorial?", "Compute 123 + 456 + 789.",
        "What is the square root of 1764?", "What is 2 to the power 16?",
    ]

    let settings: Settings

    func params(_ index: Int) -> SolveParams {
        SolveParams(problem: Self.problems[index % Self.problems.count],
                    options: GenerationOptions(template: .torl, max_tool_calls: settings.toolCalls,
                                               max_tokens: settings.maxTokens, temperature: 0))
    }

    /// `connect` opens one initialized client; every concurrent request gets its own, as separate editors would.
    func run(connect: @escaping @Sendable () async throws -> RPCClient) async throws -> Report {
        let clients = try await (0 ..< settings.count).asyncMap { _ in try await connect() }
        // Warm-up: the first solve pays for buffers and caches neither timed run should be charged with.
        _ = try await clients[0].send(SolveRequest.self, params(0))
        let busyBefore = try await Self.busyShare(over: 1)

        let sequentialStart = DispatchTime.now().uptimeNanoseconds
        var sequentialResults: [SolveResult] = []
        for index in 0 ..< settings.count {
            sequentialResults.append(try await clients[0].send(SolveRequest.self, params(index)))
        }
        let sequentialSeconds = Self.seconds(since: sequentialStart)

        let batchesBefore = try await Self.solveBatches(clients[0])
        let concurrentStart = DispatchTime.now().uptimeNanoseconds
        let concurrentResults = try await withThrowingTaskGroup(of: (Int, SolveResult).self) { group in
            for (index, client) in clients.enumerated() {
                let params = params(index)
                group.addTask { (index, try await client.send(SolveRequest.self, params)) }
            }
            var results = [SolveResult?](repeating: nil, count: settings.count)
            for try await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
        let concurrentSeconds = Self.seconds(since: concurrentStart)
        let batchesAfter = try await Self.solveBatches(clients[0])
        for client in clients { try await client.shutdownAndExit() }

        let identical = zip(sequentialResults, concurrentResults).filter { $0.text == $1.text }.count
        return Report(solves: settings.count, weights: settings.weights, maxTokens: settings.maxTokens, maxToolCalls: settings.toolCalls,
                      sequential: Self.run(sequentialResults, seconds: sequentialSeconds),
                      concurrent: Self.run(concurrentResults, seconds: concurrentSeconds),
                      speedup: sequentialSeconds / max(concurrentSeconds, 1e-9), identicalTexts: identical,
                      concurrentDecoderBatches: batchesAfter.flatMap { after in batchesBefore.map { after - $0 } },
                      otherCPUBusyShareBefore: busyBefore)
    }

    private static func run(_ results: [SolveResult], seconds: Double) -> Run {
        let perSolve = results.map(\.completion_tokens)
        let tokens = perSolve.reduce(0, +)
        return Run(seconds: seconds, completionTokens: tokens, completionTokensPerSolve: perSolve,
                   tokensPerSecond: Double(tokens) / max(seconds, 1e-9))
    }

    private static func solveBatches(_ client: RPCClient) async throws -> Int? {
        try await client.send(StatusRequest.self, NoParams()).queue.model.solve_batches
    }

    /// Busy share of all cores over `seconds`, from /proc/stat's first line (Linux; nil elsewhere).
    private static func busyShare(over seconds: Double) async throws -> Double? {
        func sample() -> (busy: Double, total: Double)? {
            guard let line = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n").first else { return nil }
            let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            guard fields.count >= 5 else { return nil }
            let total = fields.reduce(0, +)
            return (total - fields[3] - fields[4], total)  // idle and iowait are not busy
        }
        guard let first = sample() else { return nil }
        try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
        guard let second = sample(), second.total > first.total else { return nil }
        return (second.busy - first.busy) / (second.total - first.total)
    }

    private static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

extension Sequence {
    /// `map` with an async transform, one element after another.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

import SystemSupport
import Foundation
import XCTest
@testable import Daemon
import Generation
import JSONRPC
import Models
@testable import Sandbox
import Tensors
import Tokenizers
import TorlProtocol

/// The daemon's scheduling, solve batching and cancellation against a tiny random model and a stand-in sandbox
/// (both injected), through its router: seconds, not the minutes of the real-model tests. The tiny model decodes
/// the real SmolLM2 vocabulary (its tokenizer read from the default model file), so prompts are built for real.
final class FakeModelSchedulingTests: XCTestCase {
    /// Every run prints 42.
    final class FixedSandbox: DaemonSandbox {
        let runs = Locked(0)
        func execute(_ code: String, limits: ExecutionLimits?) async -> ExecutionResult {
            runs.withLock { $0 += 1 }
            return ExecutionResult(status: .ok, exitCode: 0, stdout: "42\n")
        }
        func waitUntilReady() async throws {}
        func status() async -> SandboxMetrics {
            SandboxMetrics(poolSize: 1, workersAlive: 1, workersBusy: 0, queueDepth: 0, queueCapacity: 8,
                           workersReplaced: 0, workerPIDs: [], runsTotal: runs.withLock { $0 },
                           statusCounts: [:], isolation: nil, pythonPath: "none", pythonVersion: nil,
                           lastWorkerError: nil)
        }
        func shutdown() async {}
    }

    /// A one-layer decoder of width 8 with random weights over the SmolLM2 vocabulary.
    struct TinyModelProvider: ModelProvider {
        static var tokenizerPath: String {
            ProcessInfo.processInfo.environment["TORL_MODEL"] ?? "models/SmolLM2-135M-Instruct.Q4_1.gguf"
        }

        func load(path: String, precision: WeightPrecision, adapter: String?) throws -> LoadedModel {
            let configuration = ModelConfiguration(
                architecture: .llama, vocabularySize: 49152, hiddenSize: 8, intermediateSize: 12, layerCount: 1,
                headCount: 4, keyValueHeadCount: 2, headDimension: 4, contextLength: 512, ropeTheta: 10000,
                ropePairing: .halves, rmsNormEpsilon: 1e-5, tiedEmbeddings: true, attentionBias: false)
            let weights = try TrainableTransformer(configuration: configuration)
            weights.initializeRandomly(seed: 7, standardDeviation: 0.5)
            let model = try LlamaModel(configuration: configuration, tensors: weights.namedTensors())
            return LoadedModel(model: model, tokenizer: try GGUFFile(path: Self.tokenizerPath).makeTokenizer(),
                               name: "tiny", path: path, chatTemplate: .failure(.missing))
        }
    }

    private var daemon: Daemon!
    private let router = Router()
    private let ids = Locked<Int64>(0)

    override func setUp() async throws {
        guard FileManager.default.fileExists(atPath: TinyModelProvider.tokenizerPath) else {
            throw XCTSkip("the default model (its tokenizer) is missing: \(TinyModelProvider.tokenizerPath)")
        }
        daemon = try await Daemon(configuration: DaemonConfiguration(modelPath: "/tiny"), sandbox: FixedSandbox(),
                                  modelProvider: TinyModelProvider())
        daemon.register(on: router)
    }

    override func tearDown() async throws {
        await daemon?.shutdown()
    }

    private func call<Method: TorlMethod>(_ method: Method.Type, _ params: Method.Params,
                                          cancellation: CancellationFlag = CancellationFlag()) async throws -> Method.Result {
        let id = ids.withLock { $0 += 1; return $0 }
        let context = RequestContext(id: .int(id), method: Method.method,
                                     connection: ConnectionInfo(id: 1, transport: .inProcess, peer: "test"),
                                     cancellation: cancellation, notifications: NotificationSink { _ in })
        let request = RPCRequest(id: .int(id), method: Method.method, params: try JSONCoding.value(params))
        switch await router.respond(to: request, context: context).outcome {
        case .success(let value): return try JSONCoding.decode(Method.Result.self, from: value)
        case .failure(let error): throw error
        }
    }

    private func queue() async throws -> SchedulerSnapshot {
        try await call(StatusRequest.self, NoParams()).queue.model
    }

    /// Polls the scheduler until `condition` holds (a few seconds at most).
    private func waitFor(_ what: String, _ condition: (SchedulerSnapshot) -> Bool) async throws {
        for _ in 0 ..< 500 {
            if condition(try await queue()) { return }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        XCTFail("timed out waiting for \(what): \(try await queue())")
    }

    /// Holds the model with an exclusive job until `release` is called, like a train_step would.
    private func holdModel() async throws -> @Sendable () -> Void {
        let (gate, open) = AsyncStream<Void>.makeStream()
        let scheduler = daemon.scheduler
        Task { try await scheduler.exclusive("held") { for await _ in gate { break } } }
        try await waitFor("the hold to start") { $0.model_job == "held" }
        return { open.yield(); open.finish() }
    }

    private func solveParams(_ problem: String, maxTokens: Int = 6) -> SolveParams {
        SolveParams(problem: problem, options: GenerationOptions(template: .torl, max_tool_calls: 0,
                                                                 max_tokens: maxTokens, temperature: 0))
    }

    func testSolvesArrivingWhileTheModelIsBusyWaitThenShareOneDecoderBatch() async throws {
        let release = try await holdModel()
        let problems = ["What is 2 + 2?", "Compute 7 * 6.", "What is 10 - 3?"]
        let solves = problems.map { problem in
            Task { try await self.call(SolveRequest.self, self.solveParams(problem)) }
        }
        try await waitFor("three waiting solves") { $0.solves_waiting == 3 }
        var snapshot = try await queue()
        XCTAssertEqual(snapshot.model_job, "held", "the solves wait for the running job")
        XCTAssertEqual(snapshot.solve_batches, 0)
        release()
        var results: [SolveResult] = []
        for solve in solves { results.append(try await solve.value) }
        snapshot = try await queue()
        XCTAssertEqual(snapshot.solve_batches, 1, "one decoder batch for the three")
        XCTAssertEqual(snapshot.solves_decoded, 3)
        XCTAssertEqual(snapshot.largest_solve_batch, 3)
        XCTAssertEqual(snapshot.solves_waiting, 0)
        XCTAssertNil(snapshot.model_job)
        for result in results {
            XCTAssertGreaterThan(result.completion_tokens, 0)
            XCTAssertLessThanOrEqual(result.completion_tokens, 6)
            XCTAssertGreaterThan(result.prompt_tokens, 10)
        }
        // Greedy decoding: a problem solved alone gives the text it gave in the batch.
        let alone = try await call(SolveRequest.self, solveParams(problems[1]))
        XCTAssertEqual(alone.text, results[1].text)
        let after = try await queue()
        XCTAssertEqual(after.solve_batches, 2)
    }

    func testACancelledWaitingSolveIsAnsweredAtOnceAndTheOtherStillRuns() async throws {
        let release = try await holdModel()
        let flag = CancellationFlag()
        let cancelled = Task { try await self.call(SolveRequest.self, self.solveParams("What is 1 + 1?"), cancellation: flag) }
        let kept = Task { try await self.call(SolveRequest.self, self.solveParams("What is 5 + 5?")) }
        try await waitFor("two waiting solves") { $0.solves_waiting == 2 }
        // As the server does on $/cancelRequest: the flag is set and the handler's task cancelled.
        flag.cancel()
        cancelled.cancel()
        do {
            _ = try await cancelled.value
            XCTFail("a cancelled solve was answered with a result")
        } catch let error as RPCError {
            XCTAssertEqual(error.code, RPCError.requestCancelledCode)
        }
        // Answered while the model is still held: the requester did not wait for the batch it would have ridden.
        let whileHeld = try await queue()
        XCTAssertEqual(whileHeld.model_job, "held")
        release()
        let result = try await kept.value
        XCTAssertGreaterThan(result.completion_tokens, 0)
        let snapshot = try await queue()
        XCTAssertEqual(snapshot.solve_batches, 1)
        XCTAssertEqual(snapshot.solves_decoded, 1, "the cancelled solve was never decoded")
    }

    func testExclusiveJobsRunInArrivalOrderAndTheModelIsFreeAfterwards() async throws {
        let release = try await holdModel()
        let rollout = Task {
            try await self.call(RolloutRequest.self, RolloutParams(
                problems: [ProblemInput(problem: "What is 3 + 4?", answer: "7")], group_size: 2,
                options: GenerationOptions(max_tool_calls: 0, max_tokens: 5, temperature: 1, seed: 3)))
        }
        try await waitFor("the rollout to queue") { $0.model_jobs_waiting == 1 }
        let whileHeld = try await queue()
        XCTAssertEqual(whileHeld.model_job, "held")
        release()
        let result = try await rollout.value
        XCTAssertEqual(result.trajectories.count, 2)
        XCTAssertEqual(result.trajectories.map(\.sample).sorted(), [0, 1])
        for trajectory in result.trajectories {
            XCTAssertEqual(trajectory.grade.verdict, "no_answer", "a random model boxes no answer")
            XCTAssertEqual(trajectory.reward, -1)
            XCTAssertEqual(trajectory.token_ids.count, trajectory.logprobs.count)
        }
        let snapshot = try await queue()
        XCTAssertNil(snapshot.model_job)
        XCTAssertEqual(snapshot.model_jobs_waiting, 0)
    }
}

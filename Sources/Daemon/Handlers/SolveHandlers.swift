import Foundation
import Generation
import JSONRPC
import MathGrader
import RL
import TorlProtocol

extension Daemon {
    /// A rollout engine over the current model and the daemon's sandbox pool.
    func makeEngine(decoderConfiguration: BatchDecoder.Configuration = BatchDecoder.Configuration()) throws -> RolloutEngine {
        let current = try models.require()
        return RolloutEngine(model: current.loaded.model, tokenizer: current.loaded.tokenizer,
                             chatTemplate: try? current.loaded.chatTemplate(), executor: sandbox,
                             decoderConfiguration: decoderConfiguration)
    }

    /// Defaults of an interactive solve: greedy, one tool call, the chat template when the model has one.
    func solveDefaults() -> RolloutSettings {
        var settings = RolloutSettings()
        settings.groupSize = 1
        settings.maxToolCalls = 1
        settings.maxResponseTokens = 1024
        settings.sampling = SamplingParameters(temperature: 0, topK: 0, topP: 1, seed: 0)
        settings.template = (try? models.current?.loaded.chatTemplate()) != nil ? .chat : .torl
        return settings
    }

    func registerSolve(on router: Router) {
        router.register(SolveRequest.self) { [self] params, context in
            guard !params.problem.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw RPCError.invalidParams(field: "problem", reason: "must not be empty")
            }
            _ = try models.require()
            let settings = try params.options.settings(over: solveDefaults())
            let started = Date()
            let token = params.progress_token
            let trajectory = try await scheduler.solve(
                Problem(id: "solve-\(context.id)", problem: params.problem, answer: params.reference ?? ""),
                settings: settings, randomStream: params.options.seed == nil ? nil : 0,
                cancellation: context.cancellation,
                engine: { [self] in try makeEngine() },
                observer: { event in
                    // Nothing more for a requester that cancelled: it already has its -32800.
                    guard !context.cancellation.isCancelled, let progress = SolveProgress.from(event) else { return }
                    context.progress(progress, token: token)
                })
            return SolveResult(
                text: trajectory.text, answer: trajectory.answer,
                grade: params.reference == nil ? nil : GradeWire(trajectory.grade),
                tool_calls: trajectory.toolCalls.map(ToolCallSummary.init),
                finish_reason: trajectory.finishReason, prompt_tokens: trajectory.promptLength,
                completion_tokens: trajectory.responseLength,
                elapsed_ms: Date().timeIntervalSince(started) * 1000)
        }
    }
}

extension RolloutError: RPCErrorConvertible {
    public var rpcError: RPCError {
        switch self {
        case .invalidSettings(let why): return RPCError.invalidParams(field: "", reason: why)
        default: return RPCError(code: TorlErrorKind.rollout.code, message: String(describing: self), data: ["kind": .string(TorlErrorKind.rollout.rawValue)])
        }
    }
}

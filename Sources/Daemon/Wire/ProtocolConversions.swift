import Cluster
import Foundation
import Generation
import JSONRPC
import MathGrader
import Models
import RL
import Sandbox
import Tensors
import TorlProtocol

// The one place where TorlProtocol's wire types meet the engine's types: params become settings (validated
// here, each error naming its field) and engine values become results.

extension Router {
    /// Registers the handler of `method` with its protocol types: params decoded straight from the parsed message,
    /// strictly (a member the params type does not read is -32602 naming it), the result encoded once.
    func register<Method: TorlMethod>(
        _ method: Method.Type, _ handler: @escaping @Sendable (Method.Params, RequestContext) async throws -> Method.Result
    ) {
        register(Method.method, strict: true, handler)
    }
}

extension RequestID {
    init(_ token: ProgressToken) {
        switch token {
        case .int(let value): self = .int(value)
        case .string(let value): self = .string(value)
        }
    }
}

extension RequestContext {
    /// `$/progress` under the request's `progress_token`, if it gave one.
    func progress<Value: Encodable>(_ value: Value, token: ProgressToken?) {
        try? progress(value, token: token.map(RequestID.init))
    }
}

// MARK: Params → settings

extension GenerationOptions {
    /// Rollout settings with these options over `defaults`; invalid values are -32602 naming the field. The one
    /// check of a request's settings in the daemon: handlers add only the fields they own (group size), each checked
    /// where it is set. (The engine still refuses invalid settings from any caller, without a wire field name.)
    func settings(over defaults: RolloutSettings) throws -> RolloutSettings {
        var settings = defaults
        if let template { settings.template = PromptTemplate(template) }
        if let max_tool_calls {
            guard max_tool_calls >= 0 else { throw RPCError.invalidParams(field: "max_tool_calls", reason: "must be >= 0") }
            settings.maxToolCalls = max_tool_calls
        }
        if let max_tokens {
            guard max_tokens >= 1 else { throw RPCError.invalidParams(field: "max_tokens", reason: "must be >= 1") }
            settings.maxResponseTokens = max_tokens
        }
        if let temperature {
            guard temperature >= 0, Float(temperature).isFinite else {
                throw RPCError.invalidParams(field: "temperature", reason: "must be a finite number >= 0")
            }
            settings.sampling.temperature = Float(temperature)
        }
        if let top_p {
            guard top_p > 0, top_p <= 1 else { throw RPCError.invalidParams(field: "top_p", reason: "must be in (0, 1]") }
            settings.sampling.topP = Float(top_p)
        }
        if let top_k {
            guard top_k >= 0 else { throw RPCError.invalidParams(field: "top_k", reason: "must be >= 0 (0: off)") }
            settings.sampling.topK = top_k
        }
        if let seed { settings.sampling.seed = seed }
        if let instruction {
            guard !instruction.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw RPCError.invalidParams(field: "instruction", reason: "must not be empty (omit it for the published instruction)")
            }
            settings.instruction = instruction
        }
        if let accept_unboxed_answers { settings.acceptsUnboxedAnswers = accept_unboxed_answers }
        if let require_evaluated_answers { settings.requiresEvaluatedAnswers = require_evaluated_answers }
        if let trigger { settings.trigger = ToolTrigger(trigger) }
        if let max_prompt_tokens {
            guard max_prompt_tokens >= 1 else { throw RPCError.invalidParams(field: "max_prompt_tokens", reason: "must be >= 1") }
            settings.maxPromptTokens = max_prompt_tokens
        }
        if let stop {
            guard !stop.contains(where: \.isEmpty) else {
                throw RPCError.invalidParams(field: "stop", reason: "stop strings must not be empty")
            }
            settings.stopStrings = stop
        }
        return settings
    }
}

extension PromptTemplate {
    init(_ name: PromptTemplateName) {
        switch name {
        case .torl: self = .torl
        case .chat: self = .chat
        }
    }
}

extension ToolTrigger {
    init(_ name: ToolTriggerName) {
        switch name {
        case .blockClose: self = .blockClose
        case .outputMarker: self = .outputMarker
        }
    }
}

extension WeightPrecision {
    init(_ name: WeightPrecisionName) {
        switch name {
        case .f32: self = .f32
        case .bf16: self = .bf16
        case .int8: self = .int8
        }
    }
}

extension WeightPrecisionName {
    init(_ precision: WeightPrecision) {
        switch precision {
        case .f32: self = .f32
        case .bf16: self = .bf16
        case .int8: self = .int8
        }
    }
}

extension ProblemInput {
    /// The problem at `index` of its request (its id defaults to the index).
    func problem(at index: Int) -> Problem {
        Problem(id: id ?? "\(index)", problem: problem, answer: answer ?? "")
    }
}

extension HyperParameters {
    /// The trainer's hyper-parameters: TORL's defaults with the fields given here, validated, each error naming
    /// its field. The one conversion between the wire's and the trainer's hyper-parameters.
    func trainingHyperParameters() throws -> TrainingHyperParameters {
        var result = TrainingHyperParameters()
        if let learning_rate { result.learningRate = learning_rate }
        if let warmup_steps { result.warmupSteps = warmup_steps }
        result.cosineTotalSteps = cosine_total_steps
        if let min_lr_ratio { result.minimumLearningRateRatio = min_lr_ratio }
        if let eps_low { result.clipLow = eps_low }
        if let eps_high { result.clipHigh = eps_high }
        if let clip_ratio_c { result.dualClipRatio = clip_ratio_c }
        if dual_clip == false {
            if clip_ratio_c != nil {
                throw RPCError.invalidParams(field: "clip_ratio_c", reason: "cannot be given with dual_clip: false")
            }
            result.dualClipRatio = nil
        }
        if let old_logprobs {
            guard let source = OldLogProbabilitySource(rawValue: old_logprobs) else {
                throw RPCError.invalidParams(field: "old_logprobs", reason: "must be one of [\"recompute\", \"rollout\"]")
            }
            result.oldLogProbabilities = source
        }
        result.truncatedImportanceSamplingCap = tis_cap
        if let kl_coef { result.klCoefficient = kl_coef }
        if let entropy_coef { result.entropyCoefficient = entropy_coef }
        if let advantage {
            guard let estimator = AdvantageEstimator.wireNames[advantage] else {
                throw RPCError.invalidParams(field: "advantage", reason: "must be one of \(AdvantageEstimator.wireNames.keys.sorted())")
            }
            result.advantage = estimator
        }
        if let aggregation {
            guard let mode = LossAggregation.wireNames[aggregation] else {
                throw RPCError.invalidParams(field: "aggregation", reason: "must be one of \(LossAggregation.wireNames.keys.sorted())")
            }
            result.aggregation = mode
        }
        if let micro_batch { result.microBatchTokens = micro_batch }
        if let activations {
            guard let policy = ActivationPolicy(rawValue: activations) else {
                throw RPCError.invalidParams(field: "activations", reason: "must be one of \(ActivationPolicy.allCases.map(\.rawValue))")
            }
            result.activationPolicy = policy
        }
        if let max_grad_norm { result.maxGradientNorm = max_grad_norm }
        if let weight_decay { result.weightDecay = weight_decay }
        do { try result.validate() } catch TrainingLoopError.invalidHyperParameter(let name, let reason) {
            throw RPCError.invalidParams(field: name, reason: reason)
        }
        return result
    }
}

extension LoRAFields {
    /// The LoRA settings, nil when none is given (full training, or the adapters the model was loaded with).
    func configuration() throws -> LoRAConfiguration? {
        guard let lora_rank else {
            if lora_alpha != nil || lora_targets != nil || use_rslora != nil {
                throw RPCError.invalidParams(field: "lora_rank", reason: "is required with lora_alpha, lora_targets or use_rslora")
            }
            return nil
        }
        guard lora_rank >= 1 else { throw RPCError.invalidParams(field: "lora_rank", reason: "must be >= 1") }
        if let lora_alpha, !(lora_alpha > 0 && lora_alpha.isFinite) {
            throw RPCError.invalidParams(field: "lora_alpha", reason: "must be a positive number")
        }
        let targets = try (lora_targets ?? LoRATarget.allCases.map(\.rawValue)).map { name -> LoRATarget in
            guard let target = LoRATarget(rawValue: name) ?? LoRATarget(moduleName: name) else {
                throw RPCError.invalidParams(field: "lora_targets", reason: "\(name) is not one of \(LoRATarget.allCases.map(\.rawValue))")
            }
            return target
        }
        guard !targets.isEmpty else { throw RPCError.invalidParams(field: "lora_targets", reason: "must not be empty") }
        return LoRAConfiguration(rank: lora_rank, alpha: lora_alpha, targets: targets, useRSLoRA: use_rslora ?? false)
    }
}

extension SandboxLimits {
    /// The limits given here over the sandbox's defaults; a limit that cannot be applied is -32602 naming `field`.
    func executionLimits(field: String) throws -> ExecutionLimits {
        let defaults = ExecutionLimits()
        let limits = ExecutionLimits(
            wallTimeoutSeconds: wall_timeout_seconds ?? defaults.wallTimeoutSeconds,
            cpuSeconds: cpu_seconds ?? defaults.cpuSeconds, memoryBytes: memory_bytes ?? defaults.memoryBytes,
            maxProcesses: max_processes ?? defaults.maxProcesses, maxFileBytes: max_file_bytes ?? defaults.maxFileBytes,
            maxOutputBytes: max_output_bytes ?? defaults.maxOutputBytes,
            maxSourceBytes: max_source_bytes ?? defaults.maxSourceBytes)
        if let problem = limits.problem() { throw RPCError.invalidParams(field: field, reason: problem) }
        return limits
    }

    /// Every limit of `limits`.
    init(_ limits: ExecutionLimits) {
        self.init(wall_timeout_seconds: limits.wallTimeoutSeconds, cpu_seconds: limits.cpuSeconds,
                  memory_bytes: limits.memoryBytes, max_processes: limits.maxProcesses,
                  max_file_bytes: limits.maxFileBytes, max_output_bytes: limits.maxOutputBytes,
                  max_source_bytes: limits.maxSourceBytes)
    }
}

// MARK: Engine values → results

extension ModelInfo {
    init(_ loaded: LoadedModel, precision: WeightPrecision) {
        let c = loaded.model.configuration
        self.init(name: loaded.name, path: loaded.path, architecture: c.architecture.rawValue,
                  parameters: ModelInfo.parameterCount(c), vocabulary_size: c.vocabularySize,
                  context_length: c.contextLength, layers: c.layerCount, hidden_size: c.hiddenSize,
                  weights: WeightPrecisionName(precision), adapter: loaded.adapterPath)
    }

    /// Parameters of a Llama/Qwen2 decoder with this configuration (embedding, per-layer projections and norms,
    /// final norm, and the output head when it is not tied).
    static func parameterCount(_ c: ModelConfiguration) -> Int {
        let kvWidth = c.keyValueHeadCount * c.headDimension
        let qWidth = c.headCount * c.headDimension
        var perLayer = c.hiddenSize * qWidth + 2 * c.hiddenSize * kvWidth + qWidth * c.hiddenSize
        perLayer += 3 * c.hiddenSize * c.intermediateSize + 2 * c.hiddenSize
        if c.attentionBias { perLayer += qWidth + 2 * kvWidth }
        let embedding = c.vocabularySize * c.hiddenSize
        return embedding + c.layerCount * perLayer + c.hiddenSize + (c.tiedEmbeddings ? 0 : embedding)
    }
}

extension ExecutionStatusName {
    init(_ status: ExecutionStatus) {
        // The raw values are the wire names on both sides (DaemonTests' ProtocolMirrorTests checks the lists agree).
        self = ExecutionStatusName(rawValue: status.rawValue)!
    }
}

extension ExecutionResultWire {
    init(_ result: ExecutionResult) {
        self.init(status: ExecutionStatusName(result.status), exit_code: result.exitCode, signal: result.signal,
                  stdout: result.stdout, stderr: result.stderr, wall_ms: result.wallMs, cpu_ms: result.cpuMs,
                  queue_ms: result.queueMs, truncated: result.truncated, message: result.message, pid: result.pid)
    }
}

extension SandboxMetricsWire {
    init(_ metrics: SandboxMetrics) {
        self.init(pool_size: metrics.poolSize, workers_alive: metrics.workersAlive, workers_busy: metrics.workersBusy,
                  queue_depth: metrics.queueDepth, queue_capacity: metrics.queueCapacity,
                  workers_replaced: metrics.workersReplaced, worker_pids: metrics.workerPIDs,
                  runs_total: metrics.runsTotal, status_counts: metrics.statusCounts,
                  isolation: metrics.isolation.map(IsolationWire.init), python_path: metrics.pythonPath,
                  python_version: metrics.pythonVersion, last_worker_error: metrics.lastWorkerError)
    }
}

extension IsolationWire {
    init(_ report: IsolationReport) {
        self.init(namespaces: report.namespaces, network: report.network, private_tmp: report.privateTmp,
                  pid_namespace: report.pidNamespace, pid_namespace_method: report.pidNamespaceMethod,
                  proc: report.proc, run_uid: report.runUID, exposed: report.exposed,
                  interpreter_binds: report.interpreterBinds, errors: report.errors)
    }
}

extension GradeWire {
    init(_ grade: Grade) {
        self.init(verdict: grade.verdict.rawValue, correct: grade.isCorrect, extracted: grade.extracted,
                  rule: grade.rule.rawValue, fell_back: grade.fellBack)
    }
}

extension ToolCallSummary {
    init(_ call: ToolCallRecord) {
        self.init(code: call.code, status: ExecutionStatusName(call.status), observation: call.observation,
                  wall_ms: call.wallMs)
    }
}

extension TrajectoryWire {
    init(_ t: Trajectory) {
        self.init(problem_id: t.problemID, group: t.group, sample: t.sample, text: t.text, token_ids: t.tokenIDs,
                  prompt_length: t.promptLength, logprobs: t.logprobs, loss_mask: t.lossMask,
                  segments: t.segments.map { SegmentWire(kind: $0.kind.rawValue, text: $0.text) },
                  tool_calls: t.toolCalls.map {
                      ToolCallRecordWire(code: $0.code, status: ExecutionStatusName($0.status), observation: $0.observation,
                                         output: $0.output, wall_ms: $0.wallMs, token_start: $0.tokenStart,
                                         token_count: $0.tokenCount, truncated: $0.truncated)
                  },
                  has_code: t.hasCode, code_executed: t.codeExecuted, code_failed: t.codeFailed,
                  effective_code: t.effectiveCode, answer: t.answer, grade: GradeWire(t.grade), reward: t.reward,
                  finish_reason: t.finishReason)
    }
}

extension SolveProgress {
    /// The `$/progress` value of a solve's event; nil for events a solve does not stream.
    static func from(_ event: RolloutEvent) -> SolveProgress? {
        switch event {
        case .text(_, let delta, _):
            return SolveProgress(kind: "text", delta: delta)
        case .toolCall(_, let index, let code):
            return SolveProgress(kind: "tool_call", index: index, code: code)
        case .toolResult(_, let index, let call):
            return SolveProgress(kind: "tool_result", index: index, status: ExecutionStatusName(call.status),
                                 observation: call.observation)
        case .finished:
            return nil
        }
    }
}

extension ClusterMembership {
    init(_ group: ProcessGroup) {
        self.init(rank: group.rank, world_size: group.worldSize, prefix: group.prefix)
    }
}

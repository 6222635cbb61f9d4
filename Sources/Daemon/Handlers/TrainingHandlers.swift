import Foundation
import JSONRPC
import Models
import RL
import SystemSupport

struct TrainStepParams: WireParams {
    var problems: [ProblemWire]?
    var rollout_ids: [String]?
    var group_size: Int?
    var learning_rate: Double?
    var warmup_steps: Int?
    var cosine_total_steps: Int?
    var min_lr_ratio: Double?
    var eps_low: Double?
    var eps_high: Double?
    var clip_ratio_c: Double?
    var dual_clip: Bool?
    var old_logprobs: String?
    var tis_cap: Double?
    var kl_coef: Double?
    var entropy_coef: Double?
    var advantage: String?
    var aggregation: String?
    var micro_batch: Int?
    var max_grad_norm: Double?
    var weight_decay: Double?
    var lora_rank: Int?
    var lora_alpha: Double?
    var lora_targets: [String]?
    var use_rslora: Bool?
    var progress_token: RequestID?
    /// Sampling and tool settings; `seed` seeds this step's rollouts (the loop's own stream when absent) and is
    /// taken out of the sampling settings, which the loop fills per step.
    var options: GenerationOptions
    var seed: UInt64? { options.seed }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case problems, rollout_ids, group_size, learning_rate, warmup_steps, cosine_total_steps, min_lr_ratio, eps_low,
             eps_high, clip_ratio_c, dual_clip, old_logprobs, tis_cap, kl_coef, entropy_coef, advantage, aggregation, micro_batch, max_grad_norm, weight_decay, lora_rank, lora_alpha, lora_targets, use_rslora,
             progress_token
    }
    static let acceptedFields = CodingKeys.names + GenerationOptions.CodingKeys.names

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        problems = try c.decodeIfPresent([ProblemWire].self, forKey: .problems)
        rollout_ids = try c.decodeIfPresent([String].self, forKey: .rollout_ids)
        group_size = try c.decodeIfPresent(Int.self, forKey: .group_size)
        learning_rate = try c.decodeIfPresent(Double.self, forKey: .learning_rate)
        warmup_steps = try c.decodeIfPresent(Int.self, forKey: .warmup_steps)
        cosine_total_steps = try c.decodeIfPresent(Int.self, forKey: .cosine_total_steps)
        min_lr_ratio = try c.decodeIfPresent(Double.self, forKey: .min_lr_ratio)
        eps_low = try c.decodeIfPresent(Double.self, forKey: .eps_low)
        eps_high = try c.decodeIfPresent(Double.self, forKey: .eps_high)
        clip_ratio_c = try c.decodeIfPresent(Double.self, forKey: .clip_ratio_c)
        dual_clip = try c.decodeIfPresent(Bool.self, forKey: .dual_clip)
        old_logprobs = try c.decodeIfPresent(String.self, forKey: .old_logprobs)
        tis_cap = try c.decodeIfPresent(Double.self, forKey: .tis_cap)
        kl_coef = try c.decodeIfPresent(Double.self, forKey: .kl_coef)
        entropy_coef = try c.decodeIfPresent(Double.self, forKey: .entropy_coef)
        advantage = try c.decodeIfPresent(String.self, forKey: .advantage)
        aggregation = try c.decodeIfPresent(String.self, forKey: .aggregation)
        micro_batch = try c.decodeIfPresent(Int.self, forKey: .micro_batch)
        max_grad_norm = try c.decodeIfPresent(Double.self, forKey: .max_grad_norm)
        weight_decay = try c.decodeIfPresent(Double.self, forKey: .weight_decay)
        lora_rank = try c.decodeIfPresent(Int.self, forKey: .lora_rank)
        lora_alpha = try c.decodeIfPresent(Double.self, forKey: .lora_alpha)
        lora_targets = try c.decodeIfPresent([String].self, forKey: .lora_targets)
        use_rslora = try c.decodeIfPresent(Bool.self, forKey: .use_rslora)
        progress_token = try c.decodeIfPresent(RequestID.self, forKey: .progress_token)
        var options = try GenerationOptions(from: decoder)
        self.options = options
        options.seed = nil
        rolloutOptions = options
    }

    /// `options` without the seed (see `seed`).
    let rolloutOptions: GenerationOptions

    /// The LoRA settings, nil when none is given (full training, or the adapters the model was loaded with).
    func loraConfiguration() throws -> LoRAConfiguration? {
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

    /// TORL's defaults with the fields given here.
    func hyperParameters() throws -> TrainingHyperParameters {
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
        if let max_grad_norm { result.maxGradientNorm = max_grad_norm }
        if let weight_decay { result.weightDecay = weight_decay }
        do { try result.validate() } catch TrainingLoopError.invalidHyperParameter(let name, let reason) {
            throw RPCError.invalidParams(field: name, reason: reason)
        }
        return result
    }
}

struct TrainStepResult: Encodable {
    var step: Int
    var metrics: [String: Double?]
}

/// `model/export`: the merged Hugging Face folder, or with `adapter` the LoRA adapters as a PEFT folder.
struct ExportParams: WireParams {
    var path: String
    var adapter: Bool?
    enum CodingKeys: String, CodingKey, CaseIterable { case path, adapter }
    static let acceptedFields = CodingKeys.names
}

struct CheckpointParams: WireParams {
    var path: String
    enum CodingKeys: String, CodingKey, CaseIterable { case path }
    static let acceptedFields = CodingKeys.names
}

/// `checkpoint/restore` replaces the trainer's state, so like `model/load` it takes `discard_training`.
struct CheckpointRestoreParams: WireParams {
    var path: String
    var discard_training: Bool?
    enum CodingKeys: String, CodingKey, CaseIterable { case path, discard_training }
    static let acceptedFields = CodingKeys.names
}

struct CheckpointResult: Encodable {
    var path: String
    var step: Int
}

struct ExportResult: Encodable {
    var path: String
    var files: [String]
}

/// The daemon's trainer: created from the loaded model by the first training method, dropped when another model
/// is loaded. `loop` is only touched inside `scheduler.exclusive` jobs, which run one at a time on the compute
/// thread; `state` is what `status` reads from any thread.
final class TrainingSlot: @unchecked Sendable {
    struct State {
        var step = 0
        var running = false
        /// The step whose state is on disk: the last checkpoint saved or restored, or the last export.
        var savedStep = 0
        /// Updates a `model/load` or `checkpoint/restore` would lose.
        var unsavedSteps: Int { step - savedStep }
    }
    let state = Locked(State())
    /// The trained LoRA (configuration, parameters), nil for full training; `status` reads it from any thread.
    let lora = Locked<(configuration: LoRAConfiguration, parameters: Int)?>(nil)
    private var loop: TrainingLoop?

    /// Forgets the trainer (another model was loaded): the next training method starts a new one at step 0.
    func reset() {
        loop = nil
        state.withLock { $0 = State() }
        lora.withLock { $0 = nil }
    }

    /// Refuses to let `method` replace a trainer whose updates are not on disk, unless the caller said to discard
    /// them: on a shared daemon they may be another client's unsaved work.
    func ensureReplaceable(by method: String, discarding: Bool) throws {
        let current = state.withLock { $0 }
        guard current.unsavedSteps > 0, !discarding else { return }
        throw DaemonError.unsavedTraining(method: method, step: current.step, unsavedSteps: current.unsavedSteps)
    }

    /// The trainer's state at its current step is on disk (checkpoint saved or restored, model exported).
    func markSaved(_ loop: TrainingLoop) {
        state.withLock { $0.step = loop.step; $0.savedStep = loop.step }
    }

    /// The loop of the current model, made on first use. LoRA settings (`lora`) choose how a new trainer trains;
    /// an existing one keeps its own, and settings that contradict it are refused.
    func loop(for current: ModelSlot.Current, lora wanted: LoRAConfiguration?,
              make: () throws -> TrainingLoop) throws -> TrainingLoop {
        if let loop, loop.model === current.loaded.model {
            if let wanted, wanted != loop.trainer.policy.lora?.configuration {
                throw RPCError.invalidParams(field: "lora_rank", reason: "the daemon's trainer already trains \(loop.trainer.policy.lora.map { "LoRA rank \($0.configuration.rank)" } ?? "every weight"); its LoRA settings stay until the model is loaded again (model/load)")
            }
            return loop
        }
        let made = try make()
        loop = made
        state.withLock { $0 = State(step: made.step, savedStep: made.step) }
        lora.withLock { $0 = made.trainer.policy.lora.map { ($0.configuration, $0.parameterCount) } }
        return made
    }

    /// Runs `work` with `running` set, recording the step reached afterwards.
    func running<T>(_ loop: TrainingLoop, _ work: () async throws -> T) async rethrows -> T {
        state.withLock { $0.running = true }
        defer { state.withLock { $0.step = loop.step; $0.running = false } }
        return try await work()
    }
}

extension Daemon {
    /// Training rollouts as published: temperature 1, top-p 1, the plain-text template, G = 8.
    func trainingLoop(lora: LoRAConfiguration? = nil) throws -> TrainingLoop {
        let current = try models.require()
        return try training.loop(for: current, lora: lora) {
            try TrainingLoop(model: current.loaded.model, tokenizer: current.loaded.tokenizer,
                             chatTemplate: try? current.loaded.chatTemplate(), executor: sandbox,
                             configuration: TrainerConfiguration(), seed: 0, lora: lora)
        }
    }

    func registerTraining(on router: Router) {
        router.register(strict: "train_step") { [self] (params: TrainStepParams, context) -> TrainStepResult in
            let hyperParameters = try params.hyperParameters()
            let lora = try params.loraConfiguration()
            var settings = try params.rolloutOptions.settings(over: rolloutDefaults())
            if let group = params.group_size {
                guard group >= 2 else {
                    throw RPCError.invalidParams(field: "group_size", reason: "must be >= 2 (advantages compare responses of one prompt)")
                }
                settings.groupSize = group
            }
            guard settings.sampling.temperature > 0 else {
                throw RPCError.invalidParams(field: "temperature", reason: "must be > 0 for training (sampled rollouts)")
            }
            try settings.validate()
            let rolloutSettings = settings
            let source = try trainingSource(params)
            let token = params.progress_token
            let seed = params.seed
            let metrics = try await scheduler.exclusive("train_step") { [self] in
                let loop = try trainingLoop(lora: lora)
                return try await training.running(loop) {
                    switch source {
                    case .problems(let problems):
                        let total = problems.count * rolloutSettings.groupSize
                        var finished = 0
                        return try await loop.step(problems: problems, settings: rolloutSettings,
                                                   hyperParameters: hyperParameters, seed: seed) { event in
                            guard case .finished = event else { return }
                            finished += 1
                            try? context.progress(ReportProgress(message: "trajectories", done: finished, total: total),
                                                  token: token)
                        }.metrics
                    case .stored(let batches):
                        return try loop.update(on: batches.map(\.trajectories),
                                               samplingTemperature: Double(batches[0].settings.sampling.temperature),
                                               responseBudget: batches[0].settings.maxResponseTokens,
                                               hyperParameters: hyperParameters)
                    }
                }
            }
            try? context.progress(ReportProgress(message: "update", done: 1, total: 1), token: token)
            return TrainStepResult(step: metrics.step, metrics: try metrics.snakeCaseFields())
        }

        router.register(strict: "checkpoint/save") { [self] (params: CheckpointParams, _) -> CheckpointResult in
            try await scheduler.exclusive("checkpoint/save") { [self] in
                let loop = try trainingLoop()
                try loop.save(to: params.path)
                training.markSaved(loop)
                return CheckpointResult(path: params.path, step: loop.step)
            }
        }

        router.register(strict: "checkpoint/restore") { [self] (params: CheckpointRestoreParams, _) -> CheckpointResult in
            try await scheduler.exclusive("checkpoint/restore") { [self] in
                try training.ensureReplaceable(by: "checkpoint/restore", discarding: params.discard_training ?? false)
                let loop = try trainingLoop()
                let step = try await training.running(loop) { try loop.restore(from: params.path) }
                training.markSaved(loop)
                return CheckpointResult(path: params.path, step: step)
            }
        }

        router.register(strict: "model/export") { [self] (params: ExportParams, _) -> ExportResult in
            try await scheduler.exclusive("model/export") { [self] in
                let current = try models.require()
                let loop = try trainingLoop()
                let files = params.adapter == true
                    ? try loop.exportAdapter(to: params.path, baseModel: current.loaded.path)
                    : try loop.export(to: params.path, tokenizerOf: current.loaded.path)
                training.markSaved(loop)
                return ExportResult(path: params.path, files: files)
            }
        }
    }

    private enum TrainingSource: Sendable {
        case problems([Problem])
        case stored([RolloutStore.Entry])
    }

    private func trainingSource(_ params: TrainStepParams) throws -> TrainingSource {
        switch (params.problems, params.rollout_ids) {
        case (let given?, nil):
            guard !given.isEmpty else { throw RPCError.invalidParams(field: "problems", reason: "must not be empty") }
            return .problems(given.enumerated().map { $1.problem(at: $0) })
        case (nil, let ids?):
            guard !ids.isEmpty else { throw RPCError.invalidParams(field: "rollout_ids", reason: "must not be empty") }
            return .stored(try storedRollouts(ids))
        default:
            throw RPCError.invalidParams(field: "problems", reason: "give exactly one of problems or rollout_ids")
        }
    }

    /// The stored rollouts `ids` names, which must all be kept and share one temperature > 0.
    func storedRollouts(_ ids: [String]) throws -> [RolloutStore.Entry] {
        let batches = try ids.map { id -> RolloutStore.Entry in
            guard let entry = rollouts.entry(id) else {
                throw RPCError.invalidParams(field: "rollout_ids", reason: "no stored rollout \(id) (the daemon keeps the last \(rollouts.capacity))")
            }
            return entry
        }
        let temperatures = Set(batches.map(\.settings.sampling.temperature))
        guard temperatures.count <= 1 else {
            throw RPCError.invalidParams(field: "rollout_ids", reason: "the rollouts were sampled at different temperatures \(temperatures.sorted())")
        }
        guard temperatures.allSatisfy({ $0 > 0 }) else {
            throw RPCError.invalidParams(field: "rollout_ids", reason: "greedy rollouts (temperature 0) cannot be trained on")
        }
        return batches
    }
}

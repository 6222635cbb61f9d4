import Foundation
import JSONRPC
import Models
import RL
import SystemSupport
import TorlProtocol

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
    /// The trainer was made by a method that carried no LoRA settings (checkpoint/save, model/export before any
    /// train_step) and has neither trained nor restored anything since: it holds nothing a new trainer would lose.
    /// Touched, like `loop`, only inside `scheduler.exclusive` jobs.
    private var untouched = false

    /// Forgets the trainer (another model was loaded): the next training method starts a new one at step 0.
    func reset() {
        loop = nil
        untouched = false
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
    /// an existing one keeps its own, and settings that contradict it are refused (see `choice`).
    func loop(for current: ModelSlot.Current, lora wanted: LoRAConfiguration?,
              make: () throws -> TrainingLoop) throws -> TrainingLoop {
        if let loop, loop.model === current.loaded.model {
            switch try Self.choice(current: loop.trainer.policy.lora?.configuration, step: loop.step,
                                   untouched: untouched, wanted: wanted) {
            case .keep: return loop
            case .replace: self.loop = nil  // freed before the new trainer is made
            }
        }
        let made = try make()
        loop = made
        untouched = wanted == nil
        state.withLock { $0 = State(step: made.step, savedStep: made.step) }
        lora.withLock { $0 = made.trainer.policy.lora.map { ($0.configuration, $0.parameterCount) } }
        return made
    }

    enum TrainerChoice: Equatable { case keep, replace }

    /// What a method asking for `wanted` LoRA settings (nil: none given) does with the current trainer, which
    /// trains `current` (nil: every weight) at `step`: keeps it when the settings agree or are absent, replaces an
    /// untouched one (a full trainer that checkpoint/save or model/export made before the first train_step), and
    /// otherwise refuses, saying how to get a trainer with the wanted settings.
    static func choice(current: LoRAConfiguration?, step: Int, untouched: Bool,
                       wanted: LoRAConfiguration?) throws -> TrainerChoice {
        guard let wanted, wanted != current else { return .keep }
        if untouched && step == 0 { return .replace }
        let trains = current.map {
            "LoRA rank \($0.rank), alpha \($0.alpha), targets \($0.targets.map(\.rawValue).joined(separator: ","))\($0.useRSLoRA ? ", rsLoRA" : "")"
        } ?? "every weight"
        throw RPCError.invalidParams(
            field: "lora_rank",
            reason: "the daemon's trainer (step \(step)) trains \(trains); LoRA settings only choose how a new trainer trains. To train with these, keep what you need of this one (checkpoint/save, model/export), load the model again with model/load (discard_training: true drops unsaved steps) and send the settings with the first train_step after it; to continue this trainer, leave the LoRA settings out")
    }

    /// Runs `work` with `running` set, recording the step reached afterwards.
    func running<T>(_ loop: TrainingLoop, _ work: () async throws -> T) async rethrows -> T {
        untouched = false
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
        router.register(TrainStepRequest.self) { [self] params, context in
            let hyperParameters = try params.hyperParameters.trainingHyperParameters()
            let lora = try params.lora.configuration()
            // The seed seeds this step's rollouts (`seed` below); the loop fills the sampling seed per step.
            var options = params.options
            options.seed = nil
            var settings = try options.settings(over: rolloutDefaults())
            if let group = params.group_size {
                guard group >= 2 else {
                    throw RPCError.invalidParams(field: "group_size", reason: "must be >= 2 (advantages compare responses of one prompt)")
                }
                settings.groupSize = group
            }
            guard settings.sampling.temperature > 0 else {
                throw RPCError.invalidParams(field: "temperature", reason: "must be > 0 for training (sampled rollouts)")
            }
            let rolloutSettings = settings
            let source = try trainingSource(params)
            let token = params.progress_token
            let seed = params.options.seed
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
                            context.progress(ProgressReport(message: "trajectories", done: finished, total: total),
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
            context.progress(ProgressReport(message: "update", done: 1, total: 1), token: token)
            return TrainStepResult(step: metrics.step, metrics: try metrics.snakeCaseFields())
        }

        router.register(CheckpointSaveRequest.self) { [self] params, _ in
            try await scheduler.exclusive("checkpoint/save") { [self] in
                let loop = try trainingLoop()
                try loop.save(to: params.path)
                training.markSaved(loop)
                return CheckpointResult(path: params.path, step: loop.step)
            }
        }

        router.register(CheckpointRestoreRequest.self) { [self] params, _ in
            try await scheduler.exclusive("checkpoint/restore") { [self] in
                try training.ensureReplaceable(by: "checkpoint/restore", discarding: params.discard_training ?? false)
                let loop = try trainingLoop()
                let step = try await training.running(loop) { try loop.restore(from: params.path) }
                training.markSaved(loop)
                return CheckpointResult(path: params.path, step: step)
            }
        }

        router.register(ModelExportRequest.self) { [self] params, _ in
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

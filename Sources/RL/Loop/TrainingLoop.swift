import Foundation
import Generation
import Models
import Tensors
import Tokenizers

/// What one training step did: the update's metrics and the trajectories it learned from.
public struct TrainingStepResult {
    public var metrics: StepMetrics
    public var trajectories: [Trajectory]
}

/// The GRPO loop step shared by `torl train` and the daemon's `train_step`: rollouts with the inference model
/// and the sandbox, one trainer update on them, then the updated weights pushed into the inference model so the
/// next rollouts (and solves) sample from the new policy.
///
/// Reproducible: a step's sampling seed is drawn from `random` (seeded once, saved in checkpoints) unless the
/// caller fixes it, so the same seed and configuration give the same rollouts and the same update.
///
/// Not thread-safe: one owner (the daemon's compute thread, the CLI's task) drives it.
public final class TrainingLoop {
    public let model: any TransformerModel
    public let engine: RolloutEngine
    public private(set) var trainer: GRPOTrainer
    public private(set) var random: SeededGenerator

    /// A loop whose policy starts from `model`'s weights: all of them trained, or with `lora` (or when the model
    /// already carries adapters, e.g. loaded from a PEFT folder) only LoRA adapters over `model` as the frozen base.
    public convenience init(model: any TransformerModel, tokenizer: Tokenizer, chatTemplate: ChatTemplate?,
                            executor: CodeExecutor, configuration: TrainerConfiguration, seed: UInt64,
                            lora: LoRAConfiguration? = nil,
                            decoderConfiguration: BatchDecoder.Configuration = BatchDecoder.Configuration()) throws {
        let trainer = try GRPOTrainer(policy: try Self.policy(model: model, lora: lora, seed: seed),
                                      configuration: configuration)
        self.init(engine: RolloutEngine(model: model, tokenizer: tokenizer, chatTemplate: chatTemplate,
                                        executor: executor, decoderConfiguration: decoderConfiguration),
                  model: model, trainer: trainer, random: SeededGenerator(seed: seed))
    }

    /// The trained model: a full f32 copy of `model`, or LoRA over it (continuing its adapters when it has some).
    static func policy(model: any TransformerModel, lora: LoRAConfiguration?, seed: UInt64) throws -> TrainableTransformer {
        if let adapters = model.adapters {
            if let lora, lora != adapters.configuration {
                throw TrainingModelError.invalidConfiguration(
                    "the model carries LoRA adapters of rank \(adapters.configuration.rank), alpha \(adapters.configuration.alpha), targets \(adapters.configuration.targets.map(\.rawValue)): train those (leave out the LoRA settings) or load the model without them")
            }
            return try TrainableTransformer(base: model, lora: adapters.configuration, adapters: try adapters.copy())
        }
        guard let lora else { return try TrainableTransformer(from: model) }
        let policy = try TrainableTransformer(base: model, lora: lora, seed: seed)
        try policy.copyWeights(into: model)
        return policy
    }

    init(engine: RolloutEngine, model: any TransformerModel, trainer: GRPOTrainer, random: SeededGenerator) {
        self.engine = engine
        self.model = model
        self.trainer = trainer
        self.random = random
    }

    public var step: Int { trainer.step }
    /// The parameters' checksum after the last data-parallel update (equal on every rank).
    public var parameterChecksum: UInt64? { trainer.parameterChecksum }

    /// Rolls out `settings.groupSize` responses per problem and trains on them. `seed` fixes the sampling seed
    /// of this step; nil draws it from the loop's generator.
    public func step(problems: [Problem], settings: RolloutSettings, hyperParameters: TrainingHyperParameters,
                     seed: UInt64? = nil,
                     observer: ((RolloutEvent) -> Void)? = nil) async throws -> TrainingStepResult {
        guard settings.sampling.temperature > 0 else { throw TrainingLoopError.greedySampling }
        try hyperParameters.validate()
        var settings = settings
        settings.sampling.seed = seed ?? random.next()
        let (trajectories, timings) = try await engine.runMeasured(problems: problems, settings: settings,
                                                                   observer: observer)
        let metrics = try update(on: [trajectories], samplingTemperature: Double(settings.sampling.temperature),
                                 responseBudget: settings.maxResponseTokens, hyperParameters: hyperParameters,
                                 timings: timings)
        return TrainingStepResult(metrics: metrics, trajectories: trajectories)
    }

    /// One update on trajectories rolled out earlier (one array per rollout batch), then the weights go to the
    /// inference model.
    /// With `dataParallel`, `batches` are this rank's share of the step, possibly none (see `GRPOTrainer.step`).
    public func update(on batches: [[Trajectory]], samplingTemperature: Double, responseBudget: Int,
                       hyperParameters: TrainingHyperParameters, timings: RolloutTimings = .init(),
                       dataParallel group: DataParallelGroup? = nil) throws -> StepMetrics {
        guard samplingTemperature > 0 else { throw TrainingLoopError.greedySampling }
        try hyperParameters.validate()
        let sequences = TrainingSequence.combining(batches)
        guard !sequences.isEmpty || group != nil else { throw TrainingLoopError.noTrajectories }
        try trainer.reconfigure(hyperParameters.trainerConfiguration(samplingTemperature: samplingTemperature,
                                                                     responseBudget: responseBudget,
                                                                     rolloutPrecision: model.precision))
        let metrics: StepMetrics
        do {
            // Cancelling the calling task stops the update between micro-batches with nothing changed.
            metrics = try trainer.step(sequences, timings: timings, dataParallel: group,
                                       isCancelled: { Task.isCancelled })
        } catch TrainingInputError.cancelled {
            throw CancellationError()
        }
        try trainer.policy.copyWeights(into: model)
        return metrics
    }

    /// Policy, reference, optimizer moments, step, generator state and configuration, written atomically.
    public func save(to path: String) throws {
        try Checkpoint.save(trainer, randomState: random.state, to: path)
    }

    /// Continues from a checkpoint of a model with the same configuration; the inference model gets its weights.
    /// Returns the restored step.
    @discardableResult
    public func restore(from path: String) throws -> Int {
        let (restored, generator) = try Checkpoint.restore(from: path, base: model)
        guard restored.policy.configuration == model.configuration else {
            throw TrainingLoopError.checkpointModelMismatch(path: path)
        }
        try restored.policy.copyWeights(into: model)
        trainer = restored
        random = generator
        return restored.step
    }

    /// The current policy as a Hugging Face folder (see `TrainableTransformer.exportHuggingFace`) with the
    /// tokenizer of the model file at `modelPath`; returns the names of the files written.
    public func export(to directory: String, tokenizerOf modelPath: String) throws -> [String] {
        let scratch = NSTemporaryDirectory() + "torl-tokenizer-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let files = try Self.tokenizerFiles(of: modelPath, scratch: scratch)
        try trainer.policy.exportHuggingFace(to: directory, tokenizerFiles: files)
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    /// The LoRA adapters as a PEFT folder (`adapter_config.json`, `adapter_model.safetensors`) naming `baseModel`.
    public func exportAdapter(to directory: String, baseModel: String) throws -> [String] {
        guard let lora = trainer.policy.lora else {
            throw TrainingModelError.invalidConfiguration("the trainer trains every weight, not LoRA adapters: export the model instead")
        }
        try PEFTAdapterFolder.write(lora, to: directory, baseModel: baseModel)
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    /// A Hugging Face folder's tokenizer files; for a GGUF file, whose tokenizer lives in its metadata,
    /// `tokenizer.json` and `tokenizer_config.json` written into `scratch`.
    static func tokenizerFiles(of modelPath: String, scratch: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        let manager = FileManager.default
        if manager.fileExists(atPath: modelPath, isDirectory: &isDirectory), isDirectory.boolValue {
            return ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"]
                .map { (modelPath as NSString).appendingPathComponent($0) }
                .filter { manager.fileExists(atPath: $0) }
        }
        let files = try GGUFFile(path: modelPath).huggingFaceTokenizerFiles()
        do {
            try manager.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            let paths = ["tokenizer.json", "tokenizer_config.json"].map { (scratch as NSString).appendingPathComponent($0) }
            try files.tokenizerJSON.write(to: URL(fileURLWithPath: paths[0]))
            try files.tokenizerConfigJSON.write(to: URL(fileURLWithPath: paths[1]))
            return paths
        } catch {
            throw TrainingFileError.cannotWrite(path: scratch, reason: error.localizedDescription)
        }
    }
}

extension StepMetrics {
    /// The metrics with snake_case keys (`reward_mean`, `update_seconds`, ...): one object of the wire's
    /// `metrics` shape and one line of a metrics JSONL file, absent metrics as null.
    public func snakeCaseFields() throws -> [String: Double?] {
        try JSONDecoder().decode([String: Double?].self, from: try jsonLine())
    }

    /// One JSON line (sorted keys, integers without a fraction).
    public func jsonLine() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        var line = try encoder.encode(self)
        line.append(UInt8(ascii: "\n"))
        return line
    }
}

import ArgumentParser
import Foundation
import Generation
import RL
import Sandbox
import Tensors

/// `torl train`: GRPO with tool-integrated rollouts on a JSONL dataset or synthetic arithmetic, with periodic
/// evaluation, checkpoints, a metrics JSONL file and a Hugging Face export at the end.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the model with GRPO on tool-integrated rollouts; progress on stderr, one metrics line per step to --metrics.")

    @Option(help: "A .gguf file or Hugging Face folder (default: $TORL_MODEL).")
    var model: String?

    @Option(help: "JSONL training set (`problem`, `answer` per line).")
    var dataset: String?

    @Flag(help: "Train on generated arithmetic problems instead of a dataset.")
    var synthetic = false
    @OptionGroup var generator: SyntheticOptions

    @Option(help: "Updates to run (in total, counting the steps of a resumed checkpoint).")
    var steps = 10
    @Option(help: "Prompts per step.")
    var batch = 8
    @Option(help: "Responses per prompt (G).")
    var groupSize = 8

    @Option(help: "Peak learning rate.")
    var lr = 1e-6
    @Option(help: "Linear warmup steps.")
    var warmupSteps = 0
    @Flag(help: "Cosine decay from the peak after warmup down to --min-lr-ratio at the last step.")
    var cosine = false
    @Option(help: "Final learning rate of the cosine as a fraction of the peak.")
    var minLrRatio = 0.0
    @Option(help: "Lower clip range of the ratio (1 - eps).")
    var epsLow = 0.2
    @Option(help: "Upper clip range of the ratio (1 + eps).")
    var epsHigh = 0.2
    @Option(help: "Coefficient of the KL term to the initial policy (0: no reference model).")
    var kl = 0.0
    @Option(help: "Coefficient of the entropy bonus.")
    var entropy = 0.0
    @Option(help: "Loss aggregation: token_mean, seq_mean_token_mean or dr_grpo.")
    var aggregation = "token_mean"
    @Option(help: "Advantage: std (GRPO) or dr_grpo (no std division).")
    var advantage = "std"
    @Option(help: "Global gradient-norm clip (0: off).")
    var maxGradNorm = 1.0
    @Option(help: "AdamW decoupled weight decay.")
    var weightDecay = 0.0
    @Option(help: "Tokens per micro-batch (gradients accumulate across micro-batches).")
    var microBatch = 4096

    @Option(help: "Tool calls per response (C); 0 disables the tool.")
    var maxToolCalls = 1
    @Option(help: "Response budget in tokens, tool output included.")
    var maxTokens = 1024
    @Option(help: "Prompt template: torl (the published plain text) or chat.")
    var template: PromptTemplate = .torl
    @Option(help: "Sampling temperature of the rollouts (> 0).")
    var temperature: Float = 1
    @Option(help: "Seed of problem order and rollouts.")
    var seed: UInt64 = 0

    @Option(help: "Evaluate greedily every N steps (0: never).")
    var evalEvery = 0
    @Option(help: "JSONL evaluation set.")
    var evalDataset: String?
    @Option(help: "Evaluate on the first N problems.")
    var evalLimit: Int?

    @Option(help: "Save a checkpoint every N steps (0: never).")
    var checkpointEvery = 0
    @Option(help: "Folder of the checkpoints (step-N.safetensors).")
    var checkpointDir = "checkpoints"
    @Option(help: "Continue from this checkpoint.")
    var resume: String?
    @Option(help: "Append one JSON line of metrics per step to this file.")
    var metrics: String?
    @Option(help: "Write the trained model as a Hugging Face folder here at the end.")
    var export: String?
    @OptionGroup var prompt: PromptOptions
    @Option(help: "Sandbox workers.")
    var poolSize = 2

    func validate() throws {
        guard (dataset != nil) != synthetic else { throw ValidationError("give exactly one of --dataset or --synthetic") }
        guard steps >= 1, batch >= 1, groupSize >= 2 else {
            throw ValidationError("--steps and --batch must be >= 1, --group-size >= 2")
        }
        guard temperature > 0 else { throw ValidationError("--temperature must be > 0: training needs sampled rollouts") }
        guard evalEvery >= 0, checkpointEvery >= 0 else { throw ValidationError("--eval-every and --checkpoint-every must be >= 0") }
        if evalEvery > 0 && evalDataset == nil { throw ValidationError("--eval-every needs --eval-dataset") }
        try settings.validate()
        try hyperParameters().validate()
    }

    func hyperParameters() throws -> TrainingHyperParameters {
        var result = TrainingHyperParameters()
        result.learningRate = lr
        result.warmupSteps = warmupSteps
        result.cosineTotalSteps = cosine ? steps : nil
        result.minimumLearningRateRatio = minLrRatio
        result.clipLow = epsLow
        result.clipHigh = epsHigh
        result.klCoefficient = kl
        result.entropyCoefficient = entropy
        guard let aggregationMode = LossAggregation.wireNames[aggregation] else {
            throw ValidationError("--aggregation must be one of \(LossAggregation.wireNames.keys.sorted())")
        }
        guard let estimator = AdvantageEstimator.wireNames[advantage] else {
            throw ValidationError("--advantage must be one of \(AdvantageEstimator.wireNames.keys.sorted())")
        }
        result.aggregation = aggregationMode
        result.advantage = estimator
        result.maxGradientNorm = maxGradNorm
        result.weightDecay = weightDecay
        result.microBatchTokens = microBatch
        return result
    }

    var settings: RolloutSettings {
        var settings = RolloutSettings()
        settings.groupSize = groupSize
        settings.template = template
        settings.maxToolCalls = maxToolCalls
        settings.maxResponseTokens = maxTokens
        prompt.apply(to: &settings)
        settings.sampling = SamplingParameters(temperature: temperature, topK: 0, topP: 1, seed: seed)
        return settings
    }

    // Synchronous entry: an AsyncParsableCommand subcommand's async run is not dispatched by this build's root
    // command (it prints the help instead), so the async work runs to completion here.
    func run() throws {
        let command = self
        try blockingAwait { () async -> Result<Void, Error> in
            do { return .success(try await command.trainToCompletion()) } catch { return .failure(error) }
        }.get()
    }

    private func trainToCompletion() async throws {
        guard let modelPath = model ?? ProcessInfo.processInfo.environment["TORL_MODEL"] else {
            throw ValidationError("no model: pass --model or set TORL_MODEL")
        }
        let problems = try trainingProblems()
        let evalProblems = try evalDataset.map { try ProblemSet.load(path: $0, limit: evalLimit) }
        let hyperParameters = try hyperParameters()
        let loaded = try LoadedModel.load(path: modelPath, precision: .f32)
        let pool = try SandboxPool(configuration: SandboxConfiguration(poolSize: poolSize))
        do {
            try await pool.waitUntilReady()
            let loop = try TrainingLoop(
                model: loaded.model, tokenizer: loaded.tokenizer, chatTemplate: try? loaded.chatTemplate(),
                executor: pool, configuration: hyperParameters.trainerConfiguration(
                    samplingTemperature: Double(temperature), responseBudget: maxTokens),
                seed: seed)
            if let resume {
                let step = try loop.restore(from: resume)
                log("resumed from \(resume) at step \(step)")
            }
            try await train(loop, problems: problems, evalProblems: evalProblems, hyperParameters: hyperParameters)
            if let export {
                let files = try loop.export(to: export, tokenizerOf: modelPath)
                log("exported \(files.joined(separator: ", ")) to \(export)")
            }
            await pool.shutdown()
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    private func train(_ loop: TrainingLoop, problems: [Problem], evalProblems: [Problem]?,
                       hyperParameters: TrainingHyperParameters) async throws {
        let metricsFile = try metrics.map(MetricsFile.init(path:))
        // One fixed shuffle; step s takes the next `batch` problems of it, so a resumed run sees what it would have.
        var orderGenerator = SeededGenerator(seed: seed)
        let order = Array(problems.indices).shuffled(using: &orderGenerator)
        let settings = settings
        while loop.step < steps {
            let first = loop.step * batch
            let chosen = (0..<batch).map { problems[order[(first + $0) % order.count]] }
            let result = try await loop.step(problems: chosen, settings: settings, hyperParameters: hyperParameters)
            let m = result.metrics
            log(String(format: "step %ld/%ld  reward %.3f  acc %.3f  code %.2f  loss %+.4f  |g| %.3f  len %.0f  gen %.1fs sandbox %.1fs grade %.2fs update %.1fs",
                       m.step, steps, m.rewardMean, m.accuracy, m.codeShare, m.loss, m.gradientNorm,
                       m.meanResponseLength, m.generationSeconds, m.sandboxSeconds, m.gradingSeconds, m.updateSeconds))
            try metricsFile?.append(m)
            if checkpointEvery > 0 && m.step % checkpointEvery == 0 {
                try FileManager.default.createDirectory(atPath: checkpointDir, withIntermediateDirectories: true)
                let path = (checkpointDir as NSString).appendingPathComponent("step-\(m.step).safetensors")
                try loop.save(to: path)
                log("checkpoint \(path)")
            }
            if let evalProblems, evalEvery > 0 && m.step % evalEvery == 0 {
                try await evaluate(loop, problems: evalProblems, step: m.step)
            }
        }
        try metricsFile?.close()
    }

    /// Greedy, one sample per problem: the published evaluation.
    private func evaluate(_ loop: TrainingLoop, problems: [Problem], step: Int) async throws {
        var evalSettings = settings
        evalSettings.groupSize = 1
        evalSettings.sampling = SamplingParameters(temperature: 0, topK: 0, topP: 1, seed: 0)
        let summary = try await Evaluator(engine: loop.engine).run(problems: problems, settings: evalSettings)
        let accuracy = (summary.metrics["accuracy"] ?? nil).map { String(format: "%.4f", $0) } ?? "-"
        log("eval at step \(step): accuracy \(accuracy) on \(summary.problems) problems")
    }

    private func trainingProblems() throws -> [Problem] {
        if let dataset { return try ProblemSet.load(path: dataset) }
        return try generator.problems(seed: seed)
    }

    private func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Step metrics as JSON lines, appended (a resumed run continues the same file).
private final class MetricsFile {
    private let handle: FileHandle

    init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw ValidationError("cannot create the metrics file \(path)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("cannot open the metrics file \(path)")
        }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    func append(_ metrics: StepMetrics) throws { try handle.write(contentsOf: try metrics.jsonLine()) }
    func close() throws { try handle.close() }
}

import ArgumentParser
import Foundation
import JSONRPC
import Models
import RL
import Tensors
import TorlProtocol

/// `torl train`: GRPO with tool-integrated rollouts on a JSONL dataset or synthetic arithmetic, driven step by step
/// on a daemon (`train_step`), with periodic evaluation (`evaluate`), checkpoints (`checkpoint/save`), a metrics
/// JSONL file and a Hugging Face export at the end (`model/export`).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the model with GRPO on tool-integrated rollouts; progress on stderr, one metrics line per step to --metrics.",
        discussion: """
        Runs on a daemon: --connect ADDR (or $TORL_CONNECT), else one started over stdio for this run. The trainer \
        lives in the daemon: a connected daemon that trained before continues from its step.
        """)

    @OptionGroup var connection: DaemonConnectionOptions

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
    @Option(help: "Dual-clip bound c: a token with a negative advantage loses at most -A*c (verl's clip_ratio_c).")
    var clipRatioC = 3.0
    @Flag(help: "Turn dual-clip off (the plain clipped surrogate for negative advantages too).")
    var noDualClip = false
    @Option(help: "Old policy of the ratio: rollout (the sampler's log-probs) or recompute (the trainer's); default: recompute when --weights is bf16 or int8.")
    var oldLogprobs: String?
    @Option(help: "Truncated importance sampling cap of the trainer/rollout ratio (off when absent).")
    var tisCap: Double?
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
    @Option(help: "What the forward pass keeps for the backward pass: keepAll, or recomputePerLayer (only each layer's input; the layer is recomputed in the backward pass: far less memory for long responses, one more forward pass).")
    var activations: ActivationPolicy = .keepAll

    @Option(help: "Tool calls per response (C); 0 disables the tool.")
    var maxToolCalls = 1
    @Option(help: "Response budget in tokens, tool output included.")
    var maxTokens = 1024
    @Option(help: "Prompt template: torl (the published plain text) or chat.")
    var template: PromptTemplateName = .torl
    @Option(help: "Sampling temperature of the rollouts (> 0).")
    var temperature: Float = 1
    @Option(help: "Seed of problem order and rollouts (each step samples with a seed derived from it and the step).")
    var seed: UInt64 = 0

    @Option(help: "Evaluate greedily every N steps (0: never).")
    var evalEvery = 0
    @Option(help: "JSONL evaluation set.")
    var evalDataset: String?
    @Option(help: "Evaluate on the first N problems.")
    var evalLimit: Int?

    @Option(help: "Append one JSON line per evaluation of --eval-every to this file: the step and the evaluate result's metrics (accuracy, code shares, response length ...).")
    var evalMetrics: String?
    @Option(help: "Save a checkpoint every N steps (0: never).")
    var checkpointEvery = 0
    @Option(help: "Folder of the checkpoints (step-N.safetensors).")
    var checkpointDir = "checkpoints"
    @Option(help: "Keep only the newest N checkpoints of this run in --checkpoint-dir, deleting older step-*.safetensors after each save (0: keep all). A full-model checkpoint holds the weights and both AdamW moments.")
    var keepCheckpoints = 0
    @Option(help: "Continue from this checkpoint.")
    var resume: String?
    @Option(help: "Append one JSON line of metrics per step to this file.")
    var metrics: String?
    @Option(help: "Write the trained model as a Hugging Face folder here at the end (with LoRA: the merged model).")
    var export: String?

    @Option(help: "Train LoRA adapters of this rank over the frozen model instead of every weight (TRL and verl use 32-64 with a learning rate about 10x the full one).")
    var loraRank: Int?
    @Option(help: "LoRA alpha (default: the rank, scale 1).")
    var loraAlpha: Double?
    @Option(help: "Comma-separated linear layers that get adapters: q,k,v,o,gate,up,down (default: all).")
    var loraTargets: String?
    @Flag(help: "rsLoRA scaling alpha/sqrt(rank) instead of alpha/rank.")
    var rslora = false
    @Option(help: "Write the LoRA adapters as a PEFT folder here at the end.")
    var exportAdapter: String?
    @OptionGroup var prompt: PromptOptions
    @Option(help: "Sandbox workers of a daemon started for this run (default: the number of cores, at least 2).")
    var poolSize: Int?

    @Option(help: "Weight precision of the rollouts' inference model: f32, bf16 or int8 (default: f32 for a daemon started for this run; the connected daemon's otherwise). Training itself is always f32; the step metrics' log-prob mismatch shows what a reduced precision costs.")
    var weights: WeightPrecisionName?

    func validate() throws {
        guard (dataset != nil) != synthetic else { throw ValidationError("give exactly one of --dataset or --synthetic") }
        guard steps >= 1, batch >= 1, groupSize >= 2 else {
            throw ValidationError("--steps and --batch must be >= 1, --group-size >= 2")
        }
        guard temperature > 0 else { throw ValidationError("--temperature must be > 0: training needs sampled rollouts") }
        guard warmupSteps >= 0 else { throw ValidationError("--warmup-steps must be >= 0") }
        if cosine && warmupSteps >= steps {
            throw ValidationError("--cosine decays from the end of warmup to --steps, so --warmup-steps (\(warmupSteps)) must be < --steps (\(steps))")
        }
        guard evalEvery >= 0, checkpointEvery >= 0, keepCheckpoints >= 0 else {
            throw ValidationError("--eval-every, --checkpoint-every and --keep-checkpoints must be >= 0")
        }
        if evalEvery > 0 && evalDataset == nil { throw ValidationError("--eval-every needs --eval-dataset") }
        // Evaluation options without --eval-every would be ignored: say so rather than train without the evaluation
        // the user asked for.
        if evalEvery == 0 && (evalDataset != nil || evalLimit != nil || evalMetrics != nil) {
            throw ValidationError("--eval-dataset, --eval-limit and --eval-metrics only apply to the evaluations of --eval-every N (evaluate every N steps)")
        }
        if let evalLimit, evalLimit < 1 { throw ValidationError("--eval-limit must be >= 1") }
        guard maxTokens >= 1, maxToolCalls >= 0 else { throw ValidationError("--max-tokens must be >= 1, --max-tool-calls >= 0") }
        guard LossAggregation.wireNames[aggregation] != nil else {
            throw ValidationError("--aggregation must be one of \(LossAggregation.wireNames.keys.sorted())")
        }
        guard AdvantageEstimator.wireNames[advantage] != nil else {
            throw ValidationError("--advantage must be one of \(AdvantageEstimator.wireNames.keys.sorted())")
        }
        if let poolSize, poolSize < 1 { throw ValidationError("--pool-size must be >= 1") }
        if loraRank == nil && (loraAlpha != nil || loraTargets != nil || rslora) {
            throw ValidationError("--lora-alpha, --lora-targets and --rslora need --lora-rank")
        }
        if let loraRank, loraRank < 1 { throw ValidationError("--lora-rank must be >= 1") }
        if let loraAlpha, !(loraAlpha > 0) { throw ValidationError("--lora-alpha must be > 0") }
        if let names = loraTargets?.split(separator: ","), let bad = names.first(where: { LoRATarget(rawValue: String($0)) == nil }) {
            throw ValidationError("--lora-targets: \(bad) is not one of \(LoRATarget.allCases.map(\.rawValue).joined(separator: ","))")
        }
        if exportAdapter != nil && loraRank == nil && connection.adapter == nil {
            throw ValidationError("--export-adapter writes LoRA adapters: train them with --lora-rank (or start from --adapter)")
        }
    }

    /// Every hyper-parameter of the command line, as the protocol declares them (the daemon validates them and
    /// names the field of a bad one).
    var hyperParameters: HyperParameters {
        HyperParameters(learning_rate: lr, warmup_steps: warmupSteps, cosine_total_steps: cosine ? steps : nil,
                        min_lr_ratio: minLrRatio, eps_low: epsLow, eps_high: epsHigh,
                        clip_ratio_c: noDualClip ? nil : clipRatioC, dual_clip: !noDualClip, old_logprobs: oldLogprobs,
                        tis_cap: tisCap, kl_coef: kl, entropy_coef: entropy, advantage: advantage,
                        aggregation: aggregation, micro_batch: microBatch, activations: activations.rawValue,
                        max_grad_norm: maxGradNorm, weight_decay: weightDecay)
    }

    /// One step's `train_step` params: the problems chosen for it and every setting of the command line.
    func stepParameters(problems: [Problem], step: Int) -> TrainStepParams {
        TrainStepParams(
            problems: problems.map { ProblemInput(id: $0.id, problem: $0.problem, answer: $0.answer) },
            group_size: groupSize, hyperParameters: hyperParameters,
            lora: LoRAFields(lora_rank: loraRank, lora_alpha: loraAlpha,
                             lora_targets: loraTargets.map { $0.split(separator: ",").map(String.init) },
                             use_rslora: loraRank == nil ? nil : rslora),
            options: generation(temperature: Double(temperature), seed: Self.rolloutSeed(seed, step: step)))
    }

    /// The prompt, budget and tool settings of the command line, sampled at `temperature` with `seed`.
    private func generation(temperature: Double, seed: UInt64) -> GenerationOptions {
        GenerationOptions(template: template, maxToolCalls: maxToolCalls, maxTokens: maxTokens,
                          temperature: temperature, seed: seed, prompt: prompt)
    }

    /// The sampling seed of step `step` (0-based): a fixed function of --seed and the step, so a resumed run
    /// samples what the uninterrupted one would have. 63 bits, so it stays an exact JSON integer.
    static func rolloutSeed(_ seed: UInt64, step: Int) -> UInt64 {
        var generator = SeededGenerator(seed: seed)
        var value: UInt64 = 0
        for _ in 0 ... step { value = generator.next() }
        return value >> 1
    }

    /// The problems of step `step`: one fixed shuffle by --seed, `batch` at a time, wrapping around.
    static func problems(for step: Int, from problems: [Problem], order: [Int], batch: Int) -> [Problem] {
        (0 ..< batch).map { problems[order[(step * batch + $0) % order.count]] }
    }

    // Synchronous entry: an AsyncParsableCommand subcommand's async run is not dispatched by this build's root
    // command (it prints the help instead), so the async work runs to completion here.
    func run() throws {
        let command = self
        let summary = try blockingAwait { try await command.trainToCompletion() }
        if connection.json { print(String(decoding: try JSONCoding.encode(summary), as: UTF8.self)) }
    }

    private func trainToCompletion() async throws -> TrainSummary {
        let problems = try trainingProblems()
        var orderGenerator = SeededGenerator(seed: seed)
        let order = Array(problems.indices).shuffled(using: &orderGenerator)
        let metricsFile = try metrics.map(MetricsFile.init(path:))
        defer { try? metricsFile?.close() }
        let evalMetricsFile = try evalMetrics.map(MetricsFile.init(path:))
        defer { try? evalMetricsFile?.close() }
        return try await connection.withClient(.init(weights: weights, poolSize: poolSize)) { client in
            var summary = TrainSummary()
            var step: Int
            if let resume {
                let params = CheckpointRestoreParams(path: DaemonConnectionOptions.absolute(resume),
                                                     discard_training: connection.discardTraining ? true : nil)
                let restored = try await connection.requestReplacingTrainer(client, CheckpointRestoreRequest.self, params,
                                                                             action: "resuming from \(resume)",
                                                                             instead: "leave out --resume to continue from the daemon's step")
                step = restored.step
                log("resumed from \(resume) at step \(step)")
            } else {
                step = try await client.send(StatusRequest.self, NoParams()).training.step
                if step > 0 { log("the daemon's trainer is at step \(step): continuing from there") }
            }
            guard step < steps else {
                throw CommandFailure(description: """
                    nothing to train: the trainer is already at step \(step), and --steps \(steps) is the total number of \
                    updates, earlier ones included; pass --steps \(step + 1) or more to train further
                    """)
            }
            while step < steps {
                let chosen = Self.problems(for: step, from: problems, order: order, batch: batch)
                let result = try await client.send(TrainStepRequest.self, stepParameters(problems: chosen, step: step))
                let stepMetrics = result.metrics
                step = result.step
                log(Self.stepLine(stepMetrics, step: step, of: steps))
                try metricsFile?.append(stepMetrics)
                summary.step = step
                summary.metrics = stepMetrics
                if checkpointEvery > 0 && step % checkpointEvery == 0 {
                    let directory = DaemonConnectionOptions.absolute(checkpointDir)
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                    let path = (directory as NSString).appendingPathComponent("step-\(step).safetensors")
                    _ = try await client.send(CheckpointSaveRequest.self, CheckpointParams(path: path))
                    summary.checkpoints.append(path)
                    log("checkpoint \(path)")
                    if keepCheckpoints > 0 && summary.checkpoints.count > keepCheckpoints {
                        for old in summary.checkpoints.prefix(summary.checkpoints.count - keepCheckpoints) {
                            try FileManager.default.removeItem(atPath: old)
                            log("removed the older checkpoint \(old) (--keep-checkpoints \(keepCheckpoints))")
                        }
                        summary.checkpoints.removeFirst(summary.checkpoints.count - keepCheckpoints)
                    }
                }
                if let evalDataset, evalEvery > 0 && step % evalEvery == 0 {
                    summary.evaluations.append(try await evaluate(client, dataset: evalDataset, step: step,
                                                                  metricsFile: evalMetricsFile))
                }
            }
            if let export {
                let path = DaemonConnectionOptions.absolute(export)
                let files = try await client.send(ModelExportRequest.self, ExportParams(path: path)).files
                summary.export = path
                log("exported \(files.joined(separator: ", ")) to \(export)")
            }
            if let exportAdapter {
                let path = DaemonConnectionOptions.absolute(exportAdapter)
                let files = try await client.send(ModelExportRequest.self, ExportParams(path: path, adapter: true)).files
                summary.export_adapter = path
                log("exported the adapters \(files.joined(separator: ", ")) to \(exportAdapter)")
            }
            return summary
        }
    }

    /// Greedy, one sample per problem: the published evaluation, with the training prompt and budget.
    private func evaluate(_ client: RPCClient, dataset: String, step: Int,
                          metricsFile: MetricsFile?) async throws -> TrainSummary.Evaluation {
        let params = EvaluateParams(dataset: DaemonConnectionOptions.absolute(dataset), limit: evalLimit, samples: 1,
                                    options: generation(temperature: 0, seed: 0))
        let result = try await client.send(EvaluateRequest.self, params)
        if let metricsFile {
            var line = result.metrics
            line["step"] = Double(step)
            try metricsFile.append(line)
        }
        let accuracy = result.metrics["accuracy"] ?? nil
        let problems = result.problems
        log("eval at step \(step): accuracy \(accuracy.map { String(format: "%.4f", $0) } ?? "-") on \(problems) problems")
        return TrainSummary.Evaluation(step: step, problems: problems, accuracy: accuracy)
    }

    static func stepLine(_ m: Metrics, step: Int, of steps: Int) -> String {
        func value(_ key: String) -> Double { (m[key] ?? nil) ?? .nan }
        return String(format: "step %ld/%ld  reward %.3f  acc %.3f  code %.2f  loss %+.4f  |g| %.3f  len %.0f  gen %.1fs sandbox %.1fs grade %.2fs update %.1fs",
                      step, steps, value("reward_mean"), value("accuracy"), value("code_share"), value("loss"),
                      value("gradient_norm"), value("mean_response_length"), value("generation_seconds"),
                      value("sandbox_seconds"), value("grading_seconds"), value("update_seconds"))
            + (value("skipped_groups") > 0 && value("forward_backward_skipped") != 1
               ? String(format: "  (%.0f of %.0f groups skipped: equal rewards)", value("skipped_groups"), value("groups")) : "")
            + (value("forward_backward_skipped") == 1 ? "  (no gradient: equal rewards, forward/backward skipped)" : "")
            + (value("update_skipped") == 1 ? "  (update skipped: the gradient norm was not finite)" : "")
    }

    private func trainingProblems() throws -> [Problem] {
        if let dataset { return try ProblemSet.load(path: dataset) }
        return try generator.problems(seed: seed)
    }

    private func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// What `torl train --json` prints at the end.
struct TrainSummary: Encodable {
    struct Evaluation: Encodable {
        var step: Int
        var problems: Int
        var accuracy: Double?
    }
    var step = 0
    /// The last step's metrics, as the daemon reported them.
    var metrics: Metrics = [:]
    var evaluations: [Evaluation] = []
    var checkpoints: [String] = []
    var export: String?
    var export_adapter: String?
}

/// Step metrics as JSON lines (sorted keys, the daemon's numbers as sent), appended: a resumed run continues
/// the same file.
private final class MetricsFile {
    private let handle: FileHandle
    private let encoder = JSONEncoder()

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
        encoder.outputFormatting = [.sortedKeys]
    }

    func append(_ metrics: Metrics) throws {
        try handle.write(contentsOf: try encoder.encode(metrics) + Data("\n".utf8))
    }

    func close() throws { try handle.close() }
}

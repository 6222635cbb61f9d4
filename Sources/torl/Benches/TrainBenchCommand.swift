import ArgumentParser
import Foundation
import Models
import RL
import Tensors

/// `torl bench train`: GRPO training throughput on a model and the time breakdown of one step, as JSON.
struct TrainBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure training tokens/s (forward + backward + AdamW), achieved FLOP/s against this run's sgemm peak, and one GRPO step's time breakdown; prints JSON.")

    // Option names differ from `torl bench`'s: a parent command's option takes the value of a same-named one.
    @Option(help: "GGUF file or Hugging Face checkpoint folder (default: $TORL_MODEL).")
    var weights: String?

    @Option(name: [.customLong("sequence-length"), .customLong("tokens")], help: "Tokens per training sequence in the throughput measurement.")
    var sequenceLength: Int = 512

    @Option(help: "Prompt tokens of each sequence (not trained on).")
    var promptLength: Int = 64

    @Option(help: "Sequences per throughput step.")
    var sequences: Int = 8

    @Option(help: "Tokens per micro-batch (gradient accumulation across micro-batches).")
    var microBatchTokens: Int = 4096

    @Option(help: "Timed throughput steps after the warm-up steps.")
    var steps: Int = 1

    @Option(help: "Untimed steps before the timed ones (the first touches the gradient and moment buffers).")
    var warmupSteps: Int = 1

    @Option(help: "What the forward pass keeps for the backward pass: keepAll or recomputePerLayer (recompute each layer in the backward pass).")
    var activations: ActivationPolicy = .keepAll

    @Option(help: "Prompts x samples of the GRPO step breakdown (0 skips it).")
    var prompts: Int = 8
    @Option(help: "Samples per prompt of the GRPO step breakdown.")
    var samples: Int = 8
    @Option(help: "Tokens generated per sample in the GRPO step breakdown.")
    var responseLength: Int = 64

    @Option(help: "Train LoRA adapters of this rank (all linear layers, alpha = rank) over the frozen model instead of every weight.")
    var loraRank: Int?

    @Option(help: "Instead of --weights: a randomly initialised model of this shape, built here (qwen2.5-1.5b, qwen2.5-7b; needs --lora-rank).")
    var shape: String?

    @Option(help: "Precision of the frozen base with --lora-rank: f32, bf16 or int8 (default bf16 with --shape, else f32).")
    var baseWeights: WeightPrecision?

    /// Qwen2.5-Math's published shapes (untied head, as the figures state; q/k/v biases; head dimension 128).
    static let shapes: [String: ModelConfiguration] = [
        "qwen2.5-1.5b": ModelConfiguration(architecture: .qwen2, vocabularySize: 151_936, hiddenSize: 1536, intermediateSize: 8960,
                                           layerCount: 28, headCount: 12, keyValueHeadCount: 2, headDimension: 128,
                                           contextLength: 4096, ropeTheta: 10_000, ropePairing: .halves, rmsNormEpsilon: 1e-6,
                                           tiedEmbeddings: false, attentionBias: true),
        "qwen2.5-7b": ModelConfiguration(architecture: .qwen2, vocabularySize: 152_064, hiddenSize: 3584, intermediateSize: 18_944,
                                         layerCount: 28, headCount: 28, keyValueHeadCount: 4, headDimension: 128,
                                         contextLength: 4096, ropeTheta: 10_000, ropePairing: .halves, rmsNormEpsilon: 1e-6,
                                         tiedEmbeddings: false, attentionBias: true),
    ]

    /// The frozen base (or the model to train fully) and where it came from.
    private func engine() throws -> (model: any TransformerModel, name: String) {
        if let shape {
            guard let configuration = Self.shapes[shape] else {
                throw ValidationError("--shape must be one of \(Self.shapes.keys.sorted())")
            }
            guard loraRank != nil else {
                throw ValidationError("--shape builds a model too large to train every weight here: give --lora-rank")
            }
            return (try LlamaModel(randomWith: configuration, precision: baseWeights ?? .bf16, seed: 7), "random " + shape)
        }
        if baseWeights != nil && loraRank == nil {
            throw ValidationError("--base-weights is the precision of LoRA's frozen base: give --lora-rank")
        }
        let path = try modelPath(weights, option: "--weights")
        return (try ModelLoader.load(path: path, precision: baseWeights ?? .f32), path)
    }

    func run() throws {
        guard sequenceLength > promptLength, promptLength >= 1, sequences >= 2, steps >= 1, warmupSteps >= 0 else {
            throw ValidationError("need sequence-length > prompt-length >= 1, sequences >= 2, steps >= 1, warmup-steps >= 0")
        }
        if let loraRank, loraRank < 1 { throw ValidationError("--lora-rank must be >= 1") }
        let (engine, path) = try engine()
        let trainable = try loraRank.map { try TrainableTransformer(base: engine, lora: LoRAConfiguration(rank: $0), seed: 1) }
            ?? TrainableTransformer(from: engine)
        let configuration = trainable.configuration
        var peak = Self.gemmPeak()
        let trainerConfiguration = TrainerConfiguration(microBatchTokens: microBatchTokens, activationPolicy: activations)
        let trainer = try GRPOTrainer(policy: trainable, configuration: trainerConfiguration)
        let bench = EngineBenchmark(model: engine)

        let batch = (0..<sequences).map { s -> TrainingSequence in
            let tokens = bench.tokens(sequenceLength, seed: UInt64(1000 + s))
            let mask = (0..<sequenceLength).map { UInt8($0 >= promptLength ? 1 : 0) }
            return TrainingSequence(tokens: tokens, promptLength: promptLength, lossMask: mask,
                                    oldLogProbabilities: [Float](repeating: -10, count: sequenceLength),
                                    reward: s % 3 == 0 ? 1 : -1, group: s / 4,
                                    outcome: ResponseOutcome(answered: true, correct: s % 3 == 0))
        }
        for _ in 0..<warmupSteps { _ = try trainer.step(batch) }
        var seconds = 0.0
        let cpuStart = Self.cpuSeconds()
        for _ in 0..<steps { seconds += try trainer.step(batch).updateSeconds }
        let cpuSeconds = (Self.cpuSeconds() - cpuStart) / Double(steps)
        seconds /= Double(steps)
        // The machine may be shared: take the better of two peak measurements around the training steps.
        let after = Self.gemmPeak()
        peak = (wall: max(peak.wall, after.wall), perCPUSecond: max(peak.perCPUSecond, after.perCPUSecond))
        let tokens = sequences * sequenceLength
        let trainedRows = sequences * (sequenceLength - promptLength)
        let flops = Self.trainingFLOPs(configuration, sequenceLength: sequenceLength, sequences: sequences,
                                       headRows: trainedRows, weightGradients: loraRank == nil)
        var report: [String: Any] = [
            "model": path,
            "cpu": BenchFigures.cpuModel(),
            "nproc": ProcessInfo.processInfo.activeProcessorCount,
            "blas_threads": BLASEnvironment.blasThreadCount,
            "openblas_coretype": BLASEnvironment.coreTypeInEffect ?? "unset",
            "openblas_kernel": BLASEnvironment.blasCoreName,
            "kernels": KernelInfo.summary,
            "parameters": TensorNameTable.parameters(for: configuration).reduce(0) { $0 + $1.shape.reduce(1, *) },
            "trained_parameters": trainable.trainableValues.count,
            "base_weights": engine.precision.rawValue,
            "lora_rank": loraRank as Any,
            "tokens_per_second": Double(tokens) / seconds,
            "gemm_peak_gflops": peak.wall / 1e9,
            "gemm_peak_gflops_per_cpu_second": peak.perCPUSecond / 1e9,
            "throughput": [
                "sequences": sequences, "sequence_tokens": sequenceLength, "prompt_tokens": promptLength,
                "micro_batch_tokens": microBatchTokens, "micro_batch_token_limit": trainer.microBatchTokenLimit,
                "activation_policy": activations.rawValue, "warmup_steps": warmupSteps,
                "step_seconds": seconds, "tokens_per_second": Double(tokens) / seconds,
                "model_flops_per_step": flops, "achieved_gflops": flops / seconds / 1e9,
                "fraction_of_gemm_peak": flops / seconds / peak.wall,
                "step_cpu_seconds": cpuSeconds,
                "achieved_gflops_per_cpu_second": flops / cpuSeconds / 1e9,
                "fraction_of_gemm_peak_per_cpu_second": flops / cpuSeconds / peak.perCPUSecond,
            ] as [String: Any],
        ]
        if prompts > 0 && shape == nil {
            report["grpo_step"] = try Self.grpoStep(engine: engine, trainer: trainer, prompts: prompts, samples: samples,
                                                    promptTokens: promptLength, responseTokens: responseLength, bench: bench)
        }
        // After everything this run did (model load, throughput steps, the GRPO step): the high-water mark.
        report["peak_rss_bytes"] = Self.peakResidentBytes()
        let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// Best sgemm rate of this run on square 2048 products through the same GEMM entry training uses: FLOP per
    /// wall second, and FLOP per CPU second of this process (the figure that stays meaningful when other processes
    /// share the cores).
    static func gemmPeak() -> (wall: Double, perCPUSecond: Double) {
        let n = 2048
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
        var bestWall = Double.infinity, bestCPU = Double.infinity
        for _ in 0..<4 {
            let start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = cpuSeconds()
            GEMM.multiply(transposeA: false, transposeB: true, m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer,
                          ldb: n, beta: 0, c: c.pointer, ldc: n)
            bestWall = min(bestWall, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            bestCPU = min(bestCPU, cpuSeconds() - cpuStart)
        }
        let flops = 2 * Double(n * n * n)
        return (flops / bestWall, flops / bestCPU)
    }

    /// The most resident memory this process has held (Linux reports `ru_maxrss` in KiB).
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    /// User + system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// Model FLOPs of one training step: 3 x the forward's matrix products (forward once, backward twice), with
    /// causal attention counted over its lower triangle and the vocabulary head over the trained rows only. Without
    /// weight gradients (LoRA's frozen base) the linear layers and the head cost 2 x their forward (the adapters'
    /// own products, rank/width of a layer's, are left out).
    static func trainingFLOPs(_ c: ModelConfiguration, sequenceLength t: Int, sequences: Int, headRows: Int,
                              weightGradients: Bool = true) -> Double {
        let q = c.headCount * c.headDimension, kv = c.keyValueHeadCount * c.headDimension
        let linear = Double(c.layerCount) * Double(c.hiddenSize * (2 * q + 2 * kv) + 3 * c.hiddenSize * c.intermediateSize)
        let tokens = Double(t * sequences)
        let attention = Double(c.layerCount * c.headCount) * 2 * 2 * Double(c.headDimension) * Double(t) * Double(t + 1) / 2
        let linearAndHead = 2 * linear * tokens + 2 * Double(c.vocabularySize * c.hiddenSize) * Double(headRows)
        return (weightGradients ? 3 : 2) * linearAndHead + 3 * attention * Double(sequences)
    }

    /// One GRPO step of prompts x samples: sampling with the engine (temperature 1), the update, and pushing the
    /// new weights back into the engine. Sandbox and grading belong to the rollout and are not part of this run.
    static func grpoStep(engine: any TransformerModel, trainer: GRPOTrainer, prompts: Int, samples: Int, promptTokens: Int,
                         responseTokens: Int, bench: EngineBenchmark) throws -> [String: Any] {
        // The throughput steps changed the policy: give the engine the current weights so that the log-probability
        // mismatch below measures numerics, not policy lag.
        try trainer.policy.copyWeights(into: engine)
        var random = SeededGenerator(seed: 2024)
        let vocabulary = engine.configuration.vocabularySize
        let generationStart = DispatchTime.now().uptimeNanoseconds
        var trajectories: [TrainingSequence] = []
        for p in 0..<prompts {
            let prompt = bench.tokens(promptTokens, seed: UInt64(5000 + p))
            let root = try engine.makeSequence()
            let promptLogits = try engine.forward([ForwardStep(sequence: root, tokens: prompt)])
            let forks = try (0..<samples).map { _ in try engine.forkSequence(root) }
            engine.releaseSequence(root)
            var tokens = Array(repeating: prompt, count: samples)
            var logProbabilities = Array(repeating: [Float](repeating: 0, count: promptTokens), count: samples)
            var rows = (0..<samples).map { _ in Array(promptLogits.row(promptLogits.rowRanges[0].lowerBound)) }
            for _ in 0..<responseTokens {
                var steps: [ForwardStep] = []
                for s in 0..<samples {
                    let (token, logProbability) = sample(rows[s], vocabulary: vocabulary, random: &random)
                    tokens[s].append(token)
                    logProbabilities[s].append(logProbability)
                    steps.append(ForwardStep(sequence: forks[s], tokens: [token]))
                }
                let logits = try engine.forward(steps)
                rows = logits.rowRanges.map { Array(logits.row($0.lowerBound)) }
            }
            forks.forEach(engine.releaseSequence)
            for s in 0..<samples {
                let reward: Double = random.nextUnitFloat() < 0.5 ? 1 : -1
                trajectories.append(TrainingSequence(
                    tokens: tokens[s], promptLength: promptTokens,
                    lossMask: (0..<tokens[s].count).map { UInt8($0 >= promptTokens ? 1 : 0) },
                    oldLogProbabilities: logProbabilities[s], reward: reward, group: p,
                    outcome: ResponseOutcome(answered: true, correct: reward > 0)))
            }
        }
        let generationSeconds = Double(DispatchTime.now().uptimeNanoseconds - generationStart) / 1e9
        let metrics = try trainer.step(trajectories, timings: RolloutTimings(generationSeconds: generationSeconds))
        let pushStart = DispatchTime.now().uptimeNanoseconds
        try trainer.policy.copyWeights(into: engine)
        let pushSeconds = Double(DispatchTime.now().uptimeNanoseconds - pushStart) / 1e9
        return [
            "prompts": prompts, "samples_per_prompt": samples, "prompt_tokens": promptTokens,
            "response_tokens": responseTokens,
            "generation_seconds": generationSeconds,
            "generated_tokens_per_second": Double(prompts * samples * responseTokens) / generationSeconds,
            "sandbox_seconds": NSNull(), "grading_seconds": NSNull(),
            "update_seconds": metrics.updateSeconds,
            "update_tokens_per_second": metrics.tokensPerSecond as Any,
            "weight_push_seconds": pushSeconds,
            "log_probability_mismatch_mean": metrics.logProbabilityMismatchMean as Any,
            "log_probability_mismatch_max": metrics.logProbabilityMismatchMax as Any,
            "total_seconds": generationSeconds + metrics.updateSeconds + pushSeconds,
        ]
    }

    /// A token from softmax(logits) and its log-probability.
    static func sample(_ logits: [Float], vocabulary: Int, random: inout SeededGenerator) -> (Int32, Float) {
        let maximum = logits.max()!
        var sum = 0.0
        for v in logits { sum += exp(Double(v - maximum)) }
        let logNormalizer = Double(maximum) + log(sum)
        let u = random.nextUnitFloat()
        var cumulative = 0.0
        for v in 0..<vocabulary {
            cumulative += exp(Double(logits[v]) - logNormalizer)
            if u < cumulative { return (Int32(v), Float(Double(logits[v]) - logNormalizer)) }
        }
        return (Int32(vocabulary - 1), Float(Double(logits[vocabulary - 1]) - logNormalizer))
    }
}

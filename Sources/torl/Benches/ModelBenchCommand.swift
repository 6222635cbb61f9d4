import ArgumentParser
import Foundation
import Models
import Tensors

/// `torl bench` / `torl bench model`: engine throughput on a model (prefill, batch-1 decode, aggregate batched decode), as JSON.
struct ModelBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Measure prefill and decode throughput of the inference engine; prints JSON.")

    @Option(help: "GGUF file or Hugging Face checkpoint folder (default: $TORL_MODEL).")
    var model: String?

    @Option(help: "Weight precisions to measure, comma-separated (f32, bf16, int8).")
    var precision: String = "f32,bf16,int8"

    @Option(help: "Prompt length for the prefill measurement.")
    var promptTokens: Int = 512

    @Option(help: "Tokens generated per sequence in the decode measurements.")
    var newTokens: Int = 128

    @Option(help: "Decode batch sizes, comma-separated.")
    var batches: String = "1,8,32,64"

    func run() throws {
        let path = try modelPath(model)
        let precisions = try precision.split(separator: ",").map { name -> WeightPrecision in
            guard let value = WeightPrecision(rawValue: String(name)) else {
                throw ValidationError("unknown precision \(name) (\(WeightPrecision.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return value
        }
        let batchSizes = try batches.split(separator: ",").map { text -> Int in
            guard let value = Int(text), value > 0 else { throw ValidationError("bad batch size \(text)") }
            return value
        }
        var runs: [[String: Any]] = []
        for precision in precisions {
            let loadStart = Date()
            let engine = try ModelLoader.load(path: path, precision: precision)
            let loadSeconds = Date().timeIntervalSince(loadStart)
            let bench = EngineBenchmark(model: engine)
            var run: [String: Any] = [
                "weight_precision": precision.rawValue,
                "linear_weight_megabytes": Double(engine.linearWeightBytes) / 1e6,
                "load_seconds": loadSeconds,
            ]
            let prefill = try bench.prefill(tokens: promptTokens)
            run["prefill"] = ["prompt_tokens": promptTokens, "seconds": prefill.wall, "cpu_seconds": prefill.cpu,
                              "tokens_per_second": Double(promptTokens) / prefill.wall]
            var decode: [[String: Any]] = []
            for batch in batchSizes {
                let time = try bench.decode(batch: batch, newTokens: newTokens)
                decode.append(["batch": batch, "new_tokens_per_sequence": newTokens, "seconds": time.wall, "cpu_seconds": time.cpu,
                               "aggregate_tokens_per_second": Double(batch * newTokens) / time.wall])
            }
            run["decode"] = decode
            runs.append(run)
        }
        let report: [String: Any] = [
            "model": path,
            "cpu": BenchFigures.cpuModel(),
            "nproc": ProcessInfo.processInfo.activeProcessorCount,
            "compute_pool_workers": ComputePool.workerCount,
            "blas_threads": BLASEnvironment.blasThreadCount,
            "openblas_coretype": BLASEnvironment.coreTypeInEffect ?? "unset",
            "openblas_kernel": BLASEnvironment.blasCoreName,
            "kernels": KernelInfo.summary,
            "runs": runs,
        ]
        let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Timed workloads on one model. Token ids are fixed pseudo-random values, so runs are comparable.
struct EngineBenchmark {
    let model: any TransformerModel

    func tokens(_ count: Int, seed: UInt64) -> [Int32] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int32((state >> 33) % UInt64(model.configuration.vocabularySize))
        }
    }

    /// Wall-clock and process CPU seconds (all threads; spinning workers count) of a piece of work.
    struct Timing {
        var wall: Double
        var cpu: Double
    }

    static func measure(_ work: () throws -> Void) rethrows -> Timing {
        func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        let cpuStart = cpuSeconds()
        let start = DispatchTime.now()
        try work()
        return Timing(wall: Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9, cpu: cpuSeconds() - cpuStart)
    }

    /// One forward call over a `tokens`-long prompt (the faster of two).
    func prefill(tokens count: Int) throws -> Timing {
        var best = Timing(wall: .infinity, cpu: .infinity)
        for attempt in 0..<2 {
            let sequence = try model.makeSequence()
            defer { model.releaseSequence(sequence) }
            let prompt = tokens(count, seed: UInt64(attempt))
            let timing = try Self.measure { _ = try model.forward([ForwardStep(sequence: sequence, tokens: prompt)]) }
            if timing.wall < best.wall { best = timing }
        }
        return best
    }

    /// `newTokens` greedy decode steps of `batch` sequences after a 16-token prompt each.
    func decode(batch: Int, newTokens: Int) throws -> Timing {
        let sequences = try (0..<batch).map { _ in try model.makeSequence() }
        defer { sequences.forEach(model.releaseSequence) }
        var logits = try model.forward(sequences.enumerated().map {
            ForwardStep(sequence: $1, tokens: tokens(16, seed: UInt64(100 + $0)))
        })
        return try Self.measure {
            for _ in 0..<newTokens {
                let next = logits.rowRanges.map { range -> Int32 in
                    Int32(logits.row(range.lowerBound).withUnsafeBufferPointer { Argmax.index($0) ?? 0 })
                }
                logits = try model.forward(sequences.indices.map { ForwardStep(sequence: sequences[$0], tokens: [next[$0]]) })
            }
        }
    }
}

import ArgumentParser
import Foundation
import Generation
import RL
import Sandbox
import Tensors

/// `torl eval`: a JSONL benchmark through tool-integrated rollouts; accuracy, avg@k, pass@k, maj@k and code
/// behaviour, per-problem records to a JSONL file.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate the model on a JSONL benchmark (problem, answer) with the Python tool; prints the figures.")

    @Option(help: "A .gguf file (default: $TORL_MODEL).")
    var model: String?

    @Option(help: "JSONL file with `problem` and `answer` per line.")
    var dataset = "data/math500.jsonl"

    @Option(help: "Evaluate only the first N problems.")
    var limit: Int?

    @Option(help: "Samples per problem (k). 1 with greedy decoding gives the published accuracy.")
    var samples = 1

    @Option(help: "Prompt template: torl (the published plain text) or chat (the model's chat template).")
    var template: PromptTemplate = .torl

    @Option(help: "Tool calls per response (C); 0 disables the tool.")
    var maxToolCalls = 1

    @Option(help: "What runs the code: block_close (closing a python block) or output_marker (the model writes ```output).")
    var trigger: ToolTrigger = .blockClose

    @Option(help: "Response budget in tokens, tool output included.")
    var maxTokens = 3072

    @Option(help: "Prompts longer than this are not generated (they count as wrong).")
    var maxPromptTokens = 400

    @Option(help: "Sampling temperature (default: 0, greedy, for one sample; 1 for several).")
    var temperature: Float?

    @Option(help: "Keep the smallest set of most likely tokens whose probability reaches P (1: off).")
    var topP: Float = 1

    @Option(help: "Keep only the K most likely tokens (0: off).")
    var topK = 0

    @Option(help: "Seed of the samplers' random streams.")
    var seed: UInt64 = 0

    @Option(help: "Write one JSON record per problem (responses, answers, grades, tool calls) to this file.")
    var output: String?

    @Option(help: "Sequences decoded at once.")
    var batch = 64

    @Option(help: "Sandbox workers (default: the number of cores, at least 2).")
    var poolSize: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)

    @Option(help: "Weight precision for inference: f32 or bf16.")
    var weights: WeightPrecision = .f32

    @OptionGroup var prompt: PromptOptions
    @Flag(help: "Print the summary metrics as one JSON object.")
    var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be >= 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be >= 1") }
        try settings.validate()
    }

    private var settings: RolloutSettings {
        var settings = RolloutSettings()
        settings.groupSize = samples
        settings.template = template
        settings.trigger = trigger
        settings.maxToolCalls = maxToolCalls
        settings.maxResponseTokens = maxTokens
        settings.maxPromptTokens = maxPromptTokens
        prompt.apply(to: &settings)
        settings.sampling = SamplingParameters(temperature: temperature ?? (samples == 1 ? 0 : 1), topK: topK,
                                               topP: topP, seed: seed)
        return settings
    }

    func run() throws {
        guard let modelPath = model ?? ProcessInfo.processInfo.environment["TORL_MODEL"] else {
            throw ValidationError("no model: pass --model or set TORL_MODEL")
        }
        let problems = try ProblemSet.load(path: dataset, limit: limit)
        let loaded = try LoadedModel.load(path: modelPath, precision: weights)
        let chatTemplate = try? loaded.chatTemplate()
        let pool = try SandboxPool(configuration: SandboxConfiguration(poolSize: poolSize))
        let engine = RolloutEngine(model: loaded.model, tokenizer: loaded.tokenizer, chatTemplate: chatTemplate,
                                   executor: pool,
                                   decoderConfiguration: BatchDecoder.Configuration(maximumStreams: batch))
        let records = try output.map(RecordFile.init(path:))
        let progress = ProgressBar(total: problems.count * samples, enabled: isatty(STDERR_FILENO) == 1)
        let settings = settings
        let start = Date()
        let outcome = try blockingAwait { () async -> Result<EvaluationSummary, Error> in
            defer { progress.finish() }
            do {
                try await pool.waitUntilReady()
                let summary = try await Evaluator(engine: engine).run(
                    problems: problems, settings: settings,
                    onRecord: { record in
                        progress.record(correct: record.correct, of: record.responses.count)
                        try records?.append(record)
                    },
                    onProgress: { finished, _ in progress.update(finished: finished) })
                await pool.shutdown()
                return .success(summary)
            } catch {
                await pool.shutdown()
                return .failure(error)
            }
        }
        try records?.close()
        var metrics = try outcome.get().metrics
        let seconds = Date().timeIntervalSince(start)
        metrics["elapsed_seconds"] = seconds
        metrics["sampled_tokens_per_second"] = ((metrics["sampled_tokens"] ?? nil) ?? 0) / max(seconds, 1e-9)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(metrics), as: UTF8.self))
        } else {
            print(Self.table(metrics, dataset: dataset, output: output))
        }
    }

    static func table(_ metrics: [String: Double?], dataset: String, output: String?) -> String {
        var lines = ["\(dataset)"]
        for key in metrics.keys.sorted() {
            let value = metrics[key].flatMap { $0 }.map { String(format: $0.rounded() == $0 ? "%.0f" : "%.4f", $0) }
            lines.append("  \(key.padding(toLength: 28, withPad: " ", startingAt: 0)) \(value ?? "-")")
        }
        if let output { lines.append("records: \(output)") }
        return lines.joined(separator: "\n")
    }
}

extension PromptTemplate: ExpressibleByArgument {}
extension ToolTrigger: ExpressibleByArgument {}

/// Per-problem records, one JSON object per line, written as problems finish.
private final class RecordFile: @unchecked Sendable {
    let path: String
    private let handle: FileHandle
    private let encoder = JSONEncoder()

    init(path: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("cannot create the output file \(path)")
        }
        self.handle = handle
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    func append(_ record: EvaluationRecord) throws {
        try handle.write(contentsOf: encoder.encode(record) + Data("\n".utf8))
    }

    func close() throws { try handle.close() }
}

/// A one-line progress bar on stderr: responses done, problems graded, running accuracy, rate.
private final class ProgressBar: @unchecked Sendable {
    let total: Int
    let enabled: Bool
    private let start = Date()
    private var finished = 0
    private var correct = 0
    private var graded = 0
    private var lastDraw = Date.distantPast

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    func record(correct: Int, of responses: Int) {
        self.correct += correct
        graded += responses
    }

    func update(finished: Int) {
        self.finished = finished
        // Redraw at most 10 times a second, and always at the end.
        guard enabled, finished == total || Date().timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = Date()
        let width = 30
        let filled = total == 0 ? width : width * finished / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let accuracy = graded == 0 ? "-" : String(format: "%.3f", Double(correct) / Double(graded))
        let rate = Double(finished) / max(Date().timeIntervalSince(start), 1e-9)
        let line = "\r[\(bar)] \(finished)/\(total) responses  acc \(accuracy)  \(String(format: "%.2f", rate))/s "
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

import ArgumentParser
import Foundation
import JSONRPC
import TorlProtocol

/// `torl eval`: a JSONL benchmark through tool-integrated rollouts on a daemon (`evaluate`); accuracy, avg@k,
/// pass@k, maj@k and code behaviour, per-problem records to a JSONL file.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate the model on a JSONL benchmark (problem, answer) with the Python tool; prints the figures.",
        discussion: "Runs on a daemon: --connect ADDR (or $TORL_CONNECT), else one started over stdio for this run.")

    @OptionGroup var connection: DaemonConnectionOptions

    @Option(help: "JSONL file with `problem` and `answer` per line.")
    var dataset = "data/math500.jsonl"

    @Option(help: "Evaluate only the first N problems.")
    var limit: Int?

    @Option(help: "Samples per problem (k). 1 with greedy decoding gives the published accuracy.")
    var samples = 1

    @Option(help: "Prompt template: torl (the published plain text) or chat (the model's chat template).")
    var template: PromptTemplateName = .torl

    @Option(help: "Tool calls per response (C); 0 disables the tool.")
    var maxToolCalls = 1

    @Option(help: "What runs the code: block_close (closing a python block) or output_marker (the model writes ```output).")
    var trigger: ToolTriggerName = .blockClose

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

    @Option(help: "Sandbox workers of a daemon started for this run (default: the number of cores, at least 2).")
    var poolSize: Int?

    @Option(help: "Weight precision for inference: f32, bf16 or int8 (default: f32 for a daemon started for this run; the connected daemon's otherwise).")
    var weights: WeightPrecisionName?

    @OptionGroup var prompt: PromptOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be >= 1") }
        guard samples >= 1 else { throw ValidationError("--samples must be >= 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be >= 1") }
        guard maxTokens >= 1, maxPromptTokens >= 1 else { throw ValidationError("--max-tokens and --max-prompt-tokens must be >= 1") }
        guard maxToolCalls >= 0 else { throw ValidationError("--max-tool-calls must be >= 0") }
        if let poolSize, poolSize < 1 { throw ValidationError("--pool-size must be >= 1") }
    }

    /// The `evaluate` params (docs/METHODS.md); paths are absolute because the daemon's directory is not ours.
    func parameters() -> EvaluateParams {
        EvaluateParams(
            dataset: DaemonConnectionOptions.absolute(dataset), limit: limit, samples: samples,
            output: output.map(DaemonConnectionOptions.absolute), batch: batch,
            options: GenerationOptions(
                template: template, maxToolCalls: maxToolCalls, maxTokens: maxTokens,
                temperature: Double(temperature ?? (samples == 1 ? 0 : 1)), topP: Double(topP), topK: topK, seed: seed,
                prompt: prompt, trigger: trigger, maxPromptTokens: maxPromptTokens))
    }

    func run() throws {
        let connection = connection
        let requirements = DaemonConnectionOptions.Requirements(weights: weights, poolSize: poolSize)
        let params = parameters()
        let progress = ProgressBar(enabled: isatty(STDERR_FILENO) == 1)
        // The evaluation's own time, as before the daemon: not the start of a private daemon or its model load.
        let (result, seconds) = try blockingAwait { () async throws -> (EvaluateResult, Double) in
            defer { progress.finish() }
            return try await connection.withClient(requirements) { client in
                let start = Date()
                progress.start()
                let result = try await client.send(EvaluateRequest.self, params, onProgress: { value in
                    if let report = try? JSONCoding.decode(ProgressReport.self, from: value) { progress.update(report) }
                })
                return (result, Date().timeIntervalSince(start))
            }
        }
        var metrics = result.metrics
        metrics["elapsed_seconds"] = seconds
        metrics["sampled_tokens_per_second"] = ((metrics["sampled_tokens"] ?? nil) ?? 0) / max(seconds, 1e-9)
        if connection.json {
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

/// A one-line progress bar on stderr from `evaluate`'s `$/progress` reports: responses done, running accuracy
/// of the graded ones, rate.
private final class ProgressBar: @unchecked Sendable {
    let enabled: Bool
    private var started = Date()
    private var lastDraw = Date.distantPast

    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// The rate counts from here: the request, not the daemon's start.
    func start() { started = Date() }

    /// Called on the client's loop thread, one report at a time.
    func update(_ report: ProgressReport) {
        guard enabled else { return }
        let (finished, total) = (report.done, report.total)
        // Redraw at most 10 times a second, and always at the end.
        guard finished == total || Date().timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = Date()
        let width = 30
        let filled = total == 0 ? width : width * finished / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let correct = report.metrics?["correct"] ?? 0
        let graded = report.metrics?["graded"] ?? 0
        let accuracy = graded == 0 ? "-" : String(format: "%.3f", correct / graded)
        let rate = Double(finished) / max(Date().timeIntervalSince(started), 1e-9)
        let line = "\r[\(bar)] \(finished)/\(total) responses  acc \(accuracy)  \(String(format: "%.2f", rate))/s "
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

import ArgumentParser
import Foundation
import Generation
import Tensors

/// `torl generate`: one prompt through the model, streamed as text or reported as one JSON object.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with the model (streams text; --json prints ids, text and top logits).")

    @Option(help: "A .gguf file or a Hugging Face checkpoint folder (default: $TORL_MODEL).")
    var model: String?

    @Option(help: "The prompt text (special tokens such as <|im_start|> are recognised).")
    var prompt: String?

    @Option(help: "The prompt as token ids, comma-separated (instead of --prompt; no BOS is added).")
    var promptIds: String?

    @Flag(help: "Render the prompt through the model's chat template as one user message.")
    var chat = false

    @Option(help: "Maximum number of new tokens.")
    var maxTokens = 128

    @Flag(help: "Greedy decoding (argmax); same as --temperature 0.")
    var greedy = false

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 1

    @Option(help: "Keep only the K most likely tokens (0: off).")
    var topK = 0

    @Option(help: "Keep the smallest set of most likely tokens whose probability reaches P (1: off).")
    var topP: Float = 1

    @Option(help: "Seed of the sampler's random stream.")
    var seed: UInt64 = 0

    @Option(help: "Stop when this text appears (repeatable); the text ends before it.")
    var stop: [String] = []

    @Flag(help: "Do not stop at the model's end-of-sequence tokens.")
    var noStopAtEos = false

    @Option(help: "Weight precision for inference: f32 (exact), bf16 or int8.")
    var weights: WeightPrecision = .f32

    @Option(help: "A PEFT LoRA folder applied on top of the model (adapter_config.json, adapter_model.safetensors).")
    var adapter: String?

    @Flag(help: "Print one JSON object (prompt_ids, ids, text, top_logits, logprobs, finish_reason, timing).")
    var json = false

    func validate() throws {
        guard (prompt == nil) != (promptIds == nil) else { throw ValidationError("give exactly one of --prompt and --prompt-ids") }
        if promptIds != nil, chat { throw ValidationError("--chat renders text; it cannot be used with --prompt-ids") }
        _ = try parsedPromptIDs()
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be >= 0") }
        if greedy && temperature != 1 { throw ValidationError("--greedy and --temperature contradict each other") }
        try sampling.validate()
    }

    /// --prompt-ids as ids, nil when absent.
    private func parsedPromptIDs() throws -> [Int32]? {
        guard let promptIds else { return nil }
        let ids = try promptIds.split(separator: ",").map { text -> Int32 in
            guard let id = Int32(text.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--prompt-ids: \"\(text)\" is not a token id")
            }
            return id
        }
        guard !ids.isEmpty else { throw ValidationError("--prompt-ids is empty") }
        return ids
    }

    private var sampling: SamplingParameters {
        SamplingParameters(temperature: greedy ? 0 : temperature, topK: topK, topP: topP, seed: seed)
    }

    func run() throws {
        let loadStart = Date()
        let loaded = try LoadedModel.load(path: try modelPath(model), precision: weights, adapter: adapter)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let promptIDs = try parsedPromptIDs() ?? loaded.promptTokens(for: prompt ?? "", chat: chat)
        if let bad = promptIDs.first(where: { $0 < 0 || Int($0) >= loaded.model.configuration.vocabularySize }) {
            throw ValidationError("--prompt-ids: token \(bad) is outside the vocabulary 0..<\(loaded.model.configuration.vocabularySize)")
        }
        let request = GenerationRequest(prompt: promptIDs, sampling: sampling, maxNewTokens: maxTokens,
                                        endOfSequenceIDs: noStopAtEos ? [] : nil, stopStrings: stop,
                                        promptTopLogitCount: 10)
        let decoder = BatchDecoder(model: loaded.model, tokenizer: loaded.tokenizer)
        try decoder.add(request)

        var result: GeneratedSequence?
        var stepSeconds: [Double] = []
        while result == nil, decoder.hasRunnableWork {
            let stepStart = Date()
            let events = try decoder.step()
            stepSeconds.append(Date().timeIntervalSince(stepStart))
            for event in events {
                if !json, !event.textDelta.isEmpty { writeStandardOutput(event.textDelta) }
                if case .finished(let sequence) = event.kind { result = sequence }
            }
        }
        guard let result else { throw ValidationError("generation ended without a result") }
        let timing = Timing(loadSeconds: loadSeconds, stepSeconds: stepSeconds, promptTokens: promptIDs.count)
        if json {
            let report = GenerateReport(model: loaded.name, result: result, timing: timing)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            writeStandardOutput(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
        } else {
            writeStandardOutput("\n")
            let summary = String(format: "[%@: %d tokens, finish %@; prefill %d tokens %.1f tok/s, decode %.1f tok/s]\n",
                                 loaded.name, result.response.count, result.finishReason?.code ?? "none",
                                 promptIDs.count, timing.prefillTokensPerSecond, timing.decodeTokensPerSecond)
            FileHandle.standardError.write(Data(summary.utf8))
        }
    }

    private func writeStandardOutput(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// Wall-clock figures of one generation: the first step is the prefill (and the first sampled token).
struct Timing: Encodable {
    var loadSeconds: Double
    var prefillSeconds: Double
    var decodeSeconds: Double
    var prefillTokensPerSecond: Double
    var decodeTokensPerSecond: Double

    init(loadSeconds: Double, stepSeconds: [Double], promptTokens: Int) {
        self.loadSeconds = loadSeconds
        prefillSeconds = stepSeconds.first ?? 0
        decodeSeconds = stepSeconds.dropFirst().reduce(0, +)
        prefillTokensPerSecond = prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0
        let decodeSteps = max(stepSeconds.count - 1, 0)
        decodeTokensPerSecond = decodeSeconds > 0 ? Double(decodeSteps) / decodeSeconds : 0
    }

    enum CodingKeys: String, CodingKey {
        case loadSeconds = "load_seconds", prefillSeconds = "prefill_seconds", decodeSeconds = "decode_seconds"
        case prefillTokensPerSecond = "prefill_tokens_per_second", decodeTokensPerSecond = "decode_tokens_per_second"
    }
}

/// The `--json` object.
struct GenerateReport: Encodable {
    struct TopLogit: Encodable {
        var id: Int32
        var logit: Float
    }

    var model: String
    var promptIDs: [Int32]
    var ids: [Int32]
    var text: String
    var topLogits: [TopLogit]
    var logprobs: [Float]
    var finishReason: String
    var stopString: String?
    var timing: Timing

    init(model: String, result: GeneratedSequence, timing: Timing) {
        self.model = model
        promptIDs = result.prompt
        ids = result.responseIDs
        text = result.text
        topLogits = result.promptTopLogits.map { TopLogit(id: $0.id, logit: $0.logit) }
        logprobs = result.logprobs
        finishReason = result.finishReason?.code ?? "none"
        if case .stopString(let string, _) = result.finishReason { stopString = string }
        self.timing = timing
    }

    enum CodingKeys: String, CodingKey {
        case model, ids, text, logprobs, timing
        case promptIDs = "prompt_ids", topLogits = "top_logits", finishReason = "finish_reason"
        case stopString = "stop_string"
    }
}

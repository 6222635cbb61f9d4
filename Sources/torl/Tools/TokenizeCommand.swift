import ArgumentParser
import Foundation
import Models
import Tokenizers

/// `torl tokenize`: a model's tokenizer from the command line, for inspection and for measuring encode speed.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode text with a model's tokenizer (GGUF file or Hugging Face folder) and print the ids, or measure encode throughput.")

    @Option(help: "A GGUF model file, or a Hugging Face folder holding tokenizer.json.")
    var model: String

    @Flag(help: "Parse special tokens written in the text (e.g. <|im_start|>).")
    var special = false

    @Flag(help: "Render the text as one user message with the model's chat template (implies --special).")
    var chat = false

    @Option(help: "Instead of printing ids, encode this file repeatedly and report MB/s.")
    var bench: String?

    @Argument(help: "The text to encode.")
    var text: [String] = []

    func run() throws {
        let tokenizer = try loadTokenizer()
        if let bench {
            try measure(tokenizer, file: bench)
            return
        }
        var input = text.joined(separator: " ")
        if chat {
            input = try tokenizer.chatTemplate().render([ChatMessage(role: "user", content: input)], addGenerationPrompt: true)
        }
        let ids = tokenizer.encode(input, parseSpecial: special || chat)
        print(ids.map(String.init).joined(separator: " "))
        print(ids.map { String(decoding: tokenizer.bytes(of: $0), as: UTF8.self).debugDescription }.joined(separator: " "))
    }

    private func loadTokenizer() throws -> any Tokenizer {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isFolder) else {
            throw ValidationError("no file or folder at \(model)")
        }
        return isFolder.boolValue ? try HuggingFaceTokenizer.load(folder: model) : try GGUFFile(path: model).makeAnyTokenizer()
    }

    /// Wall clock and this thread's CPU time: on a shared machine the CPU figure is the tokenizer's own speed.
    private func measure(_ tokenizer: any Tokenizer, file: String) throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let megabytes = Double(text.utf8.count) / 1e6
        func now() -> (wall: Double, cpu: Double) {
            var wall = timespec(), cpu = timespec()
            clock_gettime(CLOCK_MONOTONIC, &wall)
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu)
            return (Double(wall.tv_sec) + Double(wall.tv_nsec) * 1e-9, Double(cpu.tv_sec) + Double(cpu.tv_nsec) * 1e-9)
        }
        func rates(_ start: (wall: Double, cpu: Double), bytes: Double) -> String {
            let end = now()
            return String(format: "%.1f MB/s wall, %.1f MB/s CPU", bytes / (end.wall - start.wall), bytes / (end.cpu - start.cpu))
        }
        var start = now()
        let tokens = tokenizer.encode(text, parseSpecial: special).count
        let first = rates(start, bytes: megabytes)
        let repetitions = 5
        start = now()
        for _ in 0..<repetitions { _ = tokenizer.encode(text, parseSpecial: special) }
        let cached = rates(start, bytes: megabytes * Double(repetitions))
        print(String(format: "%.2f MB, %d tokens", megabytes, tokens) + ": first pass \(first); cached \(cached) (one thread)")
    }
}

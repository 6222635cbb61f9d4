/// How text is cut into pieces before BPE: a sequence of split steps, each applied to every piece the previous
/// step produced (the way both llama.cpp's `regex_exprs` lists and Hugging Face `Sequence` pre-tokenizers work).
/// Each step is a hand-written matcher equivalent to one regular expression, so results do not depend on a regex
/// engine's Unicode tables or backtracking limits.
public struct PreTokenizer: Sendable, Equatable, CustomStringConvertible {
    public enum Step: Sendable, Equatable {
        /// Every `\p{N}` scalar becomes its own piece (llama.cpp `"\p{N}"`, HF `Digits(individual_digits: true)`).
        case isolateNumbers
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (GPT-2, HF ByteLevel).
        case gpt2
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|`
        /// `\s*[\r\n]+|\s+(?!\S)|\s+`: Llama 3 (maxDigits 3) and Qwen2 (maxDigits 1).
        case wordsAndNumbers(maxDigits: Int, contractions: ContractionCase)
    }

    /// How `(?i:'s|...)` compares letters. Hugging Face's engine folds case with Unicode simple case folding, so
    /// "'ſ" (U+017F LATIN SMALL LETTER LONG S) matches "'s"; llama.cpp rewrites the pattern as `'[sS]|...`.
    public enum ContractionCase: Sendable, Equatable {
        case ascii
        case unicodeSimpleFolding
    }

    public let steps: [Step]
    public let name: String

    public init(name: String, steps: [Step]) {
        self.name = name
        self.steps = steps
    }

    public var description: String { name }

    public static let gpt2 = PreTokenizer(name: "gpt2", steps: [.gpt2])
    public static let smolLM = PreTokenizer(name: "smollm", steps: [.isolateNumbers, .gpt2])
    public static let llama3 = PreTokenizer(name: "llama3", steps: [.wordsAndNumbers(maxDigits: 3, contractions: .ascii)])
    public static let qwen2 = PreTokenizer(name: "qwen2", steps: [.wordsAndNumbers(maxDigits: 1, contractions: .ascii)])

    /// llama.cpp's names (GGUF `tokenizer.ggml.pre`) mapped to the regex lists llama.cpp's llama-vocab.cpp uses.
    private static let llamaCppNames: [String: PreTokenizer] = [
        "gpt2": .gpt2, "gpt-2": .gpt2, "mpt": .gpt2, "olmo": .gpt2, "jais": .gpt2,
        "smollm": .smolLM, "starcoder": .smolLM, "refact": .smolLM, "command-r": .smolLM, "codeshell": .smolLM,
        "llama3": .llama3, "llama-v3": .llama3, "llama-bpe": .llama3, "falcon3": .llama3, "dbrx": .llama3,
        "smaug-bpe": .llama3,
        "qwen2": .qwen2, "qwen2.5": .qwen2, "deepseek-r1-qwen": .qwen2, "stablelm2": .qwen2,
    ]

    static var knownLlamaCppNames: [String] { llamaCppNames.keys.sorted() }

    /// The pre-tokenizer llama.cpp uses for a GGUF `tokenizer.ggml.pre` value.
    public init(llamaCppName: String) throws {
        guard let known = Self.llamaCppNames[llamaCppName] else {
            throw TokenizerError.unknownPreTokenizer("\"\(llamaCppName)\" (GGUF tokenizer.ggml.pre)")
        }
        self = known
    }

    /// Whether llama.cpp encodes whole-word vocabulary entries directly for this GGUF pre-tokenizer name
    /// (Hugging Face `ignore_merges`, set by Llama 3's tokenizer).
    public static func llamaCppIgnoresMerges(_ name: String) -> Bool {
        ["llama3", "llama-v3", "llama-bpe", "falcon3"].contains(name)
    }

    /// Splits scalars[range] into pieces, appended to `pieces` in text order.
    func split(_ text: ScalarText, _ range: Range<Int>, into pieces: inout [Range<Int>], scratch: inout [Range<Int>]) {
        guard let first = steps.first else { pieces.append(range); return }
        if steps.count == 1 {
            first.split(text, range, into: &pieces)
            return
        }
        var current: [Range<Int>] = [range]
        for (index, step) in steps.enumerated() {
            let isLast = index == steps.count - 1
            scratch.removeAll(keepingCapacity: true)
            for piece in current { step.split(text, piece, into: &scratch) }
            if isLast { pieces.append(contentsOf: scratch) } else { current = scratch }
        }
    }
}

extension PreTokenizer.Step {
    func split(_ text: ScalarText, _ range: Range<Int>, into pieces: inout [Range<Int>]) {
        switch self {
        case .isolateNumbers: PieceMatchers.isolateNumbers(text, range, into: &pieces)
        case .gpt2: PieceMatchers.gpt2(text, range, into: &pieces)
        case let .wordsAndNumbers(maxDigits, contractions):
            PieceMatchers.wordsAndNumbers(text, range, maxDigits: maxDigits, contractions: contractions, into: &pieces)
        }
    }
}

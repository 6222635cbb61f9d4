import Foundation
import XCTest
@testable import Models
@testable import Tokenizers

/// The SmolLM2 tokenizer built from the real GGUF must reproduce llama.cpp's prompt token ids
/// (Tests/Fixtures/smollm2_reference.json: llama_tokenize with parse_special=true, no BOS for this model).
final class TokenizerOracleTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private struct Reference: Decodable {
        struct Prompt: Decodable {
            let text: String
            let prompt_ids: [Int32]
        }
        struct ModelFacts: Decodable {
            let bos_id: Int32
            let eos_id: Int32
            let eog_ids: [Int32]
            let add_bos_token: Bool
            let n_vocab: Int
        }
        let prompts: [Prompt]
        let model: ModelFacts
    }

    static func modelPath() throws -> String {
        let path = ProcessInfo.processInfo.environment["TORL_MODEL"]
            ?? Self.packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("the SmolLM2 GGUF is missing at \(path): run scripts/setup.sh (or set TORL_MODEL)")
            throw CocoaError(.fileNoSuchFile)
        }
        return path
    }

    private func reference() throws -> Reference {
        let url = Self.packageRoot.appendingPathComponent("Tests/Fixtures/smollm2_reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testPromptIDsMatchLlamaCpp() throws {
        let tokenizer = try GGUFFile(path: Self.modelPath()).makeTokenizer()
        let reference = try reference()
        XCTAssertEqual(reference.prompts.count, 4)
        for (index, prompt) in reference.prompts.enumerated() {
            let ids = tokenizer.encode(prompt.text, parseSpecial: true)
            XCTAssertEqual(ids, prompt.prompt_ids, "prompt \(index): \(prompt.text.prefix(60))")
            XCTAssertEqual(tokenizer.decode(ids), prompt.text, "prompt \(index) round trip")
        }
    }

    func testSpecialTokenFactsMatchLlamaCpp() throws {
        let tokenizer = try GGUFFile(path: Self.modelPath()).makeTokenizer()
        let facts = try reference().model
        XCTAssertEqual(tokenizer.vocabularySize, facts.n_vocab)
        XCTAssertEqual(tokenizer.beginOfSequenceID, facts.bos_id)
        XCTAssertEqual(tokenizer.addsBeginOfSequence, facts.add_bos_token)
        XCTAssertEqual(tokenizer.endOfSequenceIDs, Set(facts.eog_ids))
        XCTAssertTrue(tokenizer.endOfSequenceIDs.contains(facts.eos_id))
        XCTAssertEqual(tokenizer.specialTokenID("<|im_start|>"), 1)
        XCTAssertEqual(tokenizer.specialTokenID("<|im_end|>"), 2)
        XCTAssertEqual(tokenizer.preTokenizer, .smolLM)
    }

    /// The fourth oracle prompt is what SmolLM2's template renders for one user message with a generation prompt.
    func testChatTemplateRendersTheOraclePrompt() throws {
        let tokenizer = try GGUFFile(path: Self.modelPath()).makeTokenizer()
        let template = try ChatTemplate(recognizing: XCTUnwrap(tokenizer.chatTemplateText))
        XCTAssertEqual(template.defaultSystemPrompt, "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        let rendered = template.render([ChatMessage(role: "user", content: "What is 12*13?")], addGenerationPrompt: true)
        let oracle = try reference().prompts[3]
        XCTAssertEqual(rendered, oracle.text)
        XCTAssertEqual(tokenizer.encode(rendered, parseSpecial: true), oracle.prompt_ids)
    }
}

// MARK: - Independent reference for the tokenizer.json path, round trips on the real vocabulary

/// The SmolLM2 vocabulary and merges exported as tokenizer.json files with different pre-tokenizer settings, then
/// compared id for id with a plain Python BPE (stdlib `re` with the files' own patterns, Unicode classes built
/// from `unicodedata`, GPT-2's reference merge loop), and round-tripped on random UTF-8.
final class TokenizerReferenceTests: XCTestCase {
    private struct Vocabulary {
        let tokens: [String]
        let types: [Int]
        let mergeLines: [String]
    }

    private static let vocabulary: Result<Vocabulary, Error> = Result {
        let file = try GGUFFile(path: TokenizerOracleTests.modelPath())
        return Vocabulary(
            tokens: try XCTUnwrap(file.stringArray("tokenizer.ggml.tokens")),
            types: try XCTUnwrap(file.intArray("tokenizer.ggml.token_type")),
            mergeLines: try XCTUnwrap(file.stringArray("tokenizer.ggml.merges")))
    }

    private static let ggufTokenizer: Result<BPETokenizer, Error> = Result {
        try GGUFFile(path: TokenizerOracleTests.modelPath()).makeTokenizer()
    }

    private static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    private static let qwen2Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    private static let llama3Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    private struct Variant {
        let name: String
        let preTokenizer: [String: Any]
        var normalizer: Any = NSNull()
        var mergesAsPairs = false
    }

    private static func byteLevel(useRegex: Bool) -> [String: Any] {
        ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": !useRegex, "use_regex": useRegex]
    }

    private static func split(_ regex: String) -> [String: Any] {
        ["type": "Split", "pattern": ["Regex": regex], "behavior": "Isolated", "invert": false]
    }

    private static let variants: [Variant] = [
        Variant(name: "SmolLM2 (Digits + ByteLevel)", preTokenizer: ["type": "Sequence", "pretokenizers": [
            ["type": "Digits", "individual_digits": true], byteLevel(useRegex: true)]]),
        Variant(name: "GPT-2 (ByteLevel alone)", preTokenizer: byteLevel(useRegex: true), mergesAsPairs: true),
        Variant(name: "Qwen2 (Split + ByteLevel, NFC)", preTokenizer: ["type": "Sequence", "pretokenizers": [
            split(qwen2Regex), byteLevel(useRegex: false)]], normalizer: ["type": "NFC"], mergesAsPairs: true),
        Variant(name: "Llama 3 (Split + ByteLevel)", preTokenizer: ["type": "Sequence", "pretokenizers": [
            split(llama3Regex), byteLevel(useRegex: false)]]),
    ]

    /// Writes tokenizer.json for a variant. `completeBytes` appends the 21 byte tokens SmolLM2 lacks (so every
    /// UTF-8 text is encodable) and a non-special added token "<tool_call>".
    private func export(_ variant: Variant, completeBytes: Bool) throws -> URL {
        let vocabulary = try Self.vocabulary.get()
        var vocab: [String: Int] = [:]
        for (id, text) in vocabulary.tokens.enumerated() { vocab[text] = id }
        var added: [[String: Any]] = vocabulary.types.enumerated().filter { $0.element == 3 }.map {
            ["id": $0.offset, "content": vocabulary.tokens[$0.offset], "special": true, "lstrip": false, "rstrip": false,
             "normalized": false, "single_word": false]
        }
        if completeBytes {
            for byte in 0..<256 {
                let spelling = ByteLevelAlphabet.spelling(of: [UInt8(byte)])
                if vocab[spelling] == nil { vocab[spelling] = vocab.count }
            }
            added.append(["id": vocab.count, "content": "<tool_call>", "special": false])
        }
        let merges: [Any] = try vocabulary.mergeLines.map { line -> Any in
            guard variant.mergesAsPairs else { return line }
            let pair = try BPETokenizerConfiguration.splitMergeLine(line)
            return [pair.0, pair.1]
        }
        let document: [String: Any] = [
            "version": "1.0", "added_tokens": added, "normalizer": variant.normalizer,
            "pre_tokenizer": variant.preTokenizer, "decoder": Self.byteLevel(useRegex: true),
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "byte_fallback": false,
                      "vocab": vocab, "merges": merges],
        ]
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("torl-tokenizer-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: document).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func load(_ url: URL) throws -> BPETokenizer {
        try BPETokenizer(tokenizerJSON: Data(contentsOf: url), tokenizerConfigJSON: nil)
    }

    // MARK: tests

    func testTokenizerJSONPathMatchesGGUFPath() throws {
        let gguf = try Self.ggufTokenizer.get()
        let json = try load(export(Self.variants[0], completeBytes: false))
        var sampler = TextSampler(seed: 7)
        for index in 0..<400 {
            let text = sampler.text(scalarRanges: TextSampler.anyScalar)
            XCTAssertEqual(json.encode(text, parseSpecial: index.isMultiple(of: 2)),
                           gguf.encode(text, parseSpecial: index.isMultiple(of: 2)), "\(text.debugDescription)")
        }
        XCTAssertEqual(json.endOfSequenceIDs, gguf.endOfSequenceIDs)
    }

    func testIDsMatchPythonReference() throws {
        var sampler = TextSampler(seed: 2024)
        var cases: [(text: String, parseSpecial: Bool)] = TextSampler.edgeCases.flatMap { [($0, true), ($0, false)] }
        for index in 0..<300 {
            cases.append((sampler.text(scalarRanges: TextSampler.unicode14Scalars), index.isMultiple(of: 3)))
        }
        let files = try Self.variants.map { try export($0, completeBytes: true) }
        let references = try PythonBPEReference.encode(cases, tokenizerJSONs: files)
        XCTAssertEqual(references.count, Self.variants.count)
        for (variant, (file, reference)) in zip(Self.variants, zip(files, references)) {
            let ours = try load(file)
            XCTAssertEqual(reference.count, cases.count)
            var mismatches = 0
            for (index, testCase) in cases.enumerated() where index < reference.count {
                let ids = ours.encode(testCase.text, parseSpecial: testCase.parseSpecial)
                if ids != reference[index] {
                    mismatches += 1
                    if mismatches <= 5 {
                        XCTFail("\(variant.name): \(testCase.text.debugDescription) parseSpecial=\(testCase.parseSpecial): ours \(ids), Python \(reference[index])")
                    }
                }
            }
            XCTAssertEqual(mismatches, 0, "\(variant.name): \(mismatches) of \(cases.count) texts differ")
        }
    }

    /// With every byte in the vocabulary, decode(encode(s)) gives back s byte for byte, special tokens parsed or not.
    func testRoundTripOfArbitraryUTF8() throws {
        for variant in Self.variants where variant.normalizer is NSNull {
            let tokenizer = try load(export(variant, completeBytes: true))
            XCTAssertTrue(tokenizer.unencodableBytes.isEmpty)
            var sampler = TextSampler(seed: 99)
            for index in 0..<700 {
                let text = sampler.text(scalarRanges: TextSampler.anyScalar)
                let ids = tokenizer.encode(text, parseSpecial: index.isMultiple(of: 2))
                XCTAssertEqual(Array(tokenizer.decode(ids).utf8), Array(text.utf8), "\(variant.name): \(text.debugDescription)")
            }
        }
    }

    /// SmolLM2's own vocabulary has no token for 21 byte values; text without them round-trips exactly, and those
    /// bytes are dropped exactly as llama.cpp drops them.
    func testRoundTripOnTheSmolLM2Vocabulary() throws {
        let tokenizer = try Self.ggufTokenizer.get()
        XCTAssertEqual(tokenizer.unencodableBytes, Set([0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2] + Array(0xF5...0xFF)))
        var sampler = TextSampler(seed: 5)
        for index in 0..<1500 {
            let text = sampler.text(scalarRanges: TextSampler.anyScalar)
            let ids = tokenizer.encode(text, parseSpecial: index.isMultiple(of: 2))
            let encodable = Array(text.utf8).filter { !tokenizer.unencodableBytes.contains($0) }
            let decoded = tokenizer.decode(ids)
            if encodable.count == text.utf8.count {
                XCTAssertEqual(Array(decoded.utf8), encodable, text.debugDescription)
            } else if String(validating: encodable, as: UTF8.self) != nil {
                XCTAssertEqual(Array(decoded.utf8), encodable, "dropping \(text.debugDescription)")
            }
        }
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("a\u{4}b\u{1D}", parseSpecial: false)), "ab")
    }

    func testSpecialTokensParsedOnlyWhenAsked() throws {
        let tokenizer = try Self.ggufTokenizer.get()
        let text = "<|im_start|>user\nhi<|im_end|><|endoftext|>"
        XCTAssertEqual(tokenizer.encode(text, parseSpecial: true).filter { $0 < 17 }, [1, 2, 0])
        let plain = tokenizer.encode(text, parseSpecial: false)
        XCTAssertTrue(plain.allSatisfy { $0 >= 17 }, "\(plain)")
        XCTAssertEqual(tokenizer.decode(plain), text)
    }
}

/// Seeded random text: words, whitespace runs, digits of several scripts, CJK, emoji with ZWJ, combining marks,
/// RTL text, control characters, look-alikes of special tokens and random scalars.
struct TextSampler {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    private mutating func next() -> UInt64 {  // SplitMix64
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    private mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// Every scalar (surrogates excluded), for round trips.
    static let anyScalar: [ClosedRange<UInt32>] = [0x0...0xD7FF, 0xE000...0x10FFFF]
    /// Blocks whose characters were all assigned (or stay unassigned) before Unicode 14, so Python's
    /// `unicodedata` and Swift agree on every category.
    static let unicode14Scalars: [ClosedRange<UInt32>] = [
        0x20...0x24F, 0x370...0x3FF, 0x400...0x52F, 0x5D0...0x5EA, 0x620...0x64A, 0x900...0x97F, 0x2000...0x2064,
        0x2190...0x22FF, 0x3040...0x30FF, 0x4E00...0x9FA5, 0xAC00...0xD7A3, 0xE000...0xE0FF, 0x1F600...0x1F64F,
        0x40000...0x400FF,
    ]

    static let edgeCases = [
        "", " ", "  ", "\n", "\r\n\r\n", "The capital of France is", "What is 12*13?", "I'm he's we'LL 'ſa 'S 'Ve",
        "<|im_start|>user\nHi<|im_end|>\n", "<|im_start", "<tool_call>x</tool_call>", "x<|endoftext|>y",
        "12345678 ٣٤٥ ０１２ ²³½ Ⅻ", "e\u{301}t\u{308}e\u{323}\u{302}", "👩‍👩‍👧 👍🏽 🏳️‍🌈 🇫🇷", "مرحبا بالعالم שלום",
        "日本語のテキスト\u{3000}中文", "\t\tindented\n    code()\n", "\\boxed{42} $x^2+1$", "a\u{0}b\u{7}c\u{1b}[0m\u{7f}",
        "   trailing   ", "\u{a0}\u{2009}\u{85}x", "!!!???...", "```python\nprint(1)\n```\n```output\n1\n```",
    ]

    private static let words = ["the", "Hello", "world", "x", "isn't", "I'm", "THEY'LL", "we've", "ok", "Zeta", "naïve"]
    private static let spaces = [" ", " ", " ", "\t", "\n", "\r\n", "\u{3000}", "\u{a0}", "\u{2009}", "\u{85}", "\r"]
    private static let digits = Array("0123456789٠١٢٣０１２²³½Ⅻ").map(String.init)
    private static let clusters = [
        "中文字符", "日本語", "한국어", "👩‍👩‍👧", "👍🏽", "🏳️‍🌈", "😀", "🇫🇷", "e\u{301}", "a\u{308}\u{323}", "مرحبا", "שלום",
        "\u{200F}", "\u{1}", "\u{4}", "\u{1D}", "\u{7f}", "\u{0}", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_",
        "<tool_call>", "\\boxed{", "$x^2$", "(a+b)*c", "...", "'s", "'ſ", "'LL", "```", "--", "ſ",
    ]

    mutating func text(scalarRanges: [ClosedRange<UInt32>]) -> String {
        var text = ""
        for _ in 0..<(1 + below(12)) {
            switch below(6) {
            case 0: text += pick(Self.words)
            case 1: text += String(repeating: pick(Self.spaces), count: 1 + below(4))
            case 2: for _ in 0..<(1 + below(6)) { text += pick(Self.digits) }
            case 3: text += pick(Self.clusters)
            case 4:
                for _ in 0..<(1 + below(4)) {
                    let range = pick(scalarRanges)
                    let value = range.lowerBound + UInt32(below(Int(range.upperBound - range.lowerBound) + 1))
                    if let scalar = Unicode.Scalar(value) { text.unicodeScalars.append(scalar) }
                }
            default: text += " " + pick(Self.words)
            }
        }
        return text
    }
}

/// A straightforward Python byte-level BPE reading the same tokenizer.json: stdlib `re` runs the file's own split
/// patterns (with \p{L}, \p{N} and \s spelled out as character classes from `unicodedata` and the White_Space
/// list), GPT-2's reference `bpe()` loop merges. Runs with $TORL_PYTHON, else python3.
enum PythonBPEReference {
    /// ids[file][case]: every case encoded with every tokenizer.json, in one Python process.
    static func encode(_ cases: [(text: String, parseSpecial: Bool)], tokenizerJSONs: [URL]) throws -> [[[Int32]]] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("torl-bpe-ref-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("bpe_reference.py")
        let input = folder.appendingPathComponent("cases.json")
        let output = folder.appendingPathComponent("ids.json")
        try Data(source.utf8).write(to: script)
        let payload: [[String: Any]] = cases.map { ["text": $0.text, "parse_special": $0.parseSpecial] }
        try JSONSerialization.data(withJSONObject: payload).write(to: input)

        let python = ProcessInfo.processInfo.environment["TORL_PYTHON"] ?? "python3"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script.path, input.path, output.path] + tokenizerJSONs.map(\.path)
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch {
            XCTFail("cannot run the Python reference with \(python) (set TORL_PYTHON): \(error)")
            throw error
        }
        let messages = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: messages, as: UTF8.self)
            XCTFail("the Python reference (\(python)) failed with status \(process.terminationStatus): \(text)")
            throw CocoaError(.executableLoad)
        }
        let ids = try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [[[NSNumber]]]
        return try XCTUnwrap(ids).map { $0.map { $0.map { Int32(truncating: $0) } } }
    }

    static let source = #"""
import functools, json, re, sys, unicodedata

WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

def category_class(prefix):
    parts, start = [], None
    for cp in range(0x110001):
        inside = cp <= 0x10FFFF and unicodedata.category(chr(cp)).startswith(prefix)
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            end = cp - 1
            parts.append(re.escape(chr(start)) + ("" if start == end else "-" + re.escape(chr(end))))
            start = None
    return "".join(parts)

LETTER, NUMBER = category_class("L"), category_class("N")

@functools.lru_cache(maxsize=None)
def translate(pattern):
    """Spell \\p{L}, \\p{N}, \\s and \\S as classes stdlib re understands."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        if pattern.startswith("\\p{L}", i) or pattern.startswith("\\p{N}", i):
            body = LETTER if pattern[i + 3] == "L" else NUMBER
            out.append(body if in_class else "[" + body + "]")
            i += 5
        elif pattern.startswith("\\s", i):
            out.append(WHITE_SPACE if in_class else "[" + WHITE_SPACE + "]")
            i += 2
        elif pattern.startswith("\\S", i):
            assert not in_class
            out.append("[^" + WHITE_SPACE + "]")
            i += 2
        elif pattern[i] == "\\":
            out.append(pattern[i:i + 2])
            i += 2
        else:
            if pattern[i] == "[" and not in_class:
                in_class = True
            elif pattern[i] == "]" and in_class:
                in_class = False
            out.append(pattern[i])
            i += 1
    return re.compile("".join(out))

GPT2 = translate(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
DIGIT = re.compile("[" + NUMBER + "]")

def isolated(regex, text):
    pieces, last = [], 0
    for match in regex.finditer(text):
        if match.start() > last:
            pieces.append(text[last:match.start()])
        pieces.append(match.group())
        last = match.end()
    if last < len(text):
        pieces.append(text[last:])
    return pieces

def pre_tokenize(text, component):
    kind = component["type"]
    if kind == "Sequence":
        pieces = [text]
        for inner in component["pretokenizers"]:
            pieces = [p for piece in pieces for p in pre_tokenize(piece, inner)]
        return pieces
    if kind == "ByteLevel":
        return isolated(GPT2, text) if component.get("use_regex", True) else [text]
    if kind == "Digits":
        return isolated(DIGIT, text)
    if kind == "Split":
        return isolated(translate(component["pattern"]["Regex"]), text)
    raise ValueError("unknown pre-tokenizer " + kind)

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}

def encode_all(tokenizer_path, cases):
    document = json.load(open(tokenizer_path, encoding="utf-8"))
    model = document["model"]
    vocab = model["vocab"]
    ranks = {}
    for rank, merge in enumerate(model["merges"]):
        pair = tuple(merge.split(" ", 1)) if isinstance(merge, str) else tuple(merge)
        ranks.setdefault(pair, rank)
    byte_char = bytes_to_unicode()
    nfc = (document.get("normalizer") or {}).get("type") == "NFC"

    def bpe(word):
        while len(word) > 1:
            rank, pair = min((ranks.get(pair, float("inf")), pair) for pair in zip(word, word[1:]))
            if rank == float("inf"):
                break
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return word

    def encode_piece(piece):
        ids, run = [], []
        for char in [byte_char[b] for b in piece.encode("utf-8")] + [None]:
            if char is not None and char in vocab:
                run.append(char)
                continue
            ids += [vocab[token] for token in bpe(run)] if run else []
            run = []
        return ids

    def encode(text, parse_special):
        added = {t["content"]: t["id"] for t in document["added_tokens"] if parse_special or not t["special"]}
        segments = [(text, None)]
        if added:
            splitter = re.compile("|".join(re.escape(c) for c in sorted(added, key=len, reverse=True)))
            segments, last = [], 0
            for match in splitter.finditer(text):
                if match.start() > last:
                    segments.append((text[last:match.start()], None))
                segments.append((None, added[match.group()]))
                last = match.end()
            if last < len(text):
                segments.append((text[last:], None))
        ids = []
        for segment, token in segments:
            if token is not None:
                ids.append(token)
                continue
            if nfc:
                segment = unicodedata.normalize("NFC", segment)
            for piece in pre_tokenize(segment, document["pre_tokenizer"]):
                ids += encode_piece(piece)
        return ids

    return [encode(c["text"], c["parse_special"]) for c in cases]

cases = json.load(open(sys.argv[1], encoding="utf-8"))
json.dump([encode_all(path, cases) for path in sys.argv[3:]], open(sys.argv[2], "w"))
"""#
}

/// Bad tokenizer metadata in a GGUF file is an error naming the key or value, never a crash.
final class GGUFTokenizerMetadataTests: XCTestCase {
    private enum Value {
        case string(String)
        case strings([String])
        case ints([Int32])
        case uint32(UInt32)
        case bool(Bool)
    }

    /// A GGUF v3 file with the given metadata and no tensors.
    private func ggufFile(_ metadata: [(String, Value)]) throws -> GGUFFile {
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        func append(_ text: String) { append(UInt64(text.utf8.count)); bytes += Array(text.utf8) }
        bytes += Array("GGUF".utf8)
        append(UInt32(3))
        append(UInt64(0))
        append(UInt64(metadata.count))
        for (key, value) in metadata {
            append(key)
            switch value {
            case let .string(text): append(UInt32(8)); append(text)
            case let .strings(texts): append(UInt32(9)); append(UInt32(8)); append(UInt64(texts.count)); texts.forEach { append($0) }
            case let .ints(values): append(UInt32(9)); append(UInt32(5)); append(UInt64(values.count)); values.forEach { append($0) }
            case let .uint32(value): append(UInt32(4)); append(value)
            case let .bool(flag): append(UInt32(7)); append(UInt8(flag ? 1 : 0))
            }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("torl-tok-\(UUID().uuidString).gguf")
        try Data(bytes).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return try GGUFFile(path: url.path)
    }

    private var byteTokens: [String] { (0..<256).map { ByteLevelAlphabet.spelling(of: [UInt8($0)]) } }

    private func validMetadata(pre: String = "qwen2") -> [(String, Value)] {
        [
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string(pre)),
            ("tokenizer.ggml.tokens", .strings(byteTokens + ["ab", "<|im_end|>"])),
            ("tokenizer.ggml.token_type", .ints(Array(repeating: 1, count: 257) + [3])),
            ("tokenizer.ggml.merges", .strings(["a b"])), ("tokenizer.ggml.eos_token_id", .uint32(257)),
            ("tokenizer.ggml.add_bos_token", .bool(false)),
        ]
    }

    private func assertError(_ metadata: [(String, Value)], mentions text: String, line: UInt = #line) throws {
        let file = try ggufFile(metadata)
        XCTAssertThrowsError(try file.makeTokenizer(), line: line) { error in
            XCTAssertTrue("\(error)".contains(text), "\(error)", line: line)
        }
    }

    func testMinimalFileLoads() throws {
        let tokenizer = try ggufFile(validMetadata()).makeTokenizer()
        XCTAssertEqual(tokenizer.encode("ab<|im_end|>", parseSpecial: true), [256, 257])
        XCTAssertEqual(tokenizer.endOfSequenceIDs, [257])
        XCTAssertEqual(tokenizer.preTokenizer, .qwen2)
    }

    /// llama.cpp adds BOS for the Llama 3 family when the file does not say, and honours the file when it does.
    func testLlama3FamilyAddsBOSUnlessTheFileSaysOtherwise() throws {
        var metadata = validMetadata(pre: "llama-bpe").filter { $0.0 != "tokenizer.ggml.add_bos_token" }
        metadata.append(("tokenizer.ggml.bos_token_id", .uint32(257)))
        XCTAssertTrue(try ggufFile(metadata).makeTokenizer().addsBeginOfSequence)
        metadata.append(("tokenizer.ggml.add_bos_token", .bool(false)))
        XCTAssertFalse(try ggufFile(metadata).makeTokenizer().addsBeginOfSequence)
        XCTAssertFalse(try ggufFile(validMetadata(pre: "qwen2").filter { $0.0 != "tokenizer.ggml.add_bos_token" })
            .makeTokenizer().addsBeginOfSequence)
    }

    func testErrorsNameTheProblem() throws {
        var metadata = validMetadata()
        metadata[0] = ("tokenizer.ggml.model", .string("llama"))
        try assertError(metadata, mentions: "\"llama\"")
        try assertError(validMetadata(pre: "tekken"), mentions: "\"tekken\"")
        try assertError(validMetadata().filter { $0.0 != "tokenizer.ggml.merges" }, mentions: "tokenizer.ggml.merges")
        metadata = validMetadata()
        metadata[4] = ("tokenizer.ggml.merges", .strings(["a c"]))
        try assertError(metadata, mentions: "\"ac\"")
        metadata = validMetadata()
        metadata[3] = ("tokenizer.ggml.token_type", .ints([1, 1]))
        try assertError(metadata, mentions: "token_type")
        metadata = validMetadata()
        metadata[5] = ("tokenizer.ggml.eos_token_id", .uint32(9999))
        try assertError(metadata, mentions: "9999")
        metadata = validMetadata()
        metadata[6] = ("tokenizer.ggml.add_bos_token", .string("yes"))
        try assertError(metadata, mentions: "add_bos_token")
    }
}

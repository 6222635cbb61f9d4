import Foundation

/// Reads a Hugging Face tokenizer: `tokenizer.json` (vocabulary, merges, added tokens, normalizer,
/// pre-tokenizer) and, when present, `tokenizer_config.json` (chat template, BOS/EOS tokens, add_bos_token).
extension BPETokenizer {
    /// Loads `tokenizer.json` and the optional `tokenizer_config.json` from a model folder.
    public convenience init(huggingFaceFolder folder: String) throws {
        let files = try HuggingFaceTokenizerFiles.read(folder: folder)
        try self.init(tokenizerJSON: files.tokenizer, tokenizerConfigJSON: files.config)
    }

    public convenience init(tokenizerJSON: Data, tokenizerConfigJSON: Data?) throws {
        let root = try JSONObject(parsing: tokenizerJSON, file: "tokenizer.json")
        let config = try tokenizerConfigJSON.map { try JSONObject(parsing: $0, file: "tokenizer_config.json") }
        try self.init(configuration: HuggingFaceTokenizerFiles.configuration(tokenizer: root, data: tokenizerJSON, config: config))
    }
}

enum HuggingFaceTokenizerFiles {
    /// `tokenizer.json` and, when present, `tokenizer_config.json` of a model folder.
    static func read(folder: String) throws -> (tokenizer: Data, config: Data?) {
        let base = URL(fileURLWithPath: folder)
        func read(_ name: String) throws -> Data {
            let url = base.appendingPathComponent(name)
            do { return try Data(contentsOf: url) } catch {
                throw TokenizerError.cannotRead(path: url.path, reason: error.localizedDescription)
            }
        }
        let configURL = base.appendingPathComponent("tokenizer_config.json")
        let config = FileManager.default.fileExists(atPath: configURL.path) ? try read("tokenizer_config.json") : nil
        return (try read("tokenizer.json"), config)
    }

    /// `data`: the bytes `root` was parsed from (for the vocabulary, see `VocabularyJSON`).
    static func configuration(tokenizer root: JSONObject, data: Data, config: JSONObject?) throws -> BPETokenizerConfiguration {
        let model = try root.object("model")
        let modelType = try model.optionalString("type") ?? "BPE"
        guard modelType == "BPE" else { throw TokenizerError.unsupportedModel(modelType) }
        if try model.optionalBool("byte_fallback") == true {
            throw TokenizerError.unsupportedOption("model.byte_fallback = true (a SentencePiece-style BPE)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = try model.optionalString(key), !value.isEmpty {
                throw TokenizerError.unsupportedOption("model.\(key) = \"\(value)\"")
            }
        }
        if let dropout = model.values["dropout"], !(dropout is NSNull) {
            throw TokenizerError.unsupportedOption("model.dropout = \(dropout)")
        }

        let table = try tokenTable(root: root, data: data)
        let tokens = table.texts
        var tokenKinds = [BPETokenizerConfiguration.TokenKind](repeating: .normal, count: tokens.count)
        for (id, special) in table.added { tokenKinds[id] = special ? .control : .userDefined }

        let merges = try VocabularyJSON.merges(in: data)
        let preTokenizer = try preTokenizer(root.values["pre_tokenizer"])
        let normalization = try normalization(root.values["normalizer"])
        if let decoder = try root.optionalObject("decoder"), try decoder.optionalString("type") != "ByteLevel" {
            throw TokenizerError.unsupportedOption("decoder type \(try decoder.optionalString("type") ?? "?") (ByteLevel expected)")
        }

        let declared = try declaredTokens(root: root, config: config, tokens: tokens, added: table.added)
        return BPETokenizerConfiguration(
            tokens: tokens, kinds: tokenKinds, merges: merges, preTokenizer: preTokenizer,
            normalization: normalization, ignoresMerges: try model.optionalBool("ignore_merges") ?? false,
            beginOfSequenceID: declared.bosID, addsBeginOfSequence: declared.addsBOS,
            declaredEndOfSequenceIDs: declared.endIDs, chatTemplate: declared.chatTemplate)
    }

    /// Token texts by id from `model.vocab` and `added_tokens` (which may extend it or re-declare entries), and the
    /// added ones with whether each is special (matched only when asked) or not (always matched in text).
    static func tokenTable(root: JSONObject, data: Data) throws -> (texts: [String?], added: [Int: Bool]) {
        var texts: [Int: String] = [:]
        var added: [Int: Bool] = [:]
        for (text, id) in try VocabularyJSON.entries(in: data) { texts[id] = text }
        for (index, entry) in try root.optionalArray("added_tokens").enumerated() {
            guard let fields = entry as? [String: Any] else {
                throw TokenizerError.malformed("tokenizer.json: added_tokens[\(index)] is not an object")
            }
            let token = JSONObject(fields, path: "added_tokens[\(index)]")
            let content = try token.string("content")
            guard let id = (fields["id"] as? NSNumber)?.intValue, id >= 0 else {
                throw TokenizerError.malformed("tokenizer.json: added token \"\(content)\" has no valid id")
            }
            for flag in ["lstrip", "rstrip", "single_word"] where try token.optionalBool(flag) == true {
                throw TokenizerError.unsupportedOption("added token \"\(content)\" has \(flag) = true")
            }
            texts[id] = content
            added[id] = try token.optionalBool("special") == true
        }
        guard let largestID = texts.keys.max() else { throw TokenizerError.malformed("tokenizer.json: empty vocabulary") }
        var tokens = [String?](repeating: nil, count: largestID + 1)
        for (id, text) in texts { tokens[id] = text }
        return (tokens, added)
    }

    /// BOS (the token a TemplateProcessing post-processor puts first, as Llama 3 declares it, unless
    /// tokenizer_config.json says otherwise), whether it is added, EOS and the chat template.
    static func declaredTokens(root: JSONObject, config: JSONObject?, tokens: [String?], added: [Int: Bool]) throws
        -> (bosID: Int32?, addsBOS: Bool, endIDs: [Int32], chatTemplate: String?) {
        func id(ofText text: String) -> Int32? {
            // Added tokens first: their text is what a config's bos_token/eos_token names.
            added.keys.sorted().first { tokens[$0] == text }.map { Int32($0) }
                ?? tokens.firstIndex { $0 == text }.map { Int32($0) }
        }
        let leadingToken = try postProcessorLeadingToken(root)
        var bosID = leadingToken.flatMap(id(ofText:))
        var endIDs: [Int32] = []
        var addsBOS = bosID != nil
        var chatTemplate: String?
        if let config {
            func tokenText(_ key: String) throws -> String? {
                switch config.values[key] {
                case nil, is NSNull: return nil
                case let text as String: return text
                case let object as [String: Any]:
                    return try JSONObject(object, path: key).string("content")
                default: throw TokenizerError.malformed("tokenizer_config.json: \(key) is neither a string nor an object")
                }
            }
            func tokenID(_ key: String) throws -> Int32? {
                guard let text = try tokenText(key) else { return nil }
                guard let id = id(ofText: text) else {
                    throw TokenizerError.malformed("tokenizer_config.json: \(key) \"\(text)\" is not a token")
                }
                return id
            }
            if let configured = try tokenID("bos_token") {
                bosID = configured
                addsBOS = leadingToken.map { tokens[Int(configured)] == $0 } ?? false
            }
            endIDs += try tokenID("eos_token").map { [$0] } ?? []
            addsBOS = try config.optionalBool("add_bos_token") ?? addsBOS
            chatTemplate = try chatTemplateText(config.values["chat_template"])
        }
        return (bosID, addsBOS, endIDs, chatTemplate)
    }

    private static func normalization(_ value: Any?) throws -> BPETokenizerConfiguration.Normalization {
        guard let fields = value as? [String: Any] else {
            if value == nil || value is NSNull { return .none }
            throw TokenizerError.malformed("tokenizer.json: normalizer is not an object")
        }
        switch fields["type"] as? String {
        case "NFC": return .nfc
        case "Sequence" where (fields["normalizers"] as? [Any])?.isEmpty == true: return .none
        case let type: throw TokenizerError.unsupportedOption("normalizer \(type ?? "without a type") (NFC or none expected)")
        }
    }

    /// The Split patterns of known models, exactly as their tokenizer.json spells them (after JSON unescaping).
    static let knownSplitPatterns: [String: PreTokenizer.Step] = [
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#:
            .wordsAndNumbers(maxDigits: 3, contractions: .unicodeSimpleFolding),
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#:
            .wordsAndNumbers(maxDigits: 1, contractions: .unicodeSimpleFolding),
    ]

    /// ByteLevel alone (GPT-2), Digits + ByteLevel (SmolLM2) or Split + ByteLevel without its regex (Llama 3,
    /// Qwen2); anything else is an error naming the component.
    static func preTokenizer(_ value: Any?) throws -> PreTokenizer {
        guard let fields = value as? [String: Any] else {
            throw TokenizerError.unknownPreTokenizer("none (tokenizer.json has no pre_tokenizer)")
        }
        var steps: [PreTokenizer.Step] = []
        var names: [String] = []
        var sawByteLevel = false
        func add(_ fields: [String: Any], depth: Int) throws {
            let component = JSONObject(fields, path: "pre_tokenizer")
            let type = try component.optionalString("type") ?? "?"
            switch type {
            case "Sequence" where depth == 0:
                for item in try component.optionalArray("pretokenizers") {
                    guard let inner = item as? [String: Any] else {
                        throw TokenizerError.malformed("tokenizer.json: pre_tokenizer.pretokenizers holds a non-object")
                    }
                    try add(inner, depth: depth + 1)
                }
            case "ByteLevel":
                if try component.optionalBool("add_prefix_space") == true {
                    throw TokenizerError.unsupportedOption("ByteLevel pre-tokenizer with add_prefix_space = true")
                }
                sawByteLevel = true
                if try component.optionalBool("use_regex") ?? true {
                    steps.append(.gpt2)
                    names.append("ByteLevel(GPT-2 regex)")
                } else {
                    names.append("ByteLevel")
                }
            case "Digits":
                guard try component.optionalBool("individual_digits") == true else {
                    throw TokenizerError.unsupportedOption("Digits pre-tokenizer with individual_digits = false")
                }
                steps.append(.isolateNumbers)
                names.append("Digits")
            case "Split":
                let pattern = try component.object("pattern")
                guard let regex = try pattern.optionalString("Regex") else {
                    throw TokenizerError.unknownPreTokenizer("Split on a plain string pattern")
                }
                guard let step = knownSplitPatterns[regex] else {
                    throw TokenizerError.unknownPreTokenizer("Split regex \"\(regex)\"")
                }
                let behavior = try component.optionalString("behavior") ?? "Isolated"
                guard behavior == "Isolated", try component.optionalBool("invert") != true else {
                    throw TokenizerError.unsupportedOption("Split with behavior \(behavior) / invert = true")
                }
                steps.append(step)
                names.append(step == .gpt2 ? "Split(GPT-2)" : "Split(\(regex.contains("{1,3}") ? "Llama 3" : "Qwen2"))")
            default:
                throw TokenizerError.unknownPreTokenizer("component \"\(type)\"")
            }
        }
        try add(fields, depth: 0)
        guard sawByteLevel else {
            throw TokenizerError.unknownPreTokenizer("without ByteLevel: \(names.joined(separator: " + ")) is not byte-level BPE")
        }
        return PreTokenizer(name: names.joined(separator: " + "), steps: steps)
    }

    /// The special token a TemplateProcessing post-processor (alone or in a Sequence) puts first in a single
    /// sequence, if any.
    private static func postProcessorLeadingToken(_ root: JSONObject) throws -> String? {
        guard let processor = try root.optionalObject("post_processor") else { return nil }
        var candidates = [processor.values]
        if let inner = processor.values["processors"] as? [[String: Any]] { candidates += inner }
        for candidate in candidates where candidate["type"] as? String == "TemplateProcessing" {
            guard let single = candidate["single"] as? [[String: Any]], let first = single.first,
                  let special = first["SpecialToken"] as? [String: Any], let text = special["id"] as? String
            else { continue }
            return text
        }
        return nil
    }

    /// A string, or a list of named templates of which "default" is the chat one.
    private static func chatTemplateText(_ value: Any?) throws -> String? {
        switch value {
        case nil, is NSNull: return nil
        case let text as String: return text
        case let named as [[String: Any]]:
            return named.first { $0["name"] as? String == "default" }?["template"] as? String
        default: throw TokenizerError.malformed("tokenizer_config.json: chat_template is neither a string nor a list")
        }
    }
}

/// A decoded JSON object with typed accessors whose errors name the file and key.
struct JSONObject {
    let values: [String: Any]
    let path: String

    init(_ values: [String: Any], path: String) {
        self.values = values
        self.path = path
    }

    init(parsing data: Data, file: String) throws {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
            throw TokenizerError.malformed("\(file) is not valid JSON: \(error.localizedDescription)")
        }
        guard let object = parsed as? [String: Any] else { throw TokenizerError.malformed("\(file) is not a JSON object") }
        self.init(object, path: file)
    }

    private func wrongType(_ key: String, _ expected: String) -> TokenizerError {
        .malformed("\(path).\(key) is not \(expected)")
    }

    func object(_ key: String) throws -> JSONObject {
        guard let object = try optionalObject(key) else { throw TokenizerError.malformed("\(path) has no \(key)") }
        return object
    }

    func optionalObject(_ key: String) throws -> JSONObject? {
        switch values[key] {
        case nil, is NSNull: return nil
        case let object as [String: Any]: return JSONObject(object, path: "\(path).\(key)")
        default: throw wrongType(key, "an object")
        }
    }

    func optionalArray(_ key: String) throws -> [Any] {
        switch values[key] {
        case nil, is NSNull: return []
        case let array as [Any]: return array
        default: throw wrongType(key, "an array")
        }
    }

    func string(_ key: String) throws -> String {
        guard let text = try optionalString(key) else { throw TokenizerError.malformed("\(path) has no \(key)") }
        return text
    }

    func optionalString(_ key: String) throws -> String? {
        switch values[key] {
        case nil, is NSNull: return nil
        case let text as String: return text
        default: throw wrongType(key, "a string")
        }
    }

    func optionalBool(_ key: String) throws -> Bool? {
        switch values[key] {
        case nil, is NSNull: return nil
        case let flag as Bool: return flag
        default: throw wrongType(key, "a boolean")
        }
    }
}

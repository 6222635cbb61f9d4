import Foundation

/// A SentencePiece vocabulary as Hugging Face files, the way transformers' `GemmaConverter` writes a Gemma
/// `tokenizer.json`: a BPE model with byte fallback whose merges are every split of every piece into two pieces,
/// ranked by the merged piece's score (then its id); spaces become "▁" in a `Replace` normalizer; control pieces are
/// special added tokens and user-defined pieces (Gemma's runs of newlines and tabs, HTML tags) non-special ones,
/// both matched in the raw text before any merging, as llama.cpp does.
extension SentencePieceConfiguration {
    public func huggingFaceFiles() throws -> (tokenizerJSON: Data, tokenizerConfigJSON: Data) {
        // Keyed by bytes: "ায়" as one scalar and as two are two tokens (see `VocabularyJSON`).
        var vocabulary: [[UInt8]: Int] = [:]
        var added: [[String: Any]] = []
        for (id, text) in tokens.enumerated() {
            if let first = vocabulary[Array(text.utf8)] {
                throw TokenizerError.malformed("token \(id) repeats the text of token \(first) (\"\(text)\"); tokenizer.json cannot hold both")
            }
            vocabulary[Array(text.utf8)] = id
            if kinds[id] == .control || kinds[id] == .userDefined {
                added.append(["id": id, "content": text, "special": kinds[id] == .control, "single_word": false,
                              "lstrip": false, "rstrip": false, "normalized": false])
            }
        }
        let unknownText = kinds.firstIndex(of: .unknown).map { tokens[$0] }
        let replaceSpaces: [String: Any] = ["type": "Replace", "pattern": ["String": " "], "content": escapedSpace]
        let normalizer: [String: Any] = addsSpacePrefix
            ? ["type": "Sequence", "normalizers": [["type": "Prepend", "prepend": escapedSpace], replaceSpaces]]
            : replaceSpaces
        let bosText = beginOfSequenceID.map { tokens[Int($0)] }
        let root: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(),
            "padding": NSNull(),
            "added_tokens": added,
            "normalizer": normalizer,
            "pre_tokenizer": NSNull(),
            "post_processor": HuggingFaceTokenizerFiles.bosTemplate(text: addsBeginOfSequence ? bosText : nil,
                                                                   id: beginOfSequenceID),
            "decoder": ["type": "Sequence", "decoders": [
                ["type": "Replace", "pattern": ["String": escapedSpace], "content": " "],
                ["type": "ByteFallback"], ["type": "Fuse"],
            ]] as [String: Any],
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": unknownText ?? NSNull(), "continuing_subword_prefix": NSNull(),
                "end_of_word_suffix": NSNull(), "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                "vocab": Self.vocabularyPlaceholder, "merges": mergeRules(vocabulary: vocabulary).map { [$0.0, $0.1] },
            ] as [String: Any],
        ]
        var config = HuggingFaceTokenizerFiles.tokenizerConfig(
            addsBOS: addsBeginOfSequence, bosText: bosText,
            eosText: declaredEndOfSequenceIDs.first.map { tokens[Int($0)] }, chatTemplate: chatTemplate)
        config["add_eos_token"] = false
        if let unknownText { config["unk_token"] = unknownText }
        if let pad = tokens.firstIndex(of: "<pad>"), kinds[pad] == .control { config["pad_token"] = "<pad>" }
        // JSONSerialization would fold canonically equal texts: the vocabulary goes in as text of its own.
        var json = try HuggingFaceTokenizerFiles.encode(root)
        guard let placeholder = json.range(of: Data(VocabularyJSON.quoted(Self.vocabularyPlaceholder).utf8)) else {
            throw TokenizerError.malformed("the vocabulary placeholder is missing from the written tokenizer.json")
        }
        json.replaceSubrange(placeholder, with: Data(VocabularyJSON.encode(tokens.enumerated().map { ($1, $0) }).utf8))
        return (json, try HuggingFaceTokenizerFiles.encode(config))
    }

    private static let vocabularyPlaceholder = "torl: the vocabulary object goes here"

    private var escapedSpace: String { SentencePieceTokenizer.escapedSpace }

    /// Every (left, right) split of a token into two tokens, best merged score first (ties: lower merged id):
    /// the order in which `SentencePieceTokenizer` would apply them.
    func mergeRules(vocabulary: [[UInt8]: Int]) -> [(String, String)] {
        var ranked: [(score: Float, id: Int, left: String, right: String)] = []
        for (id, text) in tokens.enumerated() where kinds[id] != .byte {
            var split = text.unicodeScalars.index(after: text.unicodeScalars.startIndex)
            while split < text.unicodeScalars.endIndex {
                let left = String(text.unicodeScalars[..<split]), right = String(text.unicodeScalars[split...])
                if vocabulary[Array(left.utf8)] != nil, vocabulary[Array(right.utf8)] != nil {
                    ranked.append((scores[id], id, left, right))
                }
                split = text.unicodeScalars.index(after: split)
            }
        }
        ranked.sort { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
        return ranked.map { ($0.left, $0.right) }
    }

    /// Reads a SentencePiece-style `tokenizer.json` (BPE with `byte_fallback`, as written above or by transformers'
    /// converters). Each merged token's score is minus the rank of its first merge rule, so merging by score follows
    /// the merge ranks; tokens no rule makes score below all of them.
    public init(tokenizerJSON: Data, tokenizerConfigJSON: Data?) throws {
        try self.init(root: try JSONObject(parsing: tokenizerJSON, file: "tokenizer.json"), data: tokenizerJSON,
                      config: try tokenizerConfigJSON.map { try JSONObject(parsing: $0, file: "tokenizer_config.json") })
    }

    init(root: JSONObject, data: Data, config: JSONObject?) throws {
        let model = try root.object("model")
        guard try model.optionalString("type") ?? "BPE" == "BPE", try model.optionalBool("byte_fallback") == true else {
            throw TokenizerError.unsupportedModel("tokenizer.json model is not a BPE with byte_fallback (SentencePiece style)")
        }
        let table = try HuggingFaceTokenizerFiles.tokenTable(root: root, data: data)
        var tokens: [String] = []
        tokens.reserveCapacity(table.texts.count)
        for (id, text) in table.texts.enumerated() {
            guard let text else { throw TokenizerError.malformed("tokenizer.json: no token has id \(id)") }
            tokens.append(text)
        }
        let unknownText = try model.optionalString("unk_token")
        let kinds = tokens.indices.map { id -> TokenKind in
            switch table.added[id] {
            case true?: return .control
            case false?: return .userDefined
            case nil:
                if SentencePieceTokenizer.byteValue(of: tokens[id]) != nil { return .byte }
                return tokens[id] == unknownText ? .unknown : .normal
            }
        }
        let idsByText = Dictionary(tokens.enumerated().map { (Array($1.utf8), $0) }, uniquingKeysWith: { first, _ in first })
        let merges = try VocabularyJSON.merges(in: data)
        var scores = [Float](repeating: -Float(merges.count + 1), count: tokens.count)
        var scored = [Bool](repeating: false, count: tokens.count)
        for (rank, merge) in merges.enumerated() {
            guard let id = idsByText[Array((merge.0 + merge.1).utf8)] else {
                throw TokenizerError.unknownMergeToken(merge: "\(merge.0) \(merge.1)", token: merge.0 + merge.1)
            }
            if !scored[id] { scores[id] = -Float(rank); scored[id] = true }
        }
        let addsSpacePrefix = try Self.readsSpacePrefix(normalizer: root.values["normalizer"])
        if let pre = try root.optionalObject("pre_tokenizer") {
            // GemmaConverter's Split on " " after spaces became "▁" splits nothing; anything else would.
            let pattern = try pre.optionalObject("pattern")
            guard try pre.optionalString("type") == "Split", try pattern?.optionalString("String") == " " else {
                throw TokenizerError.unknownPreTokenizer("\(pre.values["type"] ?? "?") in a SentencePiece tokenizer.json")
            }
        }
        let declared = try HuggingFaceTokenizerFiles.declaredTokens(root: root, config: config, tokens: table.texts,
                                                                  added: table.added)
        self.init(tokens: tokens, scores: scores, kinds: kinds, beginOfSequenceID: declared.bosID,
                  addsBeginOfSequence: declared.addsBOS, addsSpacePrefix: addsSpacePrefix,
                  declaredEndOfSequenceIDs: declared.endIDs, chatTemplate: declared.chatTemplate)
    }

    /// Replace(" " → "▁"), alone (no prefix) or after Prepend("▁") in a Sequence (a space prefix).
    private static func readsSpacePrefix(normalizer value: Any?) throws -> Bool {
        func isSpaceEscape(_ item: [String: Any]) -> Bool {
            item["type"] as? String == "Replace" && (item["pattern"] as? [String: Any])?["String"] as? String == " "
                && item["content"] as? String == SentencePieceTokenizer.escapedSpace
        }
        if let single = value as? [String: Any], isSpaceEscape(single) { return false }
        if let sequence = value as? [String: Any], sequence["type"] as? String == "Sequence",
           let items = sequence["normalizers"] as? [[String: Any]], items.count == 2,
           items[0]["type"] as? String == "Prepend", items[0]["prepend"] as? String == SentencePieceTokenizer.escapedSpace,
           isSpaceEscape(items[1]) {
            return true
        }
        throw TokenizerError.unsupportedOption("normalizer \(value ?? "none") (SentencePiece files replace \" \" with \"▁\")")
    }
}

/// The tokenizer a Hugging Face folder describes, whichever kind its `tokenizer.json` is: SentencePiece style (BPE
/// with byte fallback: Gemma) or byte-level BPE (GPT-2, SmolLM2, Llama 3, Qwen2).
public enum HuggingFaceTokenizer {
    public static func load(folder: String) throws -> any Tokenizer {
        let files = try HuggingFaceTokenizerFiles.read(folder: folder)
        let root = try JSONObject(parsing: files.tokenizer, file: "tokenizer.json")
        let config = try files.config.map { try JSONObject(parsing: $0, file: "tokenizer_config.json") }
        if try root.object("model").optionalBool("byte_fallback") == true {
            return try SentencePieceTokenizer(configuration: SentencePieceConfiguration(root: root, data: files.tokenizer,
                                                                                        config: config))
        }
        return try BPETokenizer(configuration: HuggingFaceTokenizerFiles.configuration(tokenizer: root, data: files.tokenizer,
                                                                                       config: config))
    }
}

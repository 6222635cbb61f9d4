import Foundation

extension BPETokenizerConfiguration {
    /// `tokenizer.json` and `tokenizer_config.json` describing this tokenizer, in the form
    /// `BPETokenizer(tokenizerJSON:tokenizerConfigJSON:)` and Hugging Face `tokenizers` read: a model exported from
    /// a GGUF file (whose tokenizer lives in metadata) gets files a Hugging Face loader can use.
    public func huggingFaceFiles() throws -> (tokenizerJSON: Data, tokenizerConfigJSON: Data) {
        var vocabulary: [String: Int] = [:]
        var added: [[String: Any]] = []
        for (id, text) in tokens.enumerated() {
            guard let text else { continue }
            switch kinds[id] {
            case .normal: vocabulary[text] = id
            case .control, .userDefined:
                added.append(["id": id, "content": text, "special": kinds[id] == .control, "single_word": false,
                              "lstrip": false, "rstrip": false, "normalized": kinds[id] != .control])
            }
        }
        var root: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(),
            "padding": NSNull(),
            "added_tokens": added,
            "normalizer": normalization == .nfc ? ["type": "NFC"] : NSNull(),
            "pre_tokenizer": try preTokenizerJSON(),
            "decoder": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": "",
                "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": ignoresMerges,
                "vocab": vocabulary, "merges": merges.map { [$0.0, $0.1] },
            ] as [String: Any],
        ]
        let bosText = beginOfSequenceID.flatMap { tokens[Int($0)] }
        root["post_processor"] = HuggingFaceTokenizerFiles.bosTemplate(text: addsBeginOfSequence ? bosText : nil,
                                                                       id: beginOfSequenceID)
        let config = HuggingFaceTokenizerFiles.tokenizerConfig(
            addsBOS: addsBeginOfSequence, bosText: bosText,
            eosText: declaredEndOfSequenceIDs.first.flatMap { tokens[Int($0)] }, chatTemplate: chatTemplate)
        return (try HuggingFaceTokenizerFiles.encode(root), try HuggingFaceTokenizerFiles.encode(config))
    }

    /// The Hugging Face pre-tokenizer whose reading (`HuggingFaceTokenizerFiles.preTokenizer`) gives these steps.
    private func preTokenizerJSON() throws -> [String: Any] {
        func byteLevel(useRegex: Bool) -> [String: Any] {
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": useRegex]
        }
        var components: [[String: Any]] = []
        for step in preTokenizer.steps {
            switch step {
            case .gpt2:
                components.append(byteLevel(useRegex: true))
            case .isolateNumbers:
                components.append(["type": "Digits", "individual_digits": true])
            case let .wordsAndNumbers(maxDigits, _):
                guard let pattern = HuggingFaceTokenizerFiles.knownSplitPatterns.first(where: {
                    if case let .wordsAndNumbers(digits, _) = $0.value { return digits == maxDigits }
                    return false
                })?.key else {
                    throw TokenizerError.unknownPreTokenizer("no Hugging Face pattern for \(preTokenizer.name)")
                }
                components.append(["type": "Split", "pattern": ["Regex": pattern], "behavior": "Isolated",
                                   "invert": false])
            }
        }
        // A byte-level tokenizer ends in ByteLevel; the GPT-2 step already is one.
        if !preTokenizer.steps.contains(.gpt2) { components.append(byteLevel(useRegex: false)) }
        return components.count == 1 ? components[0] : ["type": "Sequence", "pretokenizers": components]
    }
}

extension HuggingFaceTokenizerFiles {
    /// A TemplateProcessing post-processor putting the BOS token `text` (id `id`) before every sequence, or null.
    static func bosTemplate(text: String?, id: Int32?) -> Any {
        guard let text, let id else { return NSNull() }
        return [
            "type": "TemplateProcessing",
            "single": [["SpecialToken": ["id": text, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
            "pair": [["SpecialToken": ["id": text, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                     ["Sequence": ["id": "B", "type_id": 1]]],
            "special_tokens": [text: ["id": text, "ids": [Int(id)], "tokens": [text]]],
        ] as [String: Any]
    }

    /// tokenizer_config.json's fields for the fast tokenizer (whose pipeline is all in tokenizer.json).
    static func tokenizerConfig(addsBOS: Bool, bosText: String?, eosText: String?, chatTemplate: String?) -> [String: Any] {
        var config: [String: Any] = ["add_bos_token": addsBOS, "tokenizer_class": "PreTrainedTokenizerFast",
                                     "clean_up_tokenization_spaces": false]
        config["bos_token"] = bosText ?? NSNull()
        config["eos_token"] = eosText ?? NSNull()
        if let chatTemplate { config["chat_template"] = chatTemplate }
        return config
    }

    static func encode(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}

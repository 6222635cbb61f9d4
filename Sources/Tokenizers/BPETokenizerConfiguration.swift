/// Everything needed to build a `BPETokenizer`, independent of the file it came from (GGUF metadata or
/// tokenizer.json + tokenizer_config.json).
public struct BPETokenizerConfiguration: Sendable {
    public enum TokenKind: Sendable, Equatable {
        /// Spelled in the byte-level alphabet; produced by BPE.
        case normal
        /// Special (control) token: its text is matched in input only with `parseSpecial`.
        case control
        /// Added non-special token: its text is always matched in input.
        case userDefined
    }

    public enum Normalization: Sendable, Equatable {
        case none
        /// Unicode NFC before pre-tokenization (tokenizer.json `"normalizer": {"type": "NFC"}`, e.g. Qwen2).
        case nfc
    }

    /// tokens[id] is the token's text (vocabulary spelling for normal tokens, literal text for added ones);
    /// nil for ids that no token uses.
    public var tokens: [String?]
    public var kinds: [TokenKind]
    /// Merge rules, best first, as pairs of token texts.
    public var merges: [(String, String)]
    public var preTokenizer: PreTokenizer
    public var normalization: Normalization
    /// Whole pre-tokenizer pieces found in the vocabulary are emitted directly (HF `ignore_merges`).
    public var ignoresMerges: Bool
    public var beginOfSequenceID: Int32?
    public var addsBeginOfSequence: Bool
    /// Ids the files declare as ending a generation (EOS, EOT, EOM); control tokens named like an end of turn
    /// are added to these when the tokenizer is built.
    public var declaredEndOfSequenceIDs: [Int32]
    /// The model's Jinja chat template text, if its files carry one.
    public var chatTemplate: String?

    public init(
        tokens: [String?], kinds: [TokenKind], merges: [(String, String)], preTokenizer: PreTokenizer,
        normalization: Normalization = .none, ignoresMerges: Bool = false, beginOfSequenceID: Int32? = nil,
        addsBeginOfSequence: Bool = false, declaredEndOfSequenceIDs: [Int32] = [], chatTemplate: String? = nil
    ) {
        self.tokens = tokens
        self.kinds = kinds
        self.merges = merges
        self.preTokenizer = preTokenizer
        self.normalization = normalization
        self.ignoresMerges = ignoresMerges
        self.beginOfSequenceID = beginOfSequenceID
        self.addsBeginOfSequence = addsBeginOfSequence
        self.declaredEndOfSequenceIDs = declaredEndOfSequenceIDs
        self.chatTemplate = chatTemplate
    }

    /// Splits a merge line "left right" at its first space after the first character (llama.cpp's rule, so a
    /// left side starting with a space still parses).
    public static func splitMergeLine(_ line: String) throws -> (String, String) {
        let scalars = Array(line.unicodeScalars)
        guard scalars.count >= 3, let space = scalars.dropFirst().firstIndex(of: " "), space < scalars.count - 1 else {
            throw TokenizerError.malformed("merge rule \"\(line)\" is not two tokens separated by a space")
        }
        var left = String.UnicodeScalarView(), right = String.UnicodeScalarView()
        left.append(contentsOf: scalars[..<space])
        right.append(contentsOf: scalars[(space + 1)...])
        return (String(left), String(right))
    }
}

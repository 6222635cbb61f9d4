@testable import Tokenizers

/// A small byte-level vocabulary written by hand: the 256 byte tokens (id = byte value), then one token per merge
/// result, then added tokens. Small enough that expected ids can be worked out on paper.
struct TinyVocabulary {
    var merges: [(String, String)]
    /// Normal tokens no merge produces.
    var extraTokens: [String] = []
    var control: [String] = []
    var userDefined: [String] = []
    var preTokenizer: PreTokenizer = .gpt2
    var normalization: BPETokenizerConfiguration.Normalization = .none
    var ignoresMerges = false

    /// Vocabulary spelling of plain ASCII/Unicode text (space → "Ġ").
    static func spell(_ text: String) -> String { ByteLevelAlphabet.spelling(of: Array(text.utf8)) }

    var tokens: [String] {
        var tokens = (0..<256).map { String(ByteLevelAlphabet.characterOfByte[$0]) }
        for (left, right) in merges where !tokens.contains(left + right) { tokens.append(left + right) }
        return tokens + extraTokens + control + userDefined
    }

    func id(_ spelling: String) -> Int32 { Int32(tokens.firstIndex(of: spelling)!) }

    func make() throws -> BPETokenizer {
        let tokens = self.tokens
        let normalCount = tokens.count - control.count - userDefined.count
        let kinds = Array(repeating: BPETokenizerConfiguration.TokenKind.normal, count: normalCount)
            + Array(repeating: .control, count: control.count) + Array(repeating: .userDefined, count: userDefined.count)
        return try BPETokenizer(configuration: BPETokenizerConfiguration(
            tokens: tokens, kinds: kinds, merges: merges, preTokenizer: preTokenizer, normalization: normalization,
            ignoresMerges: ignoresMerges))
    }
}

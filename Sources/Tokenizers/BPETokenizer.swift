import Foundation

/// Byte-level BPE (GPT-2 family: SmolLM2, Qwen2, Llama 3) implementing `Tokenizer`. Immutable after init apart
/// from its piece cache, so one instance can serve many threads.
public final class BPETokenizer: Tokenizer {
    public let vocabularySize: Int
    public let endOfSequenceIDs: Set<Int32>
    public let beginOfSequenceID: Int32?
    public let addsBeginOfSequence: Bool
    public let preTokenizer: PreTokenizer
    public let normalization: BPETokenizerConfiguration.Normalization
    /// The model's Jinja chat template text, when its files carry one; see `ChatTemplate(recognizing:)`.
    public let chatTemplateText: String?
    /// Bytes the vocabulary has no token for (SmolLM2 lacks 21, among them the controls 0x04, 0x06, 0x13, 0x14,
    /// 0x16, 0x1D). `encode` drops them, exactly as llama.cpp and Hugging Face do, so text containing them does
    /// not round-trip; every other UTF-8 text does.
    public let unencodableBytes: Set<UInt8>

    /// tokenBytes[id]: the exact bytes of the token (empty for unused ids).
    private let tokenBytes: [[UInt8]]
    private let addedTokenIDs: [String: Int32]
    private let merger: BytePairMerger
    private let specialTokens: SpecialTokenMatcher
    private let cache = PieceCache(capacity: 1 << 16)

    /// Texts of control tokens that end a turn in known chat formats; llama.cpp treats them as end-of-generation
    /// whatever the metadata says, and so do we.
    static let endOfTurnTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "<|eom_id|>",
        "<｜end▁of▁sentence｜>",
    ]

    public init(configuration: BPETokenizerConfiguration) throws {
        let count = configuration.tokens.count
        guard configuration.kinds.count == count else {
            throw TokenizerError.malformed("\(count) tokens but \(configuration.kinds.count) token kinds")
        }
        guard count > 0, count < Int(Int32.max) else { throw TokenizerError.malformed("vocabulary size \(count)") }
        vocabularySize = count
        preTokenizer = configuration.preTokenizer
        normalization = configuration.normalization
        chatTemplateText = configuration.chatTemplate
        addsBeginOfSequence = configuration.addsBeginOfSequence

        func checked(_ id: Int32, _ what: String) throws -> Int32 {
            guard id >= 0, Int(id) < count, configuration.tokens[Int(id)] != nil else {
                throw TokenizerError.malformed("\(what) id \(id) is not a token (vocabulary size \(count))")
            }
            return id
        }
        beginOfSequenceID = try configuration.beginOfSequenceID.map { try checked($0, "begin-of-sequence") }
        if addsBeginOfSequence, beginOfSequenceID == nil {
            throw TokenizerError.malformed("the files ask for a BOS token but name none")
        }

        var idsOfNormalTokens: [String: Int32] = [:]
        idsOfNormalTokens.reserveCapacity(count)
        var bytes: [[UInt8]] = []
        bytes.reserveCapacity(count)
        var added: [String: Int32] = [:]
        var matcherEntries: [SpecialTokenMatcher.Entry] = []
        var endOfSequence = Set<Int32>()
        for (index, text) in configuration.tokens.enumerated() {
            guard let text else { bytes.append([]); continue }
            let id = Int32(index)
            switch configuration.kinds[index] {
            case .normal:
                // Entries outside the byte alphabet are taken literally, as Hugging Face's ByteLevel decoder does.
                bytes.append(ByteLevelAlphabet.bytes(spelledBy: text) ?? Array(text.utf8))
                if idsOfNormalTokens[text] == nil { idsOfNormalTokens[text] = id }
            case .control, .userDefined:
                bytes.append(Array(text.utf8))
                if added[text] == nil { added[text] = id }
                let alwaysMatched = configuration.kinds[index] == .userDefined
                matcherEntries.append(.init(bytes: Array(text.utf8), id: id, alwaysMatched: alwaysMatched))
                if configuration.kinds[index] == .control, Self.endOfTurnTexts.contains(text) { endOfSequence.insert(id) }
            }
        }
        tokenBytes = bytes
        addedTokenIDs = added
        specialTokens = SpecialTokenMatcher(matcherEntries)
        for id in configuration.declaredEndOfSequenceIDs { endOfSequence.insert(try checked(id, "end-of-sequence")) }
        endOfSequenceIDs = endOfSequence

        var byteTokens = [Int32](repeating: -1, count: 256)
        for byte in 0..<256 {
            if let id = idsOfNormalTokens[String(ByteLevelAlphabet.characterOfByte[byte])] { byteTokens[byte] = id }
        }
        unencodableBytes = Set((0..<256).filter { byteTokens[$0] < 0 }.map(UInt8.init))

        var merges: [(left: Int32, right: Int32, merged: Int32)] = []
        merges.reserveCapacity(configuration.merges.count)
        for (left, right) in configuration.merges {
            func id(_ text: String) throws -> Int32 {
                guard let id = idsOfNormalTokens[text] else {
                    throw TokenizerError.unknownMergeToken(merge: "\(left) \(right)", token: text)
                }
                return id
            }
            merges.append((try id(left), try id(right), try id(left + right)))
        }
        var wholePieces: [[UInt8]: Int32]?
        if configuration.ignoresMerges {
            var table: [[UInt8]: Int32] = [:]
            for id in idsOfNormalTokens.values { table[bytes[Int(id)]] = id }
            wholePieces = table
        }
        merger = BytePairMerger(byteTokens: byteTokens, merges: merges, wholePieces: wholePieces)
    }

    // MARK: Tokenizer

    public func encode(_ text: String, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(text.utf8.count / 3 + 4)
        var encoder = PieceEncoder(tokenizer: self)
        var contiguous = text  // withUTF8 reads a native string in place
        contiguous.withUTF8 { bytes in
            for segment in specialTokens.segments(of: bytes, parseSpecial: parseSpecial) {
                switch segment {
                case let .token(id): output.append(id)
                case let .text(range):
                    if normalization == .nfc {
                        var normalized = String(decoding: bytes[range], as: UTF8.self).precomposedStringWithCanonicalMapping
                        normalized.withUTF8 { encoder.encodeText($0, 0..<$0.count, into: &output) }
                    } else {
                        encoder.encodeText(bytes, range, into: &output)
                    }
                }
            }
        }
        return output
    }

    public func bytes(of token: Int32) -> [UInt8] {
        guard token >= 0, Int(token) < tokenBytes.count else { return [] }
        return tokenBytes[Int(token)]
    }

    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids where id >= 0 && Int(id) < tokenBytes.count { bytes.append(contentsOf: tokenBytes[Int(id)]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func specialTokenID(_ text: String) -> Int32? { addedTokenIDs[text] }

    /// Pieces as the pre-tokenizer cuts them (no special-token parsing, no BPE); for inspection and tests.
    public func preTokenize(_ text: String) -> [String] {
        var pieces: [String] = []
        var contiguous = text
        contiguous.withUTF8 { buffer in
            var scalars = ScalarText()
            var ranges: [Range<Int>] = [], scratch: [Range<Int>] = []
            scalars.load(buffer, 0..<buffer.count)
            preTokenizer.split(scalars, 0..<scalars.count, into: &ranges, scratch: &scratch)
            for range in ranges {
                let bytes = buffer[scalars.byteOffsets[range.lowerBound]..<scalars.byteOffsets[range.upperBound]]
                pieces.append(String(decoding: bytes, as: UTF8.self))
            }
        }
        return pieces
    }

    /// Per-call working storage, so that encoding allocates little beyond its output.
    private struct PieceEncoder {
        let tokenizer: BPETokenizer
        var scalars = ScalarText()
        var pieces: [Range<Int>] = []
        var scratch: [Range<Int>] = []
        var merged: [Int32] = []

        init(tokenizer: BPETokenizer) { self.tokenizer = tokenizer }

        mutating func encodeText(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into output: inout [Int32]) {
            scalars.load(bytes, range)
            pieces.removeAll(keepingCapacity: true)
            tokenizer.preTokenizer.split(scalars, 0..<scalars.count, into: &pieces, scratch: &scratch)
            for piece in pieces {
                let start = scalars.byteOffsets[piece.lowerBound], end = scalars.byteOffsets[piece.upperBound]
                let pieceBytes = UnsafeBufferPointer(rebasing: bytes[start..<end])
                if pieceBytes.count == 1 {
                    let id = tokenizer.merger.byteTokens[Int(pieceBytes[0])]
                    if id >= 0 { output.append(id) }
                    continue
                }
                // Long pieces (runs of spaces, digits-free blobs) rarely repeat; caching them would only hold memory.
                guard pieceBytes.count <= PieceCache.longestCachedPiece else {
                    tokenizer.merger.encode(pieceBytes, into: &output)
                    continue
                }
                if let cached = tokenizer.cache.tokens(of: pieceBytes) {
                    output.append(contentsOf: cached)
                    continue
                }
                merged.removeAll(keepingCapacity: true)
                tokenizer.merger.encode(pieceBytes, into: &merged)
                tokenizer.cache.store(merged, for: pieceBytes)
                output.append(contentsOf: merged)
            }
        }
    }
}

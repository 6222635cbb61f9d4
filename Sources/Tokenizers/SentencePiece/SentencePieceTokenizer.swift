import Foundation

/// The parts of a SentencePiece (unigram-scored, llama.cpp "llama"/SPM) vocabulary, as a GGUF file or a
/// Hugging Face folder declares them.
public struct SentencePieceConfiguration: Sendable {
    public enum TokenKind: Sendable, Equatable {
        case normal
        /// A `<0xNN>` token spelling one byte (byte fallback).
        case byte
        /// Matched in text only when the caller parses special tokens (BOS, `<start_of_turn>`, `<unused0>` ...).
        case control
        /// Always matched in text as a whole, before the pieces are merged (Gemma's runs of spaces and newlines).
        case userDefined
        case unknown
        case unused
    }

    public var tokens: [String]
    public var scores: [Float]
    public var kinds: [TokenKind]
    public var beginOfSequenceID: Int32?
    public var addsBeginOfSequence: Bool
    /// Whether a space is put in front of the text (and of text after a special token); false for Gemma.
    public var addsSpacePrefix: Bool
    public var declaredEndOfSequenceIDs: [Int32]
    public var chatTemplate: String?

    public init(tokens: [String], scores: [Float], kinds: [TokenKind], beginOfSequenceID: Int32?,
                addsBeginOfSequence: Bool, addsSpacePrefix: Bool, declaredEndOfSequenceIDs: [Int32],
                chatTemplate: String? = nil) {
        self.tokens = tokens
        self.scores = scores
        self.kinds = kinds
        self.beginOfSequenceID = beginOfSequenceID
        self.addsBeginOfSequence = addsBeginOfSequence
        self.addsSpacePrefix = addsSpacePrefix
        self.declaredEndOfSequenceIDs = declaredEndOfSequenceIDs
        self.chatTemplate = chatTemplate
    }
}

/// SentencePiece tokenization as llama.cpp's `llm_tokenizer_spm` does it (Gemma, Llama 1/2, Mistral): spaces
/// become "▁", the text starts as one symbol per UTF-8 character, and adjacent symbols whose concatenation is a
/// vocabulary entry merge, highest score first (leftmost first among equal scores), until no pair is an entry;
/// a final symbol that is no entry is spelled with its bytes' `<0xNN>` tokens. Immutable: one instance can
/// serve many threads.
public final class SentencePieceTokenizer: Tokenizer {
    public let vocabularySize: Int
    public let endOfSequenceIDs: Set<Int32>
    public let beginOfSequenceID: Int32?
    public let addsBeginOfSequence: Bool
    public let addsSpacePrefix: Bool
    public let chatTemplateText: String?

    /// Keyed by bytes, not `String`: Swift's string equality is canonical equivalence ("e" + U+0301 equals "é"),
    /// and llama.cpp matches exact bytes.
    private let idsBySpelling: [[UInt8]: Int32]
    private let scores: [Float]
    private let tokenBytes: [[UInt8]]
    private let byteTokens: [Int32]
    private let specialTokens: SpecialTokenMatcher
    private let specialIDsByText: [String: Int32]

    static let escapedSpace = "\u{2581}"
    static let escapedSpaceBytes = Array(escapedSpace.utf8)

    public init(configuration c: SentencePieceConfiguration) throws {
        let count = c.tokens.count
        guard count > 0, count < Int(Int32.max) else { throw TokenizerError.malformed("vocabulary size \(count)") }
        guard c.scores.count == count, c.kinds.count == count else {
            throw TokenizerError.malformed("\(count) tokens but \(c.scores.count) scores and \(c.kinds.count) token kinds")
        }
        vocabularySize = count
        scores = c.scores
        addsBeginOfSequence = c.addsBeginOfSequence
        addsSpacePrefix = c.addsSpacePrefix
        chatTemplateText = c.chatTemplate
        func checked(_ id: Int32, _ what: String) throws -> Int32 {
            guard id >= 0, Int(id) < count else {
                throw TokenizerError.malformed("\(what) id \(id) is not a token (vocabulary size \(count))")
            }
            return id
        }
        beginOfSequenceID = try c.beginOfSequenceID.map { try checked($0, "begin-of-sequence") }
        if addsBeginOfSequence, beginOfSequenceID == nil {
            throw TokenizerError.malformed("the files ask for a BOS token but name none")
        }

        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(count)
        var bytes: [[UInt8]] = []
        bytes.reserveCapacity(count)
        var byteTokens = [Int32](repeating: -1, count: 256)
        var matcherEntries: [SpecialTokenMatcher.Entry] = []
        var special: [String: Int32] = [:]
        var endOfSequence = Set<Int32>()
        for (index, text) in c.tokens.enumerated() {
            let id = Int32(index)
            // llama.cpp looks every merge candidate up among all tokens, whatever their kind.
            if ids[Array(text.utf8)] == nil { ids[Array(text.utf8)] = id }
            switch c.kinds[index] {
            case .byte:
                guard let byte = Self.byteValue(of: text) else {
                    throw TokenizerError.malformed("byte token \(index) is \"\(text)\", not <0xNN>")
                }
                byteTokens[Int(byte)] = id
                bytes.append([byte])
            case .control, .userDefined:
                bytes.append(Array(text.utf8))
                if special[text] == nil { special[text] = id }
                matcherEntries.append(.init(bytes: Array(text.utf8), id: id, alwaysMatched: c.kinds[index] == .userDefined))
                if c.kinds[index] == .control, BPETokenizer.endOfTurnTexts.contains(text) { endOfSequence.insert(id) }
            case .normal, .unknown, .unused:
                bytes.append(Array(text.replacingOccurrences(of: Self.escapedSpace, with: " ").utf8))
            }
        }
        idsBySpelling = ids
        tokenBytes = bytes
        self.byteTokens = byteTokens
        specialTokens = SpecialTokenMatcher(matcherEntries)
        specialIDsByText = special
        for id in c.declaredEndOfSequenceIDs { endOfSequence.insert(try checked(id, "end-of-sequence")) }
        endOfSequenceIDs = endOfSequence
    }

    /// 0xNN of a `<0xNN>` token.
    static func byteValue(of text: String) -> UInt8? {
        guard text.count == 6, text.hasPrefix("<0x"), text.hasSuffix(">") else { return nil }
        return UInt8(text.dropFirst(3).prefix(2), radix: 16)
    }

    // MARK: Tokenizer

    public func encode(_ text: String, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        var contiguous = text
        contiguous.withUTF8 { bytes in
            // As llama.cpp: the space prefix goes before the first text and before text after a special token.
            var previousWasSpecial = true
            for segment in specialTokens.segments(of: bytes, parseSpecial: parseSpecial) {
                switch segment {
                case let .token(id):
                    output.append(id)
                    previousWasSpecial = true
                case let .text(range):
                    var piece: [UInt8] = addsSpacePrefix && previousWasSpecial ? Self.escapedSpaceBytes : []
                    for byte in bytes[range] {
                        if byte == 0x20 { piece.append(contentsOf: Self.escapedSpaceBytes) } else { piece.append(byte) }
                    }
                    encodePiece(piece, into: &output)
                    previousWasSpecial = false
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
        for id in ids { bytes.append(contentsOf: self.bytes(of: id)) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func specialTokenID(_ text: String) -> Int32? { specialIDsByText[text] }

    // MARK: Merging

    /// One symbol: a run of the piece's bytes, linked to its neighbours; merged-away symbols have length 0.
    private struct Symbol {
        var start: Int
        var length: Int
        var previous: Int
        var next: Int
    }

    /// A candidate merge: better when its score is higher, or equal and its left symbol comes first.
    private struct Bigram: Comparable {
        let score: Float
        let left: Int
        let right: Int
        let length: Int
        static func < (a: Bigram, b: Bigram) -> Bool { a.score < b.score || (a.score == b.score && a.left > b.left) }
    }

    // bytes: UTF-8 of the escaped text ("▁" for spaces) → output: its tokens appended
    private func encodePiece(_ bytes: [UInt8], into output: inout [Int32]) {
        guard !bytes.isEmpty else { return }
        var symbols: [Symbol] = []
        var offset = 0
        while offset < bytes.count {
            let length = min(Self.utf8Length(leadingByte: bytes[offset]), bytes.count - offset)
            symbols.append(Symbol(start: offset, length: length, previous: symbols.count - 1,
                                  next: offset + length == bytes.count ? -1 : symbols.count + 1))
            offset += length
        }
        func spelling(_ start: Int, _ length: Int) -> [UInt8] { Array(bytes[start..<(start + length)]) }
        var queue = MaxHeap<Bigram>()
        func addBigram(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let length = symbols[left].length + symbols[right].length
            guard let id = idsBySpelling[spelling(symbols[left].start, length)] else { return }
            queue.push(Bigram(score: scores[Int(id)], left: left, right: right, length: length))
        }
        for index in 1..<max(symbols.count, 1) { addBigram(index - 1, index) }
        while let bigram = queue.pop() {
            let left = symbols[bigram.left], right = symbols[bigram.right]
            // A symbol already merged since this pair was queued: stale.
            guard left.length > 0, right.length > 0, left.length + right.length == bigram.length else { continue }
            symbols[bigram.left].length += right.length
            symbols[bigram.right].length = 0
            symbols[bigram.left].next = right.next
            if right.next >= 0 { symbols[right.next].previous = bigram.left }
            addBigram(symbols[bigram.left].previous, bigram.left)
            addBigram(bigram.left, symbols[bigram.left].next)
        }
        var index = 0
        while index != -1 {
            let symbol = symbols[index]
            if let id = idsBySpelling[spelling(symbol.start, symbol.length)] {
                output.append(id)
            } else {
                // Only a single character can be left without a token (merges only make tokens): its bytes.
                for byte in bytes[symbol.start..<(symbol.start + symbol.length)] where byteTokens[Int(byte)] >= 0 {
                    output.append(byteTokens[Int(byte)])
                }
            }
            index = symbol.next
        }
    }

    /// llama.cpp's `unicode_len_utf8`: the length a leading byte announces (1 for a stray continuation byte).
    static func utf8Length(leadingByte byte: UInt8) -> Int {
        let lengths = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4]
        return lengths[Int(byte >> 4)]
    }
}

/// A binary max-heap.
struct MaxHeap<Element: Comparable> {
    private var elements: [Element] = []

    mutating func push(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard elements[parent] < elements[child] else { break }
            elements.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !elements.isEmpty else { return nil }
        elements.swapAt(0, elements.count - 1)
        let top = elements.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var largest = parent
            if left < elements.count, elements[largest] < elements[left] { largest = left }
            if right < elements.count, elements[largest] < elements[right] { largest = right }
            guard largest != parent else { break }
            elements.swapAt(parent, largest)
            parent = largest
        }
        return top
    }
}

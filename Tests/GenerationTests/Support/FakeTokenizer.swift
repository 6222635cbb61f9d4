import Tokenizers

/// A tiny byte-level vocabulary with the shapes that matter for streaming: multi-byte characters split across
/// tokens, a stop string split across tokens, special tokens.
final class FakeTokenizer: Tokenizer, @unchecked Sendable {
    static let endOfSequence: Int32 = 0
    static let imEnd: Int32 = 1
    /// Pieces by id. Ids 2...27 are "a"..."z".
    let pieces: [[UInt8]]

    init() {
        var pieces: [[UInt8]] = [Array("<eos>".utf8), Array("<|im_end|>".utf8)]
        pieces += (UInt8(ascii: "a")...UInt8(ascii: "z")).map { [$0] }
        pieces += [
            Array(" ".utf8), Array("\n".utf8), Array("```".utf8), Array("python".utf8),  // 28...31
            Array("é".utf8), [0xC3], [0xA9],  // 32: whole "é"; 33, 34: its two bytes alone
            [0xF0, 0x9F], [0x99, 0x82],  // 35, 36: "🙂" in two halves
            Array("STOP".utf8), Array("ST".utf8), Array("OP".utf8), Array("S".utf8), Array("TOP".utf8),  // 37...41
            Array("```\n".utf8), Array("output".utf8), [0xFF],  // 42...44 (44: never valid UTF-8)
        ]
        while pieces.count < 64 { pieces.append(Array("w\(pieces.count)".utf8)) }
        self.pieces = pieces
    }

    var vocabularySize: Int { pieces.count }
    var endOfSequenceIDs: Set<Int32> { [FakeTokenizer.endOfSequence, FakeTokenizer.imEnd] }
    var beginOfSequenceID: Int32? { nil }
    var addsBeginOfSequence: Bool { false }

    func bytes(of token: Int32) -> [UInt8] { pieces[Int(token)] }
    func decode(_ ids: [Int32]) -> String { String(decoding: ids.flatMap { pieces[Int($0)] }, as: UTF8.self) }
    func specialTokenID(_ text: String) -> Int32? { text == "<|im_end|>" ? FakeTokenizer.imEnd : nil }

    /// Greedy longest match over the pieces (good enough for test prompts).
    func encode(_ text: String, parseSpecial: Bool) -> [Int32] {
        var remaining = Array(text.utf8)[...]
        var ids: [Int32] = []
        while !remaining.isEmpty {
            var best: (id: Int, length: Int)?
            for (id, piece) in pieces.enumerated() where (parseSpecial || id > 1) && remaining.starts(with: piece) {
                if piece.count > (best?.length ?? 0) { best = (id, piece.count) }
            }
            guard let best else { break }
            ids.append(Int32(best.id))
            remaining = remaining.dropFirst(best.length)
        }
        return ids
    }

    func id(_ piece: String) -> Int32 { Int32(pieces.firstIndex(of: Array(piece.utf8))!) }
}

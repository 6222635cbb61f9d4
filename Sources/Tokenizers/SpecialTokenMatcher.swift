/// Finds added tokens written in text: leftmost match first, the longest one when several start at the same byte
/// (Hugging Face's added-vocabulary matching). Control tokens are matched only when the caller parses special
/// tokens; user-defined tokens (HF added tokens with `special: false`, GGUF token type 4) always are, as in both
/// reference implementations.
struct SpecialTokenMatcher: Sendable {
    struct Entry: Sendable {
        let bytes: [UInt8]
        let id: Int32
        let alwaysMatched: Bool
    }

    enum Segment {
        case text(Range<Int>)
        case token(Int32)
    }

    /// Entries by first byte, longest first.
    private let entriesByFirstByte: [[Entry]]
    let isEmpty: Bool

    init(_ entries: [Entry]) {
        var table = [[Entry]](repeating: [], count: 256)
        for entry in entries where !entry.bytes.isEmpty { table[Int(entry.bytes[0])].append(entry) }
        entriesByFirstByte = table.map { $0.sorted { $0.bytes.count > $1.bytes.count } }
        isEmpty = entries.isEmpty
    }

    func segments(of bytes: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Segment] {
        guard !isEmpty else { return [.text(0..<bytes.count)] }
        var segments: [Segment] = []
        var textStart = 0
        var position = 0
        while position < bytes.count {
            if let entry = match(in: bytes, at: position, parseSpecial: parseSpecial) {
                if textStart < position { segments.append(.text(textStart..<position)) }
                segments.append(.token(entry.id))
                position += entry.bytes.count
                textStart = position
            } else {
                position += 1
            }
        }
        if textStart < bytes.count { segments.append(.text(textStart..<bytes.count)) }
        return segments
    }

    private func match(in bytes: UnsafeBufferPointer<UInt8>, at position: Int, parseSpecial: Bool) -> Entry? {
        let candidates = entriesByFirstByte[Int(bytes[position])]
        guard !candidates.isEmpty else { return nil }
        for entry in candidates where (parseSpecial || entry.alwaysMatched) && entry.bytes.count <= bytes.count - position {
            var equal = true
            for offset in 1..<max(1, entry.bytes.count) where bytes[position + offset] != entry.bytes[offset] {
                equal = false
                break
            }
            if equal { return entry }
        }
        return nil
    }
}

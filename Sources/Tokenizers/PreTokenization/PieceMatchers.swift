/// Hand-written equivalents of the pre-tokenizer regular expressions. Each walks scalars[range] left to right and
/// at every position takes the first alternative of its pattern that matches, with the same greedy/backtracking
/// result the regex engines produce; the end of `range` is the end of the subject (pieces are matched
/// independently, as in llama.cpp and Hugging Face).
enum PieceMatchers {
    private static let apostrophe: UInt32 = 0x27
    private static let space: UInt32 = 0x20

    /// `\p{N}` scalars alone, the stretches between them as they are.
    static func isolateNumbers(_ text: ScalarText, _ range: Range<Int>, into pieces: inout [Range<Int>]) {
        var position = range.lowerBound
        while position < range.upperBound {
            if text.classes[position].contains(.number) {
                pieces.append(position..<(position + 1))
                position += 1
            } else {
                let start = position
                while position < range.upperBound, !text.classes[position].contains(.number) { position += 1 }
                pieces.append(start..<position)
            }
        }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    static func gpt2(_ text: ScalarText, _ range: Range<Int>, into pieces: inout [Range<Int>]) {
        let end = range.upperBound
        var position = range.lowerBound
        while position < end {
            let start = position
            let contraction = contractionLength(text, at: start, end: end, caseInsensitive: false, folding: .ascii)
            if contraction > 0 {
                position = start + contraction
            } else {
                // ` ?` before a letter, number or other run.
                let body = text.values[start] == space && start + 1 < end
                    && !text.classes[start + 1].contains(.whitespace) ? start + 1 : start
                let bodyClass = text.classes[body]
                if bodyClass.contains(.letter) {
                    position = run(of: .letter, in: text, from: body, end: end)
                } else if bodyClass.contains(.number) {
                    position = run(of: .number, in: text, from: body, end: end)
                } else if bodyClass.isOther {
                    position = otherRun(in: text, from: body, end: end)
                } else {
                    position = whitespaceNotBeforeNonSpace(text, from: start, end: end)
                }
            }
            pieces.append(start..<position)
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|`
    /// `\s*[\r\n]+|\s+(?!\S)|\s+`
    static func wordsAndNumbers(
        _ text: ScalarText, _ range: Range<Int>, maxDigits: Int, contractions: PreTokenizer.ContractionCase,
        into pieces: inout [Range<Int>]
    ) {
        let end = range.upperBound
        var position = range.lowerBound
        while position < end {
            let start = position
            let classes = text.classes[start]
            let contraction = contractionLength(text, at: start, end: end, caseInsensitive: true, folding: contractions)
            let prefixesWord = classes.isDisjoint(with: [.lineBreak, .letter, .number])
                && start + 1 < end && text.classes[start + 1].contains(.letter)
            if contraction > 0 {
                position = start + contraction
            } else if prefixesWord {
                position = run(of: .letter, in: text, from: start + 1, end: end)
            } else if classes.contains(.letter) {
                position = run(of: .letter, in: text, from: start, end: end)
            } else if classes.contains(.number) {
                position = start + 1
                while position < end, position - start < maxDigits, text.classes[position].contains(.number) { position += 1 }
            } else if let body = otherRunStart(text, at: start, end: end) {
                position = otherRun(in: text, from: body, end: end)
                while position < end, text.classes[position].contains(.lineBreak) { position += 1 }
            } else {
                // Whitespace. `\s*[\r\n]+` takes the run up to and including its last line break.
                let runEnd = run(of: .whitespace, in: text, from: start, end: end)
                var lastBreak = runEnd - 1
                while lastBreak >= start, !text.classes[lastBreak].contains(.lineBreak) { lastBreak -= 1 }
                position = lastBreak >= start ? lastBreak + 1 : whitespaceNotBeforeNonSpace(text, from: start, end: end)
            }
            pieces.append(start..<position)
        }
    }

    // MARK: shared pieces of the patterns

    /// `\s+(?!\S)|\s+` at a whitespace scalar: the run, less its last scalar when a non-space follows and the run
    /// is longer than one (that scalar then prefixes the next word).
    private static func whitespaceNotBeforeNonSpace(_ text: ScalarText, from start: Int, end: Int) -> Int {
        let runEnd = run(of: .whitespace, in: text, from: start, end: end)
        return runEnd < end && runEnd - start >= 2 ? runEnd - 1 : runEnd
    }

    private static func run(of kind: ScalarClass, in text: ScalarText, from start: Int, end: Int) -> Int {
        var position = start
        while position < end, text.classes[position].contains(kind) { position += 1 }
        return position
    }

    private static func otherRun(in text: ScalarText, from start: Int, end: Int) -> Int {
        var position = start
        while position < end, text.classes[position].isOther { position += 1 }
        return position
    }

    /// Where ` ?[^\s\p{L}\p{N}]+` starts its run, or nil when it does not match at `start`.
    private static func otherRunStart(_ text: ScalarText, at start: Int, end: Int) -> Int? {
        if text.classes[start].isOther { return start }
        if text.values[start] == space, start + 1 < end, text.classes[start + 1].isOther { return start + 1 }
        return nil
    }

    /// Length of `'s|'t|'re|'ve|'m|'ll|'d` at `start` (0: no match).
    private static func contractionLength(
        _ text: ScalarText, at start: Int, end: Int, caseInsensitive: Bool, folding: PreTokenizer.ContractionCase
    ) -> Int {
        guard text.values[start] == apostrophe, start + 1 < end else { return 0 }
        func matches(_ offset: Int, _ letter: Character) -> Bool {
            guard start + offset < end else { return false }
            let value = text.values[start + offset]
            let lower = UInt32(letter.asciiValue!)
            if value == lower { return true }
            guard caseInsensitive else { return false }
            if value == lower - 0x20 { return true }
            return folding == .unicodeSimpleFolding && letter == "s" && value == 0x17F
        }
        for letter: Character in ["s", "t", "m", "d"] where matches(1, letter) { return 2 }
        for pair: (Character, Character) in [("r", "e"), ("v", "e"), ("l", "l")] where matches(1, pair.0) && matches(2, pair.1) {
            return 3
        }
        return 0
    }
}

/// Finds the final answer in a model response: the content of the last `\boxed{}` / `\fbox{}` (braces nested),
/// else, when phrases are configured, the text after the last "final answer is"-style phrase.
struct AnswerExtractor: Sendable {
    var fallbackPhrases: [String]

    private static let boxCommands: [[UInt8]] = [Array("\\boxed".utf8), Array("\\fbox".utf8)]

    func extract(from response: String) -> String? {
        let bytes = Array(response.utf8)
        if let boxed = lastBoxContent(bytes) {
            return boxed.isEmpty ? nil : boxed
        }
        guard !fallbackPhrases.isEmpty else { return nil }
        let lowered = bytes.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        for phrase in fallbackPhrases {
            let needle = Array(phrase.lowercased().utf8)
            guard let start = lastIndex(of: needle, in: lowered) else { continue }
            if let answer = answerAfterPhrase(bytes, from: start + needle.count) { return answer }
        }
        return nil
    }

    private func lastBoxContent(_ bytes: [UInt8]) -> String? {
        var bestStart: Int?
        var bestCommandLength = 0
        for command in AnswerExtractor.boxCommands {
            if let start = lastIndex(of: command, in: bytes), start > (bestStart ?? -1) {
                bestStart = start
                bestCommandLength = command.count
            }
        }
        guard let commandStart = bestStart else { return nil }
        var index = commandStart + bestCommandLength
        while index < bytes.count && bytes[index] == UInt8(ascii: " ") { index += 1 }
        guard index < bytes.count else { return "" }
        if bytes[index] != UInt8(ascii: "{") {
            // `\boxed 5`: TeX takes one token; models mean everything up to the end of the math.
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "$"), bytes[index] != UInt8(ascii: "\n") {
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self).trimmingSpaces
        }
        var depth = 0
        let contentStart = index + 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"):
                index += 2
                continue
            case UInt8(ascii: "{"):
                depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 {
                    return String(decoding: bytes[contentStart..<index], as: UTF8.self).trimmingSpaces
                }
            default:
                break
            }
            index += 1
        }
        // An unclosed box (a truncated response) holds no answer.
        return ""
    }

    private func answerAfterPhrase(_ bytes: [UInt8], from start: Int) -> String? {
        var index = start
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: ":") {
            index += 1
        }
        var end = index
        if index < bytes.count && bytes[index] == UInt8(ascii: "$") {
            while index < bytes.count && bytes[index] == UInt8(ascii: "$") { index += 1 }
            end = index
            while end < bytes.count && bytes[end] != UInt8(ascii: "$") { end += 1 }
        } else {
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
        }
        var answer = String(decoding: bytes[index..<end], as: UTF8.self).trimmingSpaces
        for wrapper in ["\\(", "\\)", "\\[", "\\]"] { answer = answer.replacingAll(wrapper, with: "") }
        answer = answer.trimmingSpaces
        while answer.hasSuffix(".") { answer.removeLast() }
        return answer.isEmpty ? nil : answer
    }
}

/// The start of the last occurrence of `needle` in `haystack`.
func lastIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
    var start = haystack.count - needle.count
    while start >= 0 {
        if haystack[start] == needle[0] {
            var matches = true
            for offset in 1..<needle.count where haystack[start + offset] != needle[offset] {
                matches = false
                break
            }
            if matches { return start }
        }
        start -= 1
    }
    return nil
}

extension String {
    /// Literal replacement without Foundation's Unicode-aware (and slow) search.
    func replacingAll(_ target: String, with replacement: String) -> String {
        let source = Array(utf8)
        let pattern = Array(target.utf8)
        guard !pattern.isEmpty, source.count >= pattern.count else { return self }
        var output: [UInt8] = []
        output.reserveCapacity(source.count)
        var index = 0
        while index < source.count {
            if index + pattern.count <= source.count, source[index] == pattern[0],
               source[index..<(index + pattern.count)].elementsEqual(pattern) {
                output.append(contentsOf: replacement.utf8)
                index += pattern.count
            } else {
                output.append(source[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}

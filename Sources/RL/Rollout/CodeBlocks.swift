import Foundation

/// A complete fenced python block of a response.
struct PythonBlock: Equatable {
    /// The lines between the fences, joined with "\n".
    var code: String
    /// From the start of the opening fence line to the end of the closing fence's backticks (whatever follows
    /// them on that line is not code).
    var range: Range<String.Index>
}

/// Finds fenced code blocks line by line, as Markdown does: a fence is a line whose text (after indentation)
/// starts with ```` ``` ````. A block opened with the info string `python`, `python3` or `py` holds code; blocks
/// of other languages (e.g. an `output` block the model wrote itself) do not. Inside a block, any line
/// starting with ```` ``` ```` closes it: at a pause the fence line may still be incomplete.
enum CodeBlockScanner {
    static let pythonInfoStrings: Set<String> = ["python", "python3", "py"]

    static func pythonBlocks(in text: Substring) -> [PythonBlock] {
        enum State {
            case prose
            case python(start: String.Index, lines: [Substring])
            case otherBlock
        }
        var blocks: [PythonBlock] = []
        var state = State.prose
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let content = line.drop { $0 == " " || $0 == "\t" }
            let isFence = content.hasPrefix("```")
            switch state {
            case .prose:
                guard isFence else { continue }
                let info = content.dropFirst(3).trimmingCharacters(in: " \t\r").lowercased()
                state = pythonInfoStrings.contains(info) ? .python(start: line.startIndex, lines: []) : .otherBlock
            case .python(let start, var lines):
                if isFence {
                    let fenceEnd = content.index(content.startIndex, offsetBy: 3)
                    blocks.append(PythonBlock(code: lines.joined(separator: "\n"), range: start..<fenceEnd))
                    state = .prose
                } else {
                    lines.append(line)
                    state = .python(start: start, lines: lines)
                }
            case .otherBlock:
                if isFence { state = .prose }
            }
        }
        return blocks
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        let trimmedStart = drop { set.contains($0) }
        var end = trimmedStart.endIndex
        while end > trimmedStart.startIndex, set.contains(trimmedStart[trimmedStart.index(before: end)]) {
            end = trimmedStart.index(before: end)
        }
        return trimmedStart[..<end]
    }
}

extension ToolTrigger {
    /// The code a pause asks to run: with the block-close trigger, the block the fence just closed (a turn
    /// ends at its first closed block, so it is the only one); with the output marker, the last complete block
    /// before the marker. nil: the pause asks for nothing (a fence opening a block, a marker without code).
    func codeToRun(inTurn turn: Substring) -> String? {
        switch self {
        case .blockClose:
            return CodeBlockScanner.pythonBlocks(in: turn).last?.code
        case .outputMarker:
            guard let marker = turn.range(of: pauseString, options: .backwards) else { return nil }
            return CodeBlockScanner.pythonBlocks(in: turn[..<marker.lowerBound]).last?.code
        }
    }
}

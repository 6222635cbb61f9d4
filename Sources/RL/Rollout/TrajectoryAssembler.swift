import Generation
import Tokenizers

/// Builds the trajectory record of a finished sequence from its tokens, never from re-tokenized text.
struct TrajectoryAssembler {
    let tokenizer: Tokenizer
    let scorer: ResponseScorer

    func assemble(_ sequence: GeneratedSequence, key: TrajectoryKey, problem: Problem,
                  toolCalls: [ToolCallRecord]) -> Trajectory {
        let promptLength = sequence.prompt.count
        let response = sequence.response
        let segments = Self.segments(of: response, endsWithEndOfSequence: sequence.finishReason.isEndOfSequence,
                                     tokenizer: tokenizer)
        return make(key: key, problem: problem, text: sequence.text, tokenIDs: sequence.prompt + response.map(\.id),
                    promptLength: promptLength,
                    logprobs: Array(repeating: 0, count: promptLength) + response.map { $0.logprob ?? 0 },
                    lossMask: Array(repeating: 0, count: promptLength) + response.map { $0.isSampled ? 1 : 0 },
                    segments: segments, toolCalls: toolCalls, finishReason: sequence.finishReason?.code ?? "cancelled")
    }

    /// A trajectory that never ran: its prompt was over the limit.
    func unstarted(key: TrajectoryKey, problem: Problem, prompt: [Int32], finishReason: String) -> Trajectory {
        make(key: key, problem: problem, text: "", tokenIDs: prompt, promptLength: prompt.count,
             logprobs: Array(repeating: 0, count: prompt.count), lossMask: Array(repeating: 0, count: prompt.count),
             segments: [], toolCalls: [], finishReason: finishReason)
    }

    private func make(key: TrajectoryKey, problem: Problem, text: String, tokenIDs: [Int32], promptLength: Int,
                      logprobs: [Float], lossMask: [UInt8], segments: [TrajectorySegment],
                      toolCalls: [ToolCallRecord], finishReason: String) -> Trajectory {
        let score = scorer.score(text: text, reference: problem.answer, segments: segments, toolCalls: toolCalls)
        return Trajectory(
            problemID: problem.id, group: key.group, sample: key.sample, text: text, tokenIDs: tokenIDs,
            promptLength: promptLength, logprobs: logprobs, lossMask: lossMask, segments: segments,
            toolCalls: toolCalls, hasCode: segments.contains { $0.kind == .code },
            codeExecuted: !toolCalls.isEmpty && toolCalls.allSatisfy { $0.status == .ok },
            codeFailed: score.codeFailed, effectiveCode: score.effectiveCode, answer: score.grade.extracted,
            grade: score.grade, reward: score.reward, finishReason: finishReason)
    }

    /// Runs of sampled tokens (split into reasoning and python blocks) and runs of inserted tokens (output), each
    /// decoded from its own token bytes.
    static func segments(of response: [ResponseToken], endsWithEndOfSequence: Bool,
                         tokenizer: Tokenizer) -> [TrajectorySegment] {
        let textTokens = endsWithEndOfSequence ? response.dropLast() : response[...]
        var segments: [TrajectorySegment] = []
        var start = textTokens.startIndex
        while start < textTokens.endIndex {
            let sampled = textTokens[start].isSampled
            let end = textTokens[start...].firstIndex { $0.isSampled != sampled } ?? textTokens.endIndex
            let text = String(decoding: textTokens[start..<end].flatMap { tokenizer.bytes(of: $0.id) }, as: UTF8.self)
            if sampled {
                segments.append(contentsOf: splitSampled(text))
            } else {
                segments.append(TrajectorySegment(kind: .output, text: text))
            }
            start = end
        }
        return segments
    }

    private static func splitSampled(_ text: String) -> [TrajectorySegment] {
        var segments: [TrajectorySegment] = []
        var cursor = text.startIndex
        for block in CodeBlockScanner.pythonBlocks(in: text[...]) {
            if cursor < block.range.lowerBound {
                segments.append(TrajectorySegment(kind: .reasoning, text: String(text[cursor..<block.range.lowerBound])))
            }
            segments.append(TrajectorySegment(kind: .code, text: String(text[block.range])))
            cursor = block.range.upperBound
        }
        if cursor < text.endIndex {
            segments.append(TrajectorySegment(kind: .reasoning, text: String(text[cursor...])))
        }
        return segments
    }
}

private extension Optional where Wrapped == FinishReason {
    var isEndOfSequence: Bool {
        if case .endOfSequence = self { return true }
        return false
    }
}

/// The rows of one `forward` call: every step's tokens laid end to end, with the position of each row in its
/// sequence and the rows whose logits are wanted. Built only after every step has been checked, so a call that
/// fails changes no cache.
struct ForwardPlan {
    /// [T] token ids, step after step.
    var tokens: [Int32] = []
    /// [T] position of each row in its sequence.
    var positions: [Int] = []
    /// [T] index of the step each row belongs to.
    var rowStep: [Int] = []
    /// The rows of each step.
    var stepRows: [Range<Int>] = []
    /// Rows whose logits are returned, and which of them belong to each step.
    var logitRows: [Int] = []
    var rowRanges: [Range<Int>] = []

    /// steps[i] appends to a sequence already holding cachedLengths[i] tokens.
    init(steps: [ForwardStep], cachedLengths: [Int], configuration c: ModelConfiguration) throws {
        var seen = Set<SequenceID>()
        for (step, cached) in zip(steps, cachedLengths) {
            guard seen.insert(step.sequence).inserted else { throw ModelError.duplicateSequence(step.sequence) }
            guard !step.tokens.isEmpty else { throw ModelError.emptyStep(step.sequence) }
            if let bad = step.tokens.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
                throw ModelError.tokenOutOfRange(token: bad, vocabularySize: c.vocabularySize, sequence: step.sequence)
            }
            guard cached + step.tokens.count <= c.contextLength else {
                throw ModelError.contextOverflow(sequence: step.sequence, cached: cached,
                                                 adding: step.tokens.count, contextLength: c.contextLength)
            }
        }
        for (index, step) in steps.enumerated() {
            let start = cachedLengths[index]
            let firstRow = tokens.count
            tokens += step.tokens
            positions += (0..<step.tokens.count).map { start + $0 }
            rowStep += Array(repeating: index, count: step.tokens.count)
            stepRows.append(firstRow..<tokens.count)
            let wanted = step.logitsForAllTokens ? firstRow..<tokens.count : (tokens.count - 1)..<tokens.count
            rowRanges.append(logitRows.count..<(logitRows.count + wanted.count))
            logitRows += wanted
        }
    }
}

/// Activation buffers of a forward call, kept between calls and grown to the largest batch seen.
final class DecoderWorkspace {
    private(set) var rows = 0
    var residual: UnsafeMutablePointer<Float> = .allocate(capacity: 1)     // [T, C]
    var normalized: UnsafeMutablePointer<Float> = .allocate(capacity: 1)   // [T, C]
    var branch: UnsafeMutablePointer<Float> = .allocate(capacity: 1)       // [T, C]: a block's output before its post-norm
    var qkv: UnsafeMutablePointer<Float> = .allocate(capacity: 1)          // [T, Q + 2 KV]
    var attention: UnsafeMutablePointer<Float> = .allocate(capacity: 1)    // [T, Q]
    var gateUp: UnsafeMutablePointer<Float> = .allocate(capacity: 1)       // [T, 2 F]
    var hidden: UnsafeMutablePointer<Float> = .allocate(capacity: 1)       // [T, F]

    private var buffers: [UnsafeMutablePointer<Float>] { [residual, normalized, branch, qkv, attention, gateUp, hidden] }

    func reserve(rows T: Int, hidden C: Int, qkv QKV: Int, attention Q: Int, gateUp FF: Int) {
        guard T > rows else { return }
        for buffer in buffers { buffer.deallocate() }
        residual = .allocate(capacity: T * C)
        normalized = .allocate(capacity: T * C)
        branch = .allocate(capacity: T * C)
        qkv = .allocate(capacity: T * QKV)
        attention = .allocate(capacity: T * Q)
        gateUp = .allocate(capacity: T * FF)
        hidden = .allocate(capacity: T * FF / 2)
        rows = T
    }

    deinit { for buffer in buffers { buffer.deallocate() } }
}

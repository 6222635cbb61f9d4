import Tensors

/// Log-probability and entropy of each predicted token under softmax(logits / temperature).
public struct TokenStatistics: Sendable, Equatable {
    public var logProbabilities: [Float]
    public var entropies: [Float]
}

/// Receives, for the prediction rows `range` (indices into the caller's row list), their log-probabilities and
/// entropies, and writes dL/dlogp and dL/dentropy for the same rows.
public typealias TokenLossGradient = (_ range: Range<Int>, _ logProbabilities: UnsafeBufferPointer<Float>,
                                      _ entropies: UnsafeBufferPointer<Float>,
                                      _ dLogProbabilities: UnsafeMutableBufferPointer<Float>,
                                      _ dEntropies: UnsafeMutableBufferPointer<Float>) -> Void

extension TrainableTransformer {
    /// Most rows per head chunk: the [rows, vocabulary] logits of one chunk are the largest temporary of the step.
    public static let defaultHeadChunkRows = 128
    /// Most bytes of f32 logits one chunk may hold, whatever rows were asked for: 32 MiB is 32 rows of Gemma 3's
    /// 262,144-token vocabulary (a whole 16 × 1,024-token batch would need 16 GiB) and leaves SmolLM2's 49,152 at
    /// the 128-row default. Fewer rows per chunk only cost more passes over the head weight.
    public static let headChunkLogitBytes = 32 << 20

    /// The rows one chunk holds for a `vocabulary`-wide head when `requested` were asked for (at least 1).
    public static func headChunkRows(requested: Int, vocabulary: Int) -> Int {
        max(1, min(requested, headChunkLogitBytes / (MemoryLayout<Float>.size * max(vocabulary, 1))))
    }

    /// Statistics of the tokens predicted at `rows` (row r of the packed batch predicts token r + 1 of the same
    /// sequence), without gradients.
    public func tokenStatistics(_ pass: ForwardPass, rows: [Int], temperature: Float,
                                chunkRows: Int = defaultHeadChunkRows) throws -> TokenStatistics {
        try head(pass, rows: rows, temperature: temperature, chunkRows: chunkRows, lossGradient: nil)
    }

    /// Runs the head over `rows` in chunks, asks `lossGradient` for the per-token loss gradients, and
    /// back-propagates them through the whole model, accumulating (+=) into `gradients`. Consumes the pass.
    public func backward(_ pass: ForwardPass, rows: [Int], temperature: Float, chunkRows: Int = defaultHeadChunkRows,
                         lossGradient: TokenLossGradient) throws -> TokenStatistics {
        try withoutActuallyEscaping(lossGradient) {
            try head(pass, rows: rows, temperature: temperature, chunkRows: chunkRows, lossGradient: $0)
        }
    }

    private func head(_ pass: ForwardPass, rows: [Int], temperature: Float, chunkRows: Int,
                      lossGradient: TokenLossGradient?) throws -> TokenStatistics {
        guard temperature > 0, temperature.isFinite else {
            throw TrainingModelError.invalidConfiguration("temperature \(temperature) must be positive")
        }
        let batch = pass.batch
        var segmentEnd = [Int](repeating: 0, count: batch.count)
        for segment in batch.segments { for r in segment { segmentEnd[r] = segment.upperBound } }
        var targets = [Int32]()
        targets.reserveCapacity(rows.count)
        for row in rows {
            guard row >= 0, row + 1 < batch.count, row + 1 < segmentEnd[row] else {
                throw TrainingModelError.rowOutOfRange(row: row, tokenCount: batch.count)
            }
            targets.append(batch.tokens[row + 1])
        }
        let c = configuration
        let hidden = c.hiddenSize, vocabulary = c.vocabularySize
        let chunk = max(1, min(Self.headChunkRows(requested: chunkRows, vocabulary: vocabulary), rows.count))
        var statistics = TokenStatistics(logProbabilities: [Float](repeating: 0, count: rows.count),
                                         entropies: [Float](repeating: 0, count: rows.count))
        let gathered = FloatBuffer(count: chunk * hidden)
        let logits = FloatBuffer(count: chunk * vocabulary)
        let logSumExps = FloatBuffer(count: chunk)
        let dLogProbabilities = FloatBuffer(count: chunk)
        let dEntropies = FloatBuffer(count: chunk)
        let dGathered = FloatBuffer(count: chunk * hidden)
        let dFinalHidden = lossGradient == nil ? nil : FloatBuffer(count: batch.count * hidden)

        var start = 0
        while start < rows.count {
            let end = min(start + chunk, rows.count)
            let n = end - start
            for i in 0..<n {
                (gathered.pointer + i * hidden).update(from: pass.finalHidden.pointer + rows[start + i] * hidden,
                                                      count: hidden)
            }
            // logits: [n, vocabulary] = gathered · headᵀ
            headForward(logits: logits.pointer, x: gathered.pointer, rows: n)
            statistics.logProbabilities.withUnsafeMutableBufferPointer { logP in
                statistics.entropies.withUnsafeMutableBufferPointer { entropy in
                    targets.withUnsafeBufferPointer { target in
                        LogSoftmax.tokenStatistics(
                            logProbs: logP.baseAddress! + start, entropies: entropy.baseAddress! + start,
                            logSumExps: logSumExps.pointer, logits: logits.pointer, targets: target.baseAddress! + start,
                            rows: n, vocabulary: vocabulary, temperature: temperature)
                        guard let lossGradient, let dFinalHidden else { return }
                        dLogProbabilities.zero()
                        dEntropies.zero()
                        lossGradient(start..<end, UnsafeBufferPointer(rebasing: logP[start..<end]),
                                     UnsafeBufferPointer(rebasing: entropy[start..<end]),
                                     UnsafeMutableBufferPointer(start: dLogProbabilities.pointer, count: n),
                                     UnsafeMutableBufferPointer(start: dEntropies.pointer, count: n))
                        LogSoftmax.tokenStatisticsBackward(
                            logitsToGradients: logits.pointer, targets: target.baseAddress! + start,
                            logSumExps: logSumExps.pointer, entropies: entropy.baseAddress! + start,
                            dLogProbs: dLogProbabilities.pointer, dEntropies: dEntropies.pointer, rows: n,
                            vocabulary: vocabulary, temperature: temperature)
                        dGathered.zero()
                        headBackward(dx: dGathered.pointer, dLogits: logits.pointer, x: gathered.pointer, rows: n)
                        for i in 0..<n {
                            Residual.add(dFinalHidden.pointer + rows[start + i] * hidden, dGathered.pointer + i * hidden,
                                         count: hidden)
                        }
                    }
                }
            }
            start = end
        }
        if let dFinalHidden { backward(pass, dFinalHidden: dFinalHidden) }
        return statistics
    }
}

extension TrainableTransformer {
    /// Raw logits of the given rows of a forward pass: [rows.count, vocabulary]. For sampling and for comparing
    /// with the inference engine; the training path never materialises more than a chunk of these.
    public func logits(_ pass: ForwardPass, rows: [Int]) throws -> [Float] {
        let c = configuration
        for row in rows where row < 0 || row >= pass.batch.count {
            throw TrainingModelError.rowOutOfRange(row: row, tokenCount: pass.batch.count)
        }
        let gathered = FloatBuffer(count: max(rows.count, 1) * c.hiddenSize)
        for (i, row) in rows.enumerated() {
            (gathered.pointer + i * c.hiddenSize).update(from: pass.finalHidden.pointer + row * c.hiddenSize,
                                                          count: c.hiddenSize)
        }
        var result = [Float](repeating: 0, count: rows.count * c.vocabularySize)
        result.withUnsafeMutableBufferPointer { out in
            headForward(logits: out.baseAddress!, x: gathered.pointer, rows: rows.count)
        }
        return result
    }
}

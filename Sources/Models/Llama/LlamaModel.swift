import Foundation
import Tensors

/// A Llama-family decoder (Llama, Qwen2 = Llama with q/k/v biases) with a KV cache of many sequences.
/// Not thread-safe: one owner (the compute thread) calls it; the kernels inside use both cores.
public final class LlamaModel: InferenceModel {
    public let configuration: ModelConfiguration
    public let precision: WeightPrecision
    /// Where the weights came from (file or folder), for messages.
    public let source: String
    private var weights: LlamaWeights
    private var sequences: [SequenceID: SequenceCache] = [:]
    private var nextSequenceNumber = 0
    private let workspace = Workspace()

    /// A model from f32 parameters keyed by Hugging Face name (see `TensorNameTable`); names and shapes are
    /// checked, and missing or unused tensors are reported by name.
    public init(configuration: ModelConfiguration, tensors: [String: NamedTensor], precision: WeightPrecision = .f32,
                cacheFormat: KeyValueFormat? = nil, source: String = "tensors") throws {
        try configuration.validate(source: source)
        try TensorNameTable.validate(available: tensors.mapValues(\.shape), configuration: configuration,
                                     naming: { $0.name }, source: source)
        for (name, tensor) in tensors where tensor.values.count != tensor.shape.reduce(1, *) {
            throw ModelError.invalidConfiguration(source: source, detail: "tensor \(name) has \(tensor.values.count) values for shape \(tensor.shape)")
        }
        self.configuration = configuration
        self.precision = precision
        self.source = source
        self.cacheFormat = cacheFormat ?? (precision == .f32 ? .f32 : .f16)
        weights = LlamaWeights(configuration: configuration, tensors: tensors, precision: precision)
    }

    /// The parameters as f32 tensors keyed by Hugging Face name (for training and checkpoints).
    public func namedTensors() -> [String: NamedTensor] { weights.namedTensors(configuration: configuration) }

    /// Replaces every parameter (e.g. after a training step). Refused while sequences hold keys and values
    /// computed with the old weights.
    public func replaceWeights(_ tensors: [String: NamedTensor]) throws {
        guard sequences.isEmpty else { throw ModelError.sequencesStillCached(sequences.count) }
        try TensorNameTable.validate(available: tensors.mapValues(\.shape), configuration: configuration,
                                     naming: { $0.name }, source: "replacement weights")
        weights = LlamaWeights(configuration: configuration, tensors: tensors, precision: precision)
    }

    /// How sequences cache keys and values: by default f32 with f32 weights (exact against the f32 oracle), f16 with
    /// bf16 weights (half the bytes attention reads per decode step; SmolLM2OracleTests bounds the logit change).
    public let cacheFormat: KeyValueFormat

    /// Bytes of linear weights one decode step reads.
    public var linearWeightBytes: Int { weights.linearWeightBytes }

    // MARK: sequences

    public func makeSequence() throws -> SequenceID {
        let id = SequenceID(nextSequenceNumber)
        nextSequenceNumber += 1
        sequences[id] = SequenceCache(layerCount: configuration.layerCount,
                                      rowWidth: configuration.keyValueHeadCount * configuration.headDimension,
                                      format: cacheFormat, capacity: min(64, configuration.contextLength))
        return id
    }

    public func forkSequence(_ source: SequenceID) throws -> SequenceID {
        guard let cache = sequences[source] else { throw ModelError.unknownSequence(source) }
        let id = SequenceID(nextSequenceNumber)
        nextSequenceNumber += 1
        sequences[id] = cache.copy()
        return id
    }

    public func releaseSequence(_ sequence: SequenceID) { sequences[sequence] = nil }

    public func length(of sequence: SequenceID) -> Int { sequences[sequence]?.length ?? 0 }

    // MARK: forward

    public func forward(_ steps: [ForwardStep]) throws -> LogitsBatch {
        let c = configuration
        // Validate everything before touching any cache, so a failed call changes nothing.
        var caches: [SequenceCache] = []
        var seen = Set<SequenceID>()
        for step in steps {
            guard let cache = sequences[step.sequence] else { throw ModelError.unknownSequence(step.sequence) }
            guard seen.insert(step.sequence).inserted else { throw ModelError.duplicateSequence(step.sequence) }
            guard !step.tokens.isEmpty else { throw ModelError.emptyStep(step.sequence) }
            if let bad = step.tokens.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
                throw ModelError.tokenOutOfRange(token: bad, vocabularySize: c.vocabularySize, sequence: step.sequence)
            }
            guard cache.length + step.tokens.count <= c.contextLength else {
                throw ModelError.contextOverflow(sequence: step.sequence, cached: cache.length,
                                                 adding: step.tokens.count, contextLength: c.contextLength)
            }
            caches.append(cache)
        }

        // Row r of the batch: which step it came from and its position in that sequence.
        var tokens: [Int32] = [], positions: [Int] = [], rowStep: [Int] = []
        var logitRows: [Int] = [], rowRanges: [Range<Int>] = [], stepRows: [Range<Int>] = []
        for (index, step) in steps.enumerated() {
            let start = caches[index].length
            let firstRow = tokens.count
            tokens += step.tokens
            positions += (0..<step.tokens.count).map { start + $0 }
            rowStep += Array(repeating: index, count: step.tokens.count)
            stepRows.append(firstRow..<tokens.count)
            let wanted = step.logitsForAllTokens ? firstRow..<tokens.count : (tokens.count - 1)..<tokens.count
            rowRanges.append(logitRows.count..<(logitRows.count + wanted.count))
            logitRows += wanted
        }
        for (index, step) in steps.enumerated() {
            caches[index].reserve(caches[index].length + step.tokens.count, limit: c.contextLength)
        }

        let logits = runLayers(tokens: tokens, positions: positions, rowStep: rowStep, stepRows: stepRows, caches: caches,
                               logitRows: logitRows)
        for (index, step) in steps.enumerated() { caches[index].length += step.tokens.count }
        return LogitsBatch(values: logits, vocabularySize: c.vocabularySize, rowRanges: rowRanges)
    }

    /// The decoder over T rows; writes keys/values at `positions` of each row's cache and returns logits of
    /// `logitRows`: [logitRows.count, V].
    private func runLayers(tokens: [Int32], positions: [Int], rowStep: [Int], stepRows: [Range<Int>],
                           caches: [SequenceCache], logitRows: [Int]) -> [Float] {
        let c = configuration
        let T = tokens.count, C = c.hiddenSize, F = c.intermediateSize, D = c.headDimension
        let H = c.headCount, KVH = c.keyValueHeadCount
        let Q = H * D, KV = KVH * D, QKV = Q + 2 * KV
        let epsilon = Float(c.rmsNormEpsilon)
        let pairing: RoPE.Pairing = c.ropePairing == .halves ? .halves : .adjacent
        let ws = workspace
        ws.reserve(rows: T, hidden: C, qkv: QKV, attention: Q, gateUp: 2 * F)
        let x = ws.residual, xn = ws.normalized, qkv = ws.qkv, att = ws.attention, gu = ws.gateUp, h = ws.hidden

        let rotations = RoPE.Table(positions: positions, headDimension: D, theta: c.ropeTheta)
        tokens.withUnsafeBufferPointer { Embedding.forward(out: x, table: weights.embedding, tokens: $0.baseAddress!, rows: T, channels: C) }
        positions.withUnsafeBufferPointer { positions in
            for (l, layer) in weights.layers.enumerated() {
                // x: [T, C] → xn → qkv: [T, Q + 2 KV]
                let attentionNorm = layer.attentionNorm, mlpNorm = layer.mlpNorm
                ComputePool.parallelFor(T, grain: Self.rowGrain) { r in
                    RMSNorm.forward(out: xn + r.lowerBound * C, inp: x + r.lowerBound * C, weight: attentionNorm,
                                    rows: r.count, channels: C, epsilon: epsilon)
                }
                Linear.forward(out: qkv, inp: xn, weight: layer.qkv, bias: layer.qkvBias, rows: T)
                ComputePool.parallelFor(T, grain: Self.rowGrain) { r in
                    for t in r {
                        let row = qkv + t * QKV
                        // q and k heads are adjacent in the row, so one call rotates both.
                        RoPE.forward(row, table: rotations, row: t, heads: H + KVH, pairing: pairing)
                        caches[rowStep[t]].store(layer: l, position: positions[t], keys: row + Q, values: row + Q + KV)
                    }
                }
                // att: [T, Q], each row attending to its sequence's cache up to its own position.
                attention(layer: l, out: att, qkv: qkv, steps: stepRows, rowStep: rowStep, positions: positions, caches: caches)
                // x += att · Woᵀ
                Linear.forward(out: x, inp: att, weight: layer.attentionOutput, bias: nil, rows: T, accumulate: true)
                // x += swiglu(norm(x) · Wgateupᵀ) · Wdownᵀ
                ComputePool.parallelFor(T, grain: Self.rowGrain) { r in
                    RMSNorm.forward(out: xn + r.lowerBound * C, inp: x + r.lowerBound * C, weight: mlpNorm,
                                    rows: r.count, channels: C, epsilon: epsilon)
                }
                Linear.forward(out: gu, inp: xn, weight: layer.gateUp, bias: nil, rows: T)
                ComputePool.parallelFor(T, grain: Self.rowGrain) { r in
                    SwiGLU.forward(out: h + r.lowerBound * F, gateUp: gu + r.lowerBound * 2 * F, rows: r.count, features: F)
                }
                Linear.forward(out: x, inp: h, weight: layer.down, bias: nil, rows: T, accumulate: true)
            }
        }
        // Final norm and head on the requested rows only: selected: [R, C] → logits: [R, V]
        let R = logitRows.count, V = c.vocabularySize
        for (i, row) in logitRows.enumerated() { (xn + i * C).update(from: x + row * C, count: C) }
        RMSNorm.forward(out: xn, inp: xn, weight: weights.finalNorm, rows: R, channels: C, epsilon: epsilon)
        return [Float](unsafeUninitializedCapacity: R * V) { buffer, initialized in
            Linear.forward(out: buffer.baseAddress!, inp: xn, weight: weights.head, bias: nil, rows: R)
            initialized = R * V
        }
    }
}

extension LlamaModel {
    /// Row-wise kernels (norms, RoPE, SwiGLU) split across threads in chunks of at least this many rows.
    static let rowGrain = 8
    /// Steps with at least this many new tokens run attention as GEMMs per head; shorter ones row by row.
    static let blockAttentionMinimumRows = 4

    /// out: [T, Q] ← the q part of qkv: [T, Q + 2 KV] against each step's cache (keys/values already written).
    /// steps: the rows of each step (step i uses caches[i]); rowStep: [T] the step of each row; positions: [T].
    fileprivate func attention(layer l: Int, out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
                               steps: [Range<Int>], rowStep: [Int], positions: UnsafeBufferPointer<Int>,
                               caches: [SequenceCache]) {
        let c = configuration
        let H = c.headCount, KVH = c.keyValueHeadCount, D = c.headDimension
        let Q = H * D, KV = KVH * D, QKV = Q + 2 * KV, group = H / KVH
        let blockSteps = steps.indices.filter { steps[$0].count >= Self.blockAttentionMinimumRows }
        let rowSteps = steps.indices.filter { steps[$0].count < Self.blockAttentionMinimumRows }
        ComputePool.parallelFor(blockSteps.count * H) { jobs in
            for job in jobs {
                let step = blockSteps[job / H], h = job % H, rows = steps[step]
                let cache = caches[step], kvOffset = (h / group) * D * cache.format.bytesPerElement
                Attention.forwardBlock(out: out + rows.lowerBound * Q + h * D, outStride: Q,
                                       query: qkv + rows.lowerBound * QKV + h * D, queryStride: QKV,
                                       keys: cache.keys(l) + kvOffset, values: cache.values(l) + kvOffset,
                                       format: cache.format, kvStride: KV, start: positions[rows.lowerBound],
                                       rows: rows.count, headDimension: D)
            }
        }
        let rows = rowSteps.flatMap { Array(steps[$0]) }
        // Scratch for the longest row of this call, not the whole context: a context-sized block (128 KiB at 4 heads
        // × 8192) reaches malloc's mmap threshold, and every task of every layer would map and fault it anew.
        let longest = rows.map { positions[$0] + 1 }.max() ?? 1
        ComputePool.parallelFor(rows.count * H, grain: 2) { items in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: Attention.scoreScratchCount(length: longest))
            defer { scores.deallocate() }
            var item = items.lowerBound
            while item < items.upperBound {
                let t = rows[item / H], firstHead = item % H
                let lastHead = min(H, firstHead + (items.upperBound - item))
                let cache = caches[rowStep[t]]
                Attention.forwardRow(out: out + t * Q, query: qkv + t * QKV, keys: cache.keys(l), values: cache.values(l),
                                     format: cache.format, length: positions[t] + 1, heads: H, keyValueHeads: KVH, headDimension: D,
                                     scores: scores, heads: firstHead..<lastHead)
                item += lastHead - firstHead
            }
        }
    }
}

/// Activation buffers of a forward call, kept between calls and grown to the largest batch seen.
private final class Workspace {
    private(set) var rows = 0
    var residual: UnsafeMutablePointer<Float> = .allocate(capacity: 1)     // [T, C]
    var normalized: UnsafeMutablePointer<Float> = .allocate(capacity: 1)   // [T, C]
    var qkv: UnsafeMutablePointer<Float> = .allocate(capacity: 1)          // [T, Q + 2 KV]
    var attention: UnsafeMutablePointer<Float> = .allocate(capacity: 1)    // [T, Q]
    var gateUp: UnsafeMutablePointer<Float> = .allocate(capacity: 1)       // [T, 2 F]
    var hidden: UnsafeMutablePointer<Float> = .allocate(capacity: 1)       // [T, F]

    func reserve(rows T: Int, hidden C: Int, qkv QKV: Int, attention Q: Int, gateUp FF: Int) {
        guard T > rows else { return }
        for buffer in [residual, normalized, qkv, attention, gateUp, hidden] { buffer.deallocate() }
        residual = .allocate(capacity: T * C)
        normalized = .allocate(capacity: T * C)
        qkv = .allocate(capacity: T * QKV)
        attention = .allocate(capacity: T * Q)
        gateUp = .allocate(capacity: T * FF)
        hidden = .allocate(capacity: T * FF / 2)
        rows = T
    }

    deinit { for buffer in [residual, normalized, qkv, attention, gateUp, hidden] { buffer.deallocate() } }
}

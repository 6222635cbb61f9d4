import Foundation
import Tensors

/// A Gemma 3 decoder with a KV cache of many sequences. Per layer: RMSNorm → q/k/v, per-head RMSNorm of q and k,
/// NeoX RoPE (base `ropeTheta` on global layers, `localRopeTheta` on sliding-window ones) → attention → RMSNorm →
/// residual add; RMSNorm → GeGLU MLP → RMSNorm → residual add. Embeddings are scaled by sqrt(width), the output head
/// is the embedding, and every norm multiplies by 1 + w (llama.cpp's gemma3 graph, transformers' Gemma3TextModel).
///
/// Sliding-window layers keep at most `slidingWindow` keys per sequence, in a ring: position p lives in row
/// p mod window. Not thread-safe: one owner (the compute thread) calls it; the kernels inside use both cores.
public final class Gemma3Model: TransformerModel {
    public let configuration: ModelConfiguration
    public let precision: WeightPrecision
    public let source: String
    /// f32 with f32 weights (exact against the f32 oracle), f16 otherwise, as `LlamaModel`.
    public let cacheFormat: KeyValueFormat
    private(set) var weights: Gemma3Weights
    private var sequences = SequenceTable<Gemma3Cache>()
    private let workspace = DecoderWorkspace()
    /// Keys a sliding-window layer sees (its own position included).
    private let window: Int
    /// Index of each layer among the layers of its kind (global or sliding-window): its layer in that cache.
    private let cacheSlot: [Int]
    private let windowLayerCount: Int

    public init(configuration: ModelConfiguration, tensors: [String: NamedTensor], precision: WeightPrecision = .f32,
                cacheFormat: KeyValueFormat? = nil, source: String = "tensors") throws {
        try configuration.validate(source: source)
        guard configuration.architecture == .gemma3, let window = configuration.slidingWindow else {
            throw ModelError.invalidConfiguration(source: source, detail: "Gemma3Model runs Gemma 3, not \(configuration.architecture.rawValue)")
        }
        try TensorNameTable.validate(tensors: tensors, configuration: configuration, source: source)
        self.configuration = configuration
        self.precision = precision
        self.source = source
        self.cacheFormat = cacheFormat ?? (precision == .f32 ? .f32 : .f16)
        self.window = window
        var slots: [Int] = [], windowed = 0, global = 0
        for l in 0..<configuration.layerCount {
            if configuration.isSlidingWindowLayer(l) { slots.append(windowed); windowed += 1 } else { slots.append(global); global += 1 }
        }
        cacheSlot = slots
        windowLayerCount = windowed
        weights = Gemma3Weights(configuration: configuration, tensors: tensors, precision: precision)
    }

    public func namedTensors() -> [String: NamedTensor] { weights.namedTensors(configuration: configuration) }

    public func replaceWeights(_ tensors: [String: NamedTensor]) throws {
        guard sequences.count == 0 else { throw ModelError.sequencesStillCached(sequences.count) }
        try TensorNameTable.validate(tensors: tensors, configuration: configuration, source: "replacement weights")
        weights = Gemma3Weights(configuration: configuration, tensors: tensors, precision: precision)
    }

    public var linearWeightBytes: Int { weights.linearWeightBytes }

    /// LoRA adapters added at run time (see `LlamaModel.adapters`).
    public private(set) var adapters: LoRAAdapters?

    public func setAdapters(_ adapters: LoRAAdapters?) throws {
        guard sequences.count == 0 else { throw ModelError.sequencesStillCached(sequences.count) }
        try Self.checkAdapters(adapters, for: configuration)
        self.adapters = adapters
    }

    // MARK: sequences

    public func makeSequence() throws -> SequenceID {
        let c = configuration
        let rowWidth = c.keyValueHeadCount * c.headDimension
        return sequences.add(Gemma3Cache(
            global: SequenceCache(layerCount: c.layerCount - windowLayerCount, rowWidth: rowWidth, format: cacheFormat,
                                  capacity: min(64, c.contextLength)),
            windowed: SequenceCache(layerCount: windowLayerCount, rowWidth: rowWidth, format: cacheFormat,
                                    capacity: min(64, window))))
    }

    public func forkSequence(_ source: SequenceID) throws -> SequenceID { try sequences.fork(source) }

    public func releaseSequence(_ sequence: SequenceID) { sequences.release(sequence) }

    public func length(of sequence: SequenceID) -> Int { sequences.length(of: sequence) }

    // MARK: forward

    public func forward(_ steps: [ForwardStep]) throws -> LogitsBatch {
        let c = configuration
        // Validate everything before touching any cache, so a failed call changes nothing.
        let caches = try steps.map { try sequences.cache(of: $0.sequence) }
        let plan = try ForwardPlan(steps: steps, cachedLengths: caches.map(\.length), configuration: c)
        for (cache, step) in zip(caches, steps) {
            let total = cache.length + step.tokens.count
            cache.global.reserve(total, limit: c.contextLength)
            cache.windowed.reserve(min(total, window), limit: window)
        }
        let logits = runLayers(plan, caches: caches)
        for (cache, step) in zip(caches, steps) {
            cache.length += step.tokens.count
            cache.global.length = cache.length
            cache.windowed.length = min(cache.length, window)
        }
        return LogitsBatch(values: logits, vocabularySize: c.vocabularySize, rowRanges: plan.rowRanges)
    }

    /// The decoder over the T rows of `plan`; writes keys/values of each row into its sequence's caches and
    /// returns the logits of `plan.logitRows`: [logitRows.count, V].
    private func runLayers(_ plan: ForwardPlan, caches: [Gemma3Cache]) -> [Float] {
        let c = configuration
        let T = plan.tokens.count, C = c.hiddenSize, F = c.intermediateSize, D = c.headDimension
        let H = c.headCount, KVH = c.keyValueHeadCount
        let shape = CachedAttention.Shape(heads: H, keyValueHeads: KVH, headDimension: D)
        let Q = shape.queryWidth, KV = shape.keyValueWidth, QKV = shape.qkvWidth
        let epsilon = Float(c.rmsNormEpsilon)
        let ws = workspace
        ws.reserve(rows: T, hidden: C, qkv: QKV, attention: Q, gateUp: 2 * F)
        let x = ws.residual, xn = ws.normalized, branch = ws.branch, qkv = ws.qkv, att = ws.attention
        let gu = ws.gateUp, h = ws.hidden
        let rowStep = plan.rowStep, stepRows = plan.stepRows, window = window
        // The attention kernels divide scores by sqrt(D); Gemma divides by sqrt(query_pre_attn_scalar).
        let queryScale = Float((Double(D) / (c.queryPreAttentionScalar ?? Double(D))).squareRoot())
        let globalRotations = RoPE.Table(positions: plan.positions, headDimension: D, theta: c.ropeTheta)
        let localRotations = RoPE.Table(positions: plan.positions, headDimension: D, theta: c.localRopeTheta ?? c.ropeTheta)
        // Sliding-window steps of one token attend to the ring in place; longer ones gather their window first.
        let singleRowSteps = Set(stepRows.indices.filter { stepRows[$0].count == 1 })

        plan.tokens.withUnsafeBufferPointer { Embedding.forward(out: x, table: weights.embedding, tokens: $0.baseAddress!, rows: T, channels: C) }
        let embeddingScale = Float(C).squareRoot()
        for i in 0..<(T * C) { x[i] *= embeddingScale }

        plan.positions.withUnsafeBufferPointer { positions in
            for (l, layer) in weights.layers.enumerated() {
                let windowed = c.isSlidingWindowLayer(l), slot = cacheSlot[l]
                let rotations = windowed ? localRotations : globalRotations
                Self.normalizeRows(out: xn, inp: x, weight: layer.attentionNorm, rows: T, channels: C, epsilon: epsilon)
                // qkv: [T, Q + 2 KV]; q and k heads normalized, rotated; q scaled; then keys/values cached.
                Linear.forward(out: qkv, inp: xn, weight: layer.qkv, bias: nil, rows: T)
                adapters?.addAttentionInputs(layer: l, x: xn, rows: T, qkv: qkv)
                let queryNorm = layer.queryNorm, keyNorm = layer.keyNorm
                ComputePool.parallelFor(T, grain: LlamaModel.rowGrain) { r in
                    for t in r {
                        let row = qkv + t * QKV
                        RMSNorm.forward(out: row, inp: row, weight: queryNorm, rows: H, channels: D, epsilon: epsilon)
                        RMSNorm.forward(out: row + Q, inp: row + Q, weight: keyNorm, rows: KVH, channels: D, epsilon: epsilon)
                        RoPE.forward(row, table: rotations, row: t, heads: H + KVH, pairing: .halves)
                        if queryScale != 1 { for i in 0..<Q { row[i] *= queryScale } }
                        if !windowed {
                            caches[rowStep[t]].global.store(layer: slot, position: positions[t], keys: row + Q, values: row + Q + KV)
                        } else if singleRowSteps.contains(rowStep[t]) {
                            caches[rowStep[t]].windowed.store(layer: slot, position: positions[t] % window,
                                                              keys: row + Q, values: row + Q + KV)
                        }
                    }
                }
                // att: [T, Q]
                if windowed {
                    let rows = singleRowSteps.sorted().map { stepRows[$0].lowerBound }
                    CachedAttention.rows(shape, cacheLayer: slot, out: att, qkv: qkv, rows: rows, rowStep: rowStep,
                                         caches: caches.map(\.windowed), length: { min(positions[$0] + 1, window) })
                    for step in stepRows.indices where !singleRowSteps.contains(step) {
                        windowedBlock(shape, slot: slot, out: att, qkv: qkv, rows: stepRows[step],
                                      start: positions[stepRows[step].lowerBound], cache: caches[step].windowed)
                    }
                } else {
                    let blockSteps = stepRows.indices.filter { stepRows[$0].count >= LlamaModel.blockAttentionMinimumRows }
                    let rowSteps = stepRows.indices.filter { stepRows[$0].count < LlamaModel.blockAttentionMinimumRows }
                    let globalCaches = caches.map(\.global)
                    CachedAttention.blocks(shape, cacheLayer: slot, out: att, qkv: qkv, steps: stepRows, which: blockSteps,
                                           positions: positions, caches: globalCaches)
                    CachedAttention.rows(shape, cacheLayer: slot, out: att, qkv: qkv, rows: rowSteps.flatMap { Array(stepRows[$0]) },
                                         rowStep: rowStep, caches: globalCaches, length: { positions[$0] + 1 })
                }
                // x += norm(att · Woᵀ)
                Linear.forward(out: branch, inp: att, weight: layer.attentionOutput, bias: nil, rows: T)
                adapters?.addLowRank(layer: l, target: .o, x: att, rows: T, y: branch, ldy: C)
                Self.addNormalized(into: x, branch: branch, weight: layer.postAttentionNorm, rows: T, channels: C, epsilon: epsilon)
                // x += norm(geglu(norm(x) · Wgateupᵀ) · Wdownᵀ)
                Self.normalizeRows(out: xn, inp: x, weight: layer.mlpNorm, rows: T, channels: C, epsilon: epsilon)
                Linear.forward(out: gu, inp: xn, weight: layer.gateUp, bias: nil, rows: T)
                adapters?.addGateUp(layer: l, x: xn, rows: T, gateUp: gu)
                ComputePool.parallelFor(T, grain: LlamaModel.rowGrain) { r in
                    GeGLU.forward(out: h + r.lowerBound * F, gateUp: gu + r.lowerBound * 2 * F, rows: r.count, features: F)
                }
                Linear.forward(out: branch, inp: h, weight: layer.down, bias: nil, rows: T)
                adapters?.addLowRank(layer: l, target: .down, x: h, rows: T, y: branch, ldy: C)
                Self.addNormalized(into: x, branch: branch, weight: layer.postMLPNorm, rows: T, channels: C, epsilon: epsilon)
            }
        }
        // Final norm and head on the requested rows only: selected: [R, C] → logits: [R, V]
        let R = plan.logitRows.count, V = c.vocabularySize
        for (i, row) in plan.logitRows.enumerated() { (xn + i * C).update(from: x + row * C, count: C) }
        RMSNorm.forward(out: xn, inp: xn, weight: weights.finalNorm, rows: R, channels: C, epsilon: epsilon)
        return [Float](unsafeUninitializedCapacity: R * V) { buffer, initialized in
            Linear.forward(out: buffer.baseAddress!, inp: xn, weight: weights.head, bias: nil, rows: R)
            initialized = R * V
        }
    }

    /// out: [T, C] ← RMSNorm of inp: [T, C] rows, split across the pool.
    private static func normalizeRows(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: [Float],
                                      rows T: Int, channels C: Int, epsilon: Float) {
        ComputePool.parallelFor(T, grain: LlamaModel.rowGrain) { r in
            RMSNorm.forward(out: out + r.lowerBound * C, inp: inp + r.lowerBound * C, weight: weight,
                            rows: r.count, channels: C, epsilon: epsilon)
        }
    }

    /// x: [T, C] += RMSNorm(branch: [T, C]) (branch is overwritten).
    private static func addNormalized(into x: UnsafeMutablePointer<Float>, branch: UnsafeMutablePointer<Float>, weight: [Float],
                                      rows T: Int, channels C: Int, epsilon: Float) {
        ComputePool.parallelFor(T, grain: LlamaModel.rowGrain) { r in
            let start = r.lowerBound * C
            RMSNorm.forward(out: branch + start, inp: branch + start, weight: weight, rows: r.count, channels: C, epsilon: epsilon)
            for i in start..<(r.upperBound * C) { x[i] += branch[i] }
        }
    }

    /// Sliding-window attention of a step of several rows (positions start ..< start + n) whose keys and values are
    /// not yet in the ring: the window before `start` is read from the ring and the new rows from qkv (rounded
    /// through the cache format, as a decode step would read them), all in position order in f32 scratch; then
    /// the new rows are written to the ring (only the last `window` of them survive).
    private func windowedBlock(_ s: CachedAttention.Shape, slot: Int, out: UnsafeMutablePointer<Float>,
                               qkv: UnsafePointer<Float>, rows: Range<Int>, start: Int, cache: SequenceCache) {
        let D = s.headDimension, H = s.heads, Q = s.queryWidth, KV = s.keyValueWidth, QKV = s.qkvWidth
        let n = rows.count, oldest = max(0, start - (window - 1)), old = start - oldest, L = old + n
        let format = cache.format, rowBytes = KV * format.bytesPerElement, window = window
        // keys, values: [L, KV] f32, row i at position oldest + i
        let keys = UnsafeMutablePointer<Float>.allocate(capacity: 2 * L * KV)
        defer { keys.deallocate() }
        let values = keys + L * KV
        for i in 0..<old {
            let ringRow = (oldest + i) % window
            format.load(cache.keys(slot) + ringRow * rowBytes, to: keys + i * KV, count: KV)
            format.load(cache.values(slot) + ringRow * rowBytes, to: values + i * KV, count: KV)
        }
        let rounding = UnsafeMutableRawPointer.allocate(byteCount: rowBytes, alignment: 64)
        defer { rounding.deallocate() }
        for i in 0..<n {
            let row = qkv + (rows.lowerBound + i) * QKV
            format.store(row + Q, to: rounding, count: KV)
            format.load(rounding, to: keys + (old + i) * KV, count: KV)
            format.store(row + Q + KV, to: rounding, count: KV)
            format.load(rounding, to: values + (old + i) * KV, count: KV)
        }
        ComputePool.parallelFor(H) { heads in
            for h in heads {
                let kvOffset = (h / s.group) * D
                Attention.forwardBlock(out: out + rows.lowerBound * Q + h * D, outStride: Q,
                                       query: qkv + rows.lowerBound * QKV + h * D, queryStride: QKV,
                                       keys: UnsafeRawPointer(keys + kvOffset), values: UnsafeRawPointer(values + kvOffset),
                                       format: .f32, kvStride: KV, start: old, rows: n, headDimension: D, window: window)
            }
        }
        for i in max(0, n - window)..<n {
            let row = qkv + (rows.lowerBound + i) * QKV
            cache.store(layer: slot, position: (start + i) % window, keys: row + Q, values: row + Q + KV)
        }
    }
}

/// The caches of one Gemma 3 sequence: global layers keep every position; sliding-window layers a ring of at
/// most `window` rows (`windowed.length` is the number of filled rows).
final class Gemma3Cache {
    let global: SequenceCache
    let windowed: SequenceCache
    /// Tokens in the sequence.
    var length = 0

    init(global: SequenceCache, windowed: SequenceCache) {
        self.global = global
        self.windowed = windowed
    }

    func copy() -> Gemma3Cache {
        let clone = Gemma3Cache(global: global.copy(), windowed: windowed.copy())
        clone.length = length
        return clone
    }
}

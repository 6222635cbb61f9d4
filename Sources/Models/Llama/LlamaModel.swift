import Foundation
import Tensors

/// A Llama-family decoder (Llama, Qwen2 = Llama with q/k/v biases) with a KV cache of many sequences.
/// Not thread-safe: one owner (the compute thread) calls it; the kernels inside use both cores.
public final class LlamaModel: InferenceModel {
    public let configuration: ModelConfiguration
    public let precision: WeightPrecision
    /// Where the weights came from (file or folder), for messages.
    public let source: String
    private(set) var weights: LlamaWeights
    private var sequences = SequenceTable<SequenceCache>()
    private let workspace = DecoderWorkspace()

    /// A model from f32 parameters keyed by Hugging Face name (see `TensorNameTable`); names and shapes are
    /// checked, and missing or unused tensors are reported by name.
    public init(configuration: ModelConfiguration, tensors: [String: NamedTensor], precision: WeightPrecision = .f32,
                cacheFormat: KeyValueFormat? = nil, source: String = "tensors") throws {
        try configuration.validate(source: source)
        guard configuration.architecture != .gemma3 else {
            throw ModelError.invalidConfiguration(source: source, detail: "Gemma 3 runs on Gemma3Model, not LlamaModel")
        }
        try TensorNameTable.validate(tensors: tensors, configuration: configuration, source: source)
        self.configuration = configuration
        self.precision = precision
        self.source = source
        self.cacheFormat = cacheFormat ?? (precision == .f32 ? .f32 : .f16)
        weights = LlamaWeights(configuration: configuration, tensors: tensors, precision: precision)
    }

    /// A randomly initialised model of `configuration` (benchmarks of real model sizes without a download):
    /// matrices uniform with standard deviation `standardDeviation`, norms 1, biases 0, generated one tensor at a
    /// time from `seed` so that only the `precision` copy is ever whole.
    public convenience init(randomWith configuration: ModelConfiguration, precision: WeightPrecision, seed: UInt64,
                            standardDeviation: Float = 0.02) throws {
        try configuration.validate(source: "random model")
        var generator = SeededGenerator(seed: seed)
        let shapes = Dictionary(uniqueKeysWithValues: TensorNameTable.parameters(for: configuration).map { ($0.name, $0.shape) })
        let bound = Double(standardDeviation) * 3.0.squareRoot()
        let weights = LlamaWeights(configuration: configuration, tensor: { name in
            let shape = shapes[name]!, count = shape.reduce(1, *)
            if shape.count == 1 {
                return NamedTensor(shape: shape, values: [Float](repeating: name.hasSuffix(".bias") ? 0 : 1, count: count))
            }
            return NamedTensor(shape: shape, values: (0..<count).map { _ in Float((2 * generator.nextUnitFloat() - 1) * bound) })
        }, precision: precision)
        try self.init(configuration: configuration, weights: weights, precision: precision, source: "random \(precision.rawValue) model")
    }

    private init(configuration: ModelConfiguration, weights: LlamaWeights, precision: WeightPrecision, source: String) throws {
        guard configuration.architecture != .gemma3 else {
            throw ModelError.invalidConfiguration(source: source, detail: "Gemma 3 runs on Gemma3Model, not LlamaModel")
        }
        self.configuration = configuration
        self.precision = precision
        self.source = source
        cacheFormat = precision == .f32 ? .f32 : .f16
        self.weights = weights
    }

    /// The parameters as f32 tensors keyed by Hugging Face name (for training and checkpoints).
    public func namedTensors() -> [String: NamedTensor] { weights.namedTensors(configuration: configuration) }

    /// Replaces every parameter (e.g. after a training step). Refused while sequences hold keys and values
    /// computed with the old weights.
    public func replaceWeights(_ tensors: [String: NamedTensor]) throws {
        guard sequences.count == 0 else { throw ModelError.sequencesStillCached(sequences.count) }
        try TensorNameTable.validate(available: tensors.mapValues(\.shape), configuration: configuration,
                                     naming: { $0.name }, source: "replacement weights")
        weights = LlamaWeights(configuration: configuration, tensors: tensors, precision: precision)
    }

    /// LoRA adapters added at run time to the base weights (which stay as loaded, in `precision`), or nil.
    public private(set) var adapters: LoRAAdapters?

    /// Sets (or with nil removes) the run-time LoRA adapters. Refused while sequences hold keys and values computed
    /// without them, and for adapters of another model shape.
    public func setAdapters(_ adapters: LoRAAdapters?) throws {
        guard sequences.count == 0 else { throw ModelError.sequencesStillCached(sequences.count) }
        try Self.checkAdapters(adapters, for: configuration)
        self.adapters = adapters
    }

    /// How sequences cache keys and values: by default f32 with f32 weights (exact against the f32 oracle), f16 with
    /// bf16 weights (half the bytes attention reads per decode step; SmolLM2OracleTests bounds the logit change).
    public let cacheFormat: KeyValueFormat

    /// Bytes of linear weights one decode step reads.
    public var linearWeightBytes: Int { weights.linearWeightBytes }

    // MARK: sequences

    public func makeSequence() throws -> SequenceID {
        sequences.add(SequenceCache(layerCount: configuration.layerCount,
                                    rowWidth: configuration.keyValueHeadCount * configuration.headDimension,
                                    format: cacheFormat, capacity: min(64, configuration.contextLength)))
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
        let (tokens, positions, rowStep, stepRows, logitRows, rowRanges) =
            (plan.tokens, plan.positions, plan.rowStep, plan.stepRows, plan.logitRows, plan.rowRanges)
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
                adapters?.addAttentionInputs(layer: l, x: xn, rows: T, qkv: qkv)
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
                adapters?.addLowRank(layer: l, target: .o, x: att, rows: T, y: x, ldy: C)
                // x += swiglu(norm(x) · Wgateupᵀ) · Wdownᵀ
                ComputePool.parallelFor(T, grain: Self.rowGrain) { r in
                    RMSNorm.forward(out: xn + r.lowerBound * C, inp: x + r.lowerBound * C, weight: mlpNorm,
                                    rows: r.count, channels: C, epsilon: epsilon)
                }
                Linear.forward(out: gu, inp: xn, weight: layer.gateUp, bias: nil, rows: T)
                adapters?.addGateUp(layer: l, x: xn, rows: T, gateUp: gu)
                ComputePool.parallelFor(T, grain: Self.rowGrain) { r in
                    SwiGLU.forward(out: h + r.lowerBound * F, gateUp: gu + r.lowerBound * 2 * F, rows: r.count, features: F)
                }
                Linear.forward(out: x, inp: h, weight: layer.down, bias: nil, rows: T, accumulate: true)
                adapters?.addLowRank(layer: l, target: .down, x: h, rows: T, y: x, ldy: C)
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
        let shape = CachedAttention.Shape(heads: c.headCount, keyValueHeads: c.keyValueHeadCount, headDimension: c.headDimension)
        let blockSteps = steps.indices.filter { steps[$0].count >= Self.blockAttentionMinimumRows }
        let rowSteps = steps.indices.filter { steps[$0].count < Self.blockAttentionMinimumRows }
        CachedAttention.blocks(shape, cacheLayer: l, out: out, qkv: qkv, steps: steps, which: blockSteps,
                               positions: positions, caches: caches)
        CachedAttention.rows(shape, cacheLayer: l, out: out, qkv: qkv, rows: rowSteps.flatMap { Array(steps[$0]) },
                             rowStep: rowStep, caches: caches, length: { positions[$0] + 1 })
    }
}

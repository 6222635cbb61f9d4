import Tensors

/// One decoder layer's linear weights as an inference engine holds them (q/k/v and gate/up fused), read by the
/// LoRA trainer instead of a trainable f32 copy.
struct FrozenLayerLinears {
    let qkv: WeightMatrix          // [Q + 2 KV, C]
    let qkvBias: [Float]?          // [Q + 2 KV]
    let output: WeightMatrix       // [C, Q]
    let gateUp: WeightMatrix       // [2 F, C]
    let down: WeightMatrix         // [C, F]
}

/// An inference model whose weights a LoRA trainer reads in place: the frozen base is held once, in the precision
/// the user picked, and the trainer's forward pass runs the engine's own kernels on it.
protocol FrozenDecoderBase: TransformerModel {
    func frozenLayer(_ l: Int) -> FrozenLayerLinears
    var frozenHead: WeightMatrix { get }
    /// Runs `body` on the f32 token embedding [V, C].
    func withFrozenEmbedding<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R
    /// The one-dimensional parameters (norm weights as Hugging Face's w, biases) under Hugging Face names.
    func vectorTensors() -> [String: NamedTensor]
}

extension LlamaModel: FrozenDecoderBase {
    func frozenLayer(_ l: Int) -> FrozenLayerLinears {
        let layer = weights.layers[l]
        return FrozenLayerLinears(qkv: layer.qkv, qkvBias: layer.qkvBias, output: layer.attentionOutput,
                                  gateUp: layer.gateUp, down: layer.down)
    }
    var frozenHead: WeightMatrix { weights.head }
    func withFrozenEmbedding<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try weights.embedding.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
    func vectorTensors() -> [String: NamedTensor] {
        let c = configuration, Q = c.headCount * c.headDimension, KV = c.keyValueHeadCount * c.headDimension
        var result = ["model.norm.weight": NamedTensor(shape: [c.hiddenSize], values: weights.finalNorm)]
        for (l, layer) in weights.layers.enumerated() {
            let p = "model.layers.\(l)."
            result[p + "input_layernorm.weight"] = NamedTensor(shape: [c.hiddenSize], values: layer.attentionNorm)
            result[p + "post_attention_layernorm.weight"] = NamedTensor(shape: [c.hiddenSize], values: layer.mlpNorm)
            if let bias = layer.qkvBias {
                let parts = FusedWeights.split(bias, rows: [Q, KV, KV], columns: 1)
                for (name, part) in zip(["q", "k", "v"], parts) {
                    result[p + "self_attn.\(name)_proj.bias"] = NamedTensor(shape: [part.count], values: part)
                }
            }
        }
        return result
    }
}

extension Gemma3Model: FrozenDecoderBase {
    func frozenLayer(_ l: Int) -> FrozenLayerLinears {
        let layer = weights.layers[l]
        return FrozenLayerLinears(qkv: layer.qkv, qkvBias: nil, output: layer.attentionOutput, gateUp: layer.gateUp,
                                  down: layer.down)
    }
    var frozenHead: WeightMatrix { weights.head }
    func withFrozenEmbedding<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try weights.embedding.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
    func vectorTensors() -> [String: NamedTensor] {
        weights.normWeights.mapValues { NamedTensor(shape: [$0.count], values: $0) }
    }
}

enum FrozenLinear {
    /// Rows of W dequantized per input-gradient GEMM: the scratch is at most this many rows of f32, never the
    /// whole matrix (the head of a 150k vocabulary would be 0.9 GB).
    static let dequantizedRows = 512

    /// dx: [rows, in] += dy: [rows, out] (row stride ldy) · W: [out, in], with W dequantized `dequantizedRows`
    /// rows at a time into f32 scratch: the input gradient of a frozen linear, without a weight gradient.
    static func backwardInput(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, ldy: Int,
                              weight: WeightMatrix, rows: Int) {
        let IN = weight.columns
        let chunk = min(dequantizedRows, weight.rows)
        guard rows > 0, chunk > 0 else { return }
        let scratch = FloatBuffer(count: chunk * IN)
        var first = 0
        while first < weight.rows {
            let count = min(chunk, weight.rows - first), start = first
            ComputePool.parallelFor(count, grain: 16) { part in
                weight.copyRows((start + part.lowerBound)..<(start + part.upperBound), to: scratch.pointer + part.lowerBound * IN)
            }
            GEMM.multiply(transposeA: false, transposeB: false, m: rows, n: IN, k: count, a: dy + start, lda: ldy,
                          b: scratch.pointer, ldb: IN, beta: 1, c: dx, ldc: IN)
            first += count
        }
    }
}

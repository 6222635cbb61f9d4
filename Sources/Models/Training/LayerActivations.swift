import Tensors

/// Everything one decoder layer's backward pass reads, for `rows` packed tokens.
final class LayerActivations {
    let attentionNormed: FloatBuffer      // [rows, hidden]
    let attentionReciprocalRMS: FloatBuffer // [rows]
    let query: FloatBuffer                // [rows, heads · headDim], after RoPE
    let key: FloatBuffer                  // [rows, kvHeads · headDim], after RoPE
    let value: FloatBuffer                // [rows, kvHeads · headDim]
    let attention: FloatBuffer            // [rows, heads · headDim]
    let logSumExp: FloatBuffer            // [heads, rows] per segment block
    let residual: FloatBuffer             // [rows, hidden], after the attention block
    let mlpNormed: FloatBuffer            // [rows, hidden]
    let mlpReciprocalRMS: FloatBuffer     // [rows]
    let gateUp: FloatBuffer               // [rows, 2 · intermediate]: gate, then up
    let activated: FloatBuffer            // [rows, intermediate]
    /// Gemma 3 only (see `Gemma3Training`).
    let gemma: Gemma3LayerActivations?

    init(rows: Int, configuration c: ModelConfiguration) {
        let queryWidth = c.headCount * c.headDimension
        let keyValueWidth = c.keyValueHeadCount * c.headDimension
        attentionNormed = FloatBuffer(count: rows * c.hiddenSize)
        attentionReciprocalRMS = FloatBuffer(count: rows)
        query = FloatBuffer(count: rows * queryWidth)
        key = FloatBuffer(count: rows * keyValueWidth)
        value = FloatBuffer(count: rows * keyValueWidth)
        attention = FloatBuffer(count: rows * queryWidth)
        logSumExp = FloatBuffer(count: rows * c.headCount)
        residual = FloatBuffer(count: rows * c.hiddenSize)
        mlpNormed = FloatBuffer(count: rows * c.hiddenSize)
        mlpReciprocalRMS = FloatBuffer(count: rows)
        gateUp = FloatBuffer(count: rows * 2 * c.intermediateSize)
        activated = FloatBuffer(count: rows * c.intermediateSize)
        gemma = c.architecture == .gemma3 ? Gemma3LayerActivations(rows: rows, configuration: c) : nil
    }

    /// Floats per row of one layer's activations, as `init` allocates them (Gemma's extra tensors included).
    static func floatsPerRow(configuration c: ModelConfiguration) -> Int {
        let C = c.hiddenSize, F = c.intermediateSize
        let Q = c.headCount * c.headDimension, KV = c.keyValueHeadCount * c.headDimension
        let common = 3 * C + 2 + 2 * Q + 2 * KV + c.headCount + 3 * F
        let gemma = c.architecture == .gemma3 ? Q + KV + c.headCount + c.keyValueHeadCount + 2 * C + 2 : 0
        return common + gemma
    }
}

extension TrainableTransformer {
    /// Bytes a forward and backward pass hold per packed token: the residual streams (every layer's input, the
    /// last output, the final hidden state), the activations `policy` keeps (every layer's, or one layer's being
    /// recomputed) and about one layer's worth of gradient temporaries. Micro-batches are sized by this.
    public func activationBytesPerToken(policy: ActivationPolicy) -> Int {
        let c = configuration
        let layer = LayerActivations.floatsPerRow(configuration: c)
        let streams = (c.layerCount + 2) * c.hiddenSize
        let kept = policy == .keepAll ? c.layerCount * layer : layer
        return MemoryLayout<Float>.size * (streams + kept + layer)
    }
}

/// Whether the forward pass keeps every layer's activations (fastest) or only each layer's input, recomputing
/// the rest one layer at a time during the backward pass (activation memory ≈ layers · tokens · hidden).
public enum ActivationPolicy: String, Sendable, Codable, CaseIterable {
    case keepAll
    case recomputePerLayer
}

/// The state a forward pass leaves for the head and the backward pass. Single use: the backward pass frees each
/// layer's tensors as soon as it has gone through that layer.
public final class ForwardPass {
    public let batch: PackedSequences
    let policy: ActivationPolicy
    /// layerInputs[l]: [rows, hidden], the residual stream entering layer l; [layerCount] is the last output.
    var layerInputs: [FloatBuffer?]
    var layerActivations: [LayerActivations?]
    /// [rows, hidden] after the final RMSNorm: the head's input.
    public let finalHidden: FloatBuffer
    let finalReciprocalRMS: FloatBuffer
    /// RoPE rotation of every packed token (position within its own sequence).
    let rope: RoPE.Table
    /// Gemma 3: the rotation of sliding-window layers (base `localRopeTheta`).
    let localRope: RoPE.Table?

    init(batch: PackedSequences, policy: ActivationPolicy, configuration c: ModelConfiguration) {
        self.batch = batch
        self.policy = policy
        layerInputs = (0...c.layerCount).map { _ in FloatBuffer(count: batch.count * c.hiddenSize) }
        layerActivations = Array(repeating: nil, count: c.layerCount)
        finalHidden = FloatBuffer(count: batch.count * c.hiddenSize)
        finalReciprocalRMS = FloatBuffer(count: batch.count)
        rope = RoPE.Table(positions: batch.positions.map(Int.init), headDimension: c.headDimension, theta: c.ropeTheta)
        localRope = c.localRopeTheta.map {
            RoPE.Table(positions: batch.positions.map(Int.init), headDimension: c.headDimension, theta: $0)
        }
    }
}

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
}

/// Whether the forward pass keeps every layer's activations (fastest) or only each layer's input, recomputing
/// the rest one layer at a time during the backward pass (activation memory ≈ layers · tokens · hidden).
public enum ActivationPolicy: String, Sendable, Codable {
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

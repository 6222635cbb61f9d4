import Foundation
import Tensors

/// What a Gemma 3 layer's backward pass reads beyond `LayerActivations` (whose `query`/`key` hold q and k after
/// their head norms, RoPE and the query scale, and whose `residual` is the stream after the attention block).
final class Gemma3LayerActivations {
    let queryProjected: FloatBuffer       // [rows, heads · headDim], before the q head norm
    let keyProjected: FloatBuffer         // [rows, kvHeads · headDim], before the k head norm
    let queryReciprocalRMS: FloatBuffer   // [rows · heads]
    let keyReciprocalRMS: FloatBuffer     // [rows · kvHeads]
    let attentionProjected: FloatBuffer   // [rows, hidden]: attention · Woᵀ, before its post-norm
    let attentionPostReciprocalRMS: FloatBuffer // [rows]
    let mlpProjected: FloatBuffer         // [rows, hidden]: activated · Wdownᵀ, before its post-norm
    let mlpPostReciprocalRMS: FloatBuffer // [rows]

    init(rows: Int, configuration c: ModelConfiguration) {
        queryProjected = FloatBuffer(count: rows * c.headCount * c.headDimension)
        keyProjected = FloatBuffer(count: rows * c.keyValueHeadCount * c.headDimension)
        queryReciprocalRMS = FloatBuffer(count: rows * c.headCount)
        keyReciprocalRMS = FloatBuffer(count: rows * c.keyValueHeadCount)
        attentionProjected = FloatBuffer(count: rows * c.hiddenSize)
        attentionPostReciprocalRMS = FloatBuffer(count: rows)
        mlpProjected = FloatBuffer(count: rows * c.hiddenSize)
        mlpPostReciprocalRMS = FloatBuffer(count: rows)
    }
}

enum Gemma3Training {
    /// x: [rows, hidden] *= sqrt(hidden): the embedding scale (forward), and its backward on the gradient.
    static func scaleEmbeddings(_ x: FloatBuffer, configuration c: ModelConfiguration) {
        let scale = Float(c.hiddenSize).squareRoot()
        for i in 0..<x.count { x.pointer[i] *= scale }
    }

    /// The attention kernels scale scores by 1/sqrt(D); Gemma by 1/sqrt(query_pre_attn_scalar): q is multiplied by
    /// this factor first (as in `Gemma3Model`).
    static func queryScale(_ c: ModelConfiguration) -> Float {
        Float((Double(c.headDimension) / (c.queryPreAttentionScalar ?? Double(c.headDimension))).squareRoot())
    }
}

/// The Gemma 3 layer of the trainable decoder: the same arithmetic as `Gemma3Model`, keeping what the backward
/// pass needs. Norm weights are Hugging Face's w; the kernels get 1 + w (`normFactor`).
extension TrainableTransformer {
    private struct GemmaNorms {
        let attention, query, key, postAttention, mlp, postMLP: FloatBuffer
    }

    private func gemmaNorms(_ o: ParameterLayout.LayerOffsets) -> GemmaNorms {
        let c = configuration, C = c.hiddenSize, D = c.headDimension
        return GemmaNorms(attention: normFactor(o.attentionNorm, count: C), query: normFactor(o.queryNorm!, count: D),
                          key: normFactor(o.keyNorm!, count: D), postAttention: normFactor(o.postAttentionNorm!, count: C),
                          mlp: normFactor(o.mlpNorm, count: C), postMLP: normFactor(o.postMLPNorm!, count: C))
    }

    private func attentionShape(_ l: Int, length: Int) -> Attention.CausalShape {
        let c = configuration
        return Attention.CausalShape(length: length, heads: c.headCount, keyValueHeads: c.keyValueHeadCount,
                                     headDimension: c.headDimension,
                                     window: c.isSlidingWindowLayer(l) ? c.slidingWindow! : .max)
    }

    // layerInputs[l]: [rows, hidden] → output: [rows, hidden]
    func gemmaLayerForward(_ l: Int, pass: ForwardPass, activations a: LayerActivations, output: FloatBuffer) {
        let c = configuration, o = layout.layers[l], e = a.gemma!, n = gemmaNorms(o)
        let input = pass.layerInputs[l]!, rows = pass.batch.count
        let C = c.hiddenSize, F = c.intermediateSize, D = c.headDimension, H = c.headCount, KVH = c.keyValueHeadCount
        let Q = H * D, KV = KVH * D, epsilon = Float(c.rmsNormEpsilon)
        let rope = c.isSlidingWindowLayer(l) ? pass.localRope! : pass.rope

        RMSNorm.forward(y: a.attentionNormed.pointer, reciprocalRMS: a.attentionReciprocalRMS.pointer, x: input.pointer,
                        weight: n.attention.pointer, rows: rows, channels: C, epsilon: epsilon)
        projectAttentionInputs(l, x: a.attentionNormed.pointer, q: e.queryProjected.pointer, k: e.keyProjected.pointer,
                               v: a.value.pointer, rows: rows)
        // Head norms: every head of every row is one row of D channels.
        RMSNorm.forward(y: a.query.pointer, reciprocalRMS: e.queryReciprocalRMS.pointer, x: e.queryProjected.pointer,
                        weight: n.query.pointer, rows: rows * H, channels: D, epsilon: epsilon)
        RMSNorm.forward(y: a.key.pointer, reciprocalRMS: e.keyReciprocalRMS.pointer, x: e.keyProjected.pointer,
                        weight: n.key.pointer, rows: rows * KVH, channels: D, epsilon: epsilon)
        RoPE.forward(a.query.pointer, table: rope, rows: rows, heads: H, pairing: .halves)
        RoPE.forward(a.key.pointer, table: rope, rows: rows, heads: KVH, pairing: .halves)
        let scale = Gemma3Training.queryScale(c)
        if scale != 1 { for i in 0..<(rows * Q) { a.query.pointer[i] *= scale } }
        for segment in pass.batch.segments {
            let s = segment.lowerBound
            Attention.causalForward(out: a.attention.pointer + s * Q, logSumExp: a.logSumExp.pointer + s * H,
                                    q: a.query.pointer + s * Q, k: a.key.pointer + s * KV, v: a.value.pointer + s * KV,
                                    shape: attentionShape(l, length: segment.count))
        }
        // residual = input + norm(attention · Woᵀ)
        project(l, .output, y: e.attentionProjected.pointer, x: a.attention.pointer, rows: rows)
        RMSNorm.forward(y: a.residual.pointer, reciprocalRMS: e.attentionPostReciprocalRMS.pointer,
                        x: e.attentionProjected.pointer, weight: n.postAttention.pointer, rows: rows, channels: C,
                        epsilon: epsilon)
        Residual.add(a.residual.pointer, input.pointer, count: rows * C)
        // output = residual + norm(geglu(norm(residual) · [Wg; Wu]ᵀ) · Wdownᵀ)
        RMSNorm.forward(y: a.mlpNormed.pointer, reciprocalRMS: a.mlpReciprocalRMS.pointer, x: a.residual.pointer,
                        weight: n.mlp.pointer, rows: rows, channels: C, epsilon: epsilon)
        project(l, .gateUp, y: a.gateUp.pointer, x: a.mlpNormed.pointer, rows: rows)
        GeGLU.forward(out: a.activated.pointer, gateUp: a.gateUp.pointer, rows: rows, features: F)
        project(l, .down, y: e.mlpProjected.pointer, x: a.activated.pointer, rows: rows)
        RMSNorm.forward(y: output.pointer, reciprocalRMS: e.mlpPostReciprocalRMS.pointer, x: e.mlpProjected.pointer,
                        weight: n.postMLP.pointer, rows: rows, channels: C, epsilon: epsilon)
        Residual.add(output.pointer, a.residual.pointer, count: rows * C)
    }

    // dOutput: [rows, hidden] → dInput: [rows, hidden]; parameter gradients of layer l +=
    func gemmaLayerBackward(_ l: Int, pass: ForwardPass, input: FloatBuffer, activations a: LayerActivations,
                            dOutput: FloatBuffer, normScratch: FloatBuffer?) -> FloatBuffer {
        let c = configuration, o = layout.layers[l], e = a.gemma!, n = gemmaNorms(o)
        func g(_ offset: Int) -> UnsafeMutablePointer<Float> { normGradient(offset, scratch: normScratch) }
        let rows = pass.batch.count
        let C = c.hiddenSize, F = c.intermediateSize, D = c.headDimension, H = c.headCount, KVH = c.keyValueHeadCount
        let Q = H * D, KV = KVH * D

        // MLP block
        let dMlpProjected = FloatBuffer(count: rows * C)
        RMSNorm.backward(dx: dMlpProjected.pointer, dWeight: g(o.postMLPNorm!), dy: dOutput.pointer,
                         x: e.mlpProjected.pointer, weight: n.postMLP.pointer,
                         reciprocalRMS: e.mlpPostReciprocalRMS.pointer, rows: rows, channels: C)
        let dActivated = FloatBuffer(count: rows * F)
        projectBackward(l, .down, dx: dActivated.pointer, dy: dMlpProjected.pointer, x: a.activated.pointer, rows: rows)
        let dGateUp = FloatBuffer(count: rows * 2 * F)
        GeGLU.backward(dGateUp: dGateUp.pointer, dh: dActivated.pointer, gateUp: a.gateUp.pointer, rows: rows, features: F)
        let dMlpNormed = FloatBuffer(count: rows * C)
        projectBackward(l, .gateUp, dx: dMlpNormed.pointer, dy: dGateUp.pointer, x: a.mlpNormed.pointer, rows: rows)
        let dResidual = dOutput.copy()
        RMSNorm.backward(dx: dResidual.pointer, dWeight: g(o.mlpNorm), dy: dMlpNormed.pointer, x: a.residual.pointer,
                         weight: n.mlp.pointer, reciprocalRMS: a.mlpReciprocalRMS.pointer, rows: rows, channels: C)

        // Attention block
        let dAttentionProjected = FloatBuffer(count: rows * C)
        RMSNorm.backward(dx: dAttentionProjected.pointer, dWeight: g(o.postAttentionNorm!), dy: dResidual.pointer,
                         x: e.attentionProjected.pointer, weight: n.postAttention.pointer,
                         reciprocalRMS: e.attentionPostReciprocalRMS.pointer, rows: rows, channels: C)
        let dAttention = FloatBuffer(count: rows * Q)
        projectBackward(l, .output, dx: dAttention.pointer, dy: dAttentionProjected.pointer, x: a.attention.pointer,
                        rows: rows)
        let dQuery = FloatBuffer(count: rows * Q), dKey = FloatBuffer(count: rows * KV), dValue = FloatBuffer(count: rows * KV)
        for segment in pass.batch.segments {
            let s = segment.lowerBound
            Attention.causalBackward(dq: dQuery.pointer + s * Q, dk: dKey.pointer + s * KV, dv: dValue.pointer + s * KV,
                                     dOut: dAttention.pointer + s * Q, out: a.attention.pointer + s * Q,
                                     logSumExp: a.logSumExp.pointer + s * H, q: a.query.pointer + s * Q,
                                     k: a.key.pointer + s * KV, v: a.value.pointer + s * KV,
                                     shape: attentionShape(l, length: segment.count))
        }
        let scale = Gemma3Training.queryScale(c)
        if scale != 1 { for i in 0..<(rows * Q) { dQuery.pointer[i] *= scale } }
        let inverse = (c.isSlidingWindowLayer(l) ? pass.localRope! : pass.rope).inverse
        RoPE.backward(dQuery.pointer, inverseTable: inverse, rows: rows, heads: H, pairing: .halves)
        RoPE.backward(dKey.pointer, inverseTable: inverse, rows: rows, heads: KVH, pairing: .halves)
        let dQueryProjected = FloatBuffer(count: rows * Q), dKeyProjected = FloatBuffer(count: rows * KV)
        RMSNorm.backward(dx: dQueryProjected.pointer, dWeight: g(o.queryNorm!), dy: dQuery.pointer,
                         x: e.queryProjected.pointer, weight: n.query.pointer,
                         reciprocalRMS: e.queryReciprocalRMS.pointer, rows: rows * H, channels: D)
        RMSNorm.backward(dx: dKeyProjected.pointer, dWeight: g(o.keyNorm!), dy: dKey.pointer,
                         x: e.keyProjected.pointer, weight: n.key.pointer,
                         reciprocalRMS: e.keyReciprocalRMS.pointer, rows: rows * KVH, channels: D)
        let dAttentionNormed = FloatBuffer(count: rows * C)
        attentionInputsBackward(l, dq: dQueryProjected.pointer, dk: dKeyProjected.pointer, dv: dValue.pointer,
                                x: a.attentionNormed.pointer, dx: dAttentionNormed.pointer, rows: rows)
        let dInput = dResidual
        RMSNorm.backward(dx: dInput.pointer, dWeight: g(o.attentionNorm), dy: dAttentionNormed.pointer, x: input.pointer,
                         weight: n.attention.pointer, reciprocalRMS: a.attentionReciprocalRMS.pointer, rows: rows,
                         channels: C)
        return dInput
    }
}

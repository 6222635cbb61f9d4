import Tensors

extension TrainableTransformer {
    /// Back-propagates dL/dfinalHidden through the decoder, accumulating (+=) into `gradients`. Frees each
    /// layer's activations once used; the pass cannot be reused.
    // dFinalHidden: [rows, hidden]
    func backward(_ pass: ForwardPass, dFinalHidden: FloatBuffer) {
        let c = configuration
        let rows = pass.batch.count
        let normScratch = normGradientScratch()
        var dHidden = FloatBuffer(count: rows * c.hiddenSize)
        let finalNorm = normFactor(layout.finalNorm, count: c.hiddenSize)
        RMSNorm.backward(dx: dHidden.pointer, dWeight: normGradient(layout.finalNorm, scratch: normScratch), dy: dFinalHidden.pointer,
                                x: pass.layerInputs[c.layerCount]!.pointer, weight: finalNorm.pointer,
                                reciprocalRMS: pass.finalReciprocalRMS.pointer, rows: rows, channels: c.hiddenSize)
        pass.layerInputs[c.layerCount] = nil
        let inverseRoPE = pass.rope.inverse
        for l in stride(from: c.layerCount - 1, through: 0, by: -1) {
            let input = pass.layerInputs[l]!
            let activations: LayerActivations
            if let kept = pass.layerActivations[l] {
                activations = kept
            } else {
                activations = LayerActivations(rows: rows, configuration: c)
                layerForward(l, pass: pass, activations: activations, output: FloatBuffer(count: rows * c.hiddenSize))
            }
            if c.architecture == .gemma3 {
                dHidden = gemmaLayerBackward(l, pass: pass, input: input, activations: activations, dOutput: dHidden,
                                             normScratch: normScratch)
            } else {
                dHidden = layerBackward(l, batch: pass.batch, input: input, activations: activations, dOutput: dHidden,
                                        inverseRoPE: inverseRoPE, normScratch: normScratch)
            }
            pass.layerActivations[l] = nil
            if l > 0 { pass.layerInputs[l] = nil }
        }
        // The embedding is frozen under LoRA: the gradient stops here.
        if lora == nil {
            if c.architecture == .gemma3 { Gemma3Training.scaleEmbeddings(dHidden, configuration: c) }
            pass.batch.tokens.withUnsafeBufferPointer { tokens in
                Embedding.backward(dTable: gradients.pointer + layout.embedding, dOut: dHidden.pointer,
                                   tokens: tokens.baseAddress!, rows: rows, channels: c.hiddenSize)
            }
        }
        pass.layerInputs[0] = nil
    }

    // dOutput: [rows, hidden] → dInput: [rows, hidden]; parameter gradients of layer l +=
    func layerBackward(_ l: Int, batch: PackedSequences, input: FloatBuffer, activations a: LayerActivations,
                       dOutput: FloatBuffer, inverseRoPE: RoPE.Table, normScratch: FloatBuffer?) -> FloatBuffer {
        let c = configuration
        let o = layout.layers[l]
        let w = UnsafePointer(parameters.pointer)
        let rows = batch.count
        let hidden = c.hiddenSize
        let queryWidth = c.headCount * c.headDimension
        let keyValueWidth = c.keyValueHeadCount * c.headDimension

        // MLP block: output = residual + swiglu(norm(residual)·[Wg; Wu]ᵀ)·Wdᵀ
        let intermediate = c.intermediateSize
        let dActivated = FloatBuffer(count: rows * intermediate)
        projectBackward(l, .down, dx: dActivated.pointer, dy: dOutput.pointer, x: a.activated.pointer, rows: rows)
        let dGateUp = FloatBuffer(count: rows * 2 * intermediate)
        SwiGLU.backward(dGateUp: dGateUp.pointer, dh: dActivated.pointer, gateUp: a.gateUp.pointer, rows: rows,
                        features: intermediate)
        let dMlpNormed = FloatBuffer(count: rows * hidden)
        projectBackward(l, .gateUp, dx: dMlpNormed.pointer, dy: dGateUp.pointer, x: a.mlpNormed.pointer, rows: rows)
        let dResidual = dOutput.copy()
        RMSNorm.backward(dx: dResidual.pointer, dWeight: normGradient(o.mlpNorm, scratch: normScratch), dy: dMlpNormed.pointer,
                                x: a.residual.pointer, weight: w + o.mlpNorm,
                                reciprocalRMS: a.mlpReciprocalRMS.pointer, rows: rows, channels: hidden)

        // Attention block: residual = input + attention(rope(q), rope(k), v)·Woᵀ
        let dAttention = FloatBuffer(count: rows * queryWidth)
        projectBackward(l, .output, dx: dAttention.pointer, dy: dResidual.pointer, x: a.attention.pointer, rows: rows)
        let dQuery = FloatBuffer(count: rows * queryWidth)
        let dKey = FloatBuffer(count: rows * keyValueWidth)
        let dValue = FloatBuffer(count: rows * keyValueWidth)
        for segment in batch.segments {
            let shape = Attention.CausalShape(length: segment.count, heads: c.headCount,
                                               keyValueHeads: c.keyValueHeadCount, headDimension: c.headDimension)
            let s = segment.lowerBound
            Attention.causalBackward(dq: dQuery.pointer + s * queryWidth, dk: dKey.pointer + s * keyValueWidth,
                                      dv: dValue.pointer + s * keyValueWidth,
                                      dOut: dAttention.pointer + s * queryWidth,
                                      out: a.attention.pointer + s * queryWidth,
                                      logSumExp: a.logSumExp.pointer + s * c.headCount,
                                      q: a.query.pointer + s * queryWidth, k: a.key.pointer + s * keyValueWidth,
                                      v: a.value.pointer + s * keyValueWidth, shape: shape)
        }
        RoPE.backward(dQuery.pointer, inverseTable: inverseRoPE, rows: rows, heads: c.headCount, pairing: ropePairing)
        RoPE.backward(dKey.pointer, inverseTable: inverseRoPE, rows: rows, heads: c.keyValueHeadCount,
                      pairing: ropePairing)
        let dAttentionNormed = FloatBuffer(count: rows * hidden)
        attentionInputsBackward(l, dq: dQuery.pointer, dk: dKey.pointer, dv: dValue.pointer,
                                x: a.attentionNormed.pointer, dx: dAttentionNormed.pointer, rows: rows)
        let dInput = dResidual
        RMSNorm.backward(dx: dInput.pointer, dWeight: normGradient(o.attentionNorm, scratch: normScratch), dy: dAttentionNormed.pointer,
                                x: input.pointer, weight: w + o.attentionNorm,
                                reciprocalRMS: a.attentionReciprocalRMS.pointer, rows: rows, channels: hidden)
        return dInput
    }
}

import Tensors

extension TrainableTransformer {
    /// Back-propagates dL/dfinalHidden through the decoder, accumulating (+=) into `gradients`. Frees each
    /// layer's activations once used; the pass cannot be reused.
    // dFinalHidden: [rows, hidden]
    func backward(_ pass: ForwardPass, dFinalHidden: FloatBuffer) {
        let c = configuration
        let rows = pass.batch.count
        let g = gradients.pointer
        var dHidden = FloatBuffer(count: rows * c.hiddenSize)
        let finalNorm = normFactor(layout.finalNorm, count: c.hiddenSize)
        RMSNorm.backward(dx: dHidden.pointer, dWeight: g + layout.finalNorm, dy: dFinalHidden.pointer,
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
                dHidden = gemmaLayerBackward(l, pass: pass, input: input, activations: activations, dOutput: dHidden)
            } else {
                dHidden = layerBackward(l, batch: pass.batch, input: input, activations: activations, dOutput: dHidden,
                                        inverseRoPE: inverseRoPE)
            }
            pass.layerActivations[l] = nil
            if l > 0 { pass.layerInputs[l] = nil }
        }
        if c.architecture == .gemma3 { Gemma3Training.scaleEmbeddings(dHidden, configuration: c) }
        pass.batch.tokens.withUnsafeBufferPointer { tokens in
            Embedding.backward(dTable: g + layout.embedding, dOut: dHidden.pointer,
                                      tokens: tokens.baseAddress!, rows: rows, channels: c.hiddenSize)
        }
        pass.layerInputs[0] = nil
    }

    // dOutput: [rows, hidden] → dInput: [rows, hidden]; parameter gradients of layer l +=
    func layerBackward(_ l: Int, batch: PackedSequences, input: FloatBuffer, activations a: LayerActivations,
                       dOutput: FloatBuffer, inverseRoPE: RoPE.Table) -> FloatBuffer {
        let c = configuration
        let o = layout.layers[l]
        let w = UnsafePointer(parameters.pointer)
        let g = gradients.pointer
        let rows = batch.count
        let hidden = c.hiddenSize
        let queryWidth = c.headCount * c.headDimension
        let keyValueWidth = c.keyValueHeadCount * c.headDimension

        // MLP block: output = residual + swiglu(norm(residual)·[Wg; Wu]ᵀ)·Wdᵀ
        let intermediate = c.intermediateSize
        let dActivated = FloatBuffer(count: rows * intermediate)
        Linear.backward(dx: dActivated.pointer, dWeight: g + o.down, dBias: nil, dy: dOutput.pointer,
                        x: a.activated.pointer, weight: w + o.down, rows: rows, inFeatures: intermediate,
                        outFeatures: hidden)
        let dGateUp = FloatBuffer(count: rows * 2 * intermediate)
        SwiGLU.backward(dGateUp: dGateUp.pointer, dh: dActivated.pointer, gateUp: a.gateUp.pointer, rows: rows,
                        features: intermediate)
        let dMlpNormed = FloatBuffer(count: rows * hidden)
        Linear.backward(dx: dMlpNormed.pointer, dWeight: g + o.gateUp, dBias: nil, dy: dGateUp.pointer,
                        x: a.mlpNormed.pointer, weight: w + o.gateUp, rows: rows, inFeatures: hidden,
                        outFeatures: 2 * intermediate)
        let dResidual = dOutput.copy()
        RMSNorm.backward(dx: dResidual.pointer, dWeight: g + o.mlpNorm, dy: dMlpNormed.pointer,
                                x: a.residual.pointer, weight: w + o.mlpNorm,
                                reciprocalRMS: a.mlpReciprocalRMS.pointer, rows: rows, channels: hidden)

        // Attention block: residual = input + attention(rope(q), rope(k), v)·Woᵀ
        let dAttention = FloatBuffer(count: rows * queryWidth)
        Linear.backward(dx: dAttention.pointer, dWeight: g + o.output, dBias: nil, dy: dResidual.pointer,
                               x: a.attention.pointer, weight: w + o.output, rows: rows, inFeatures: queryWidth,
                               outFeatures: hidden)
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
        for (dy, weight, bias, width) in [(dQuery, o.query, o.queryBias, queryWidth), (dKey, o.key, o.keyBias, keyValueWidth),
                                          (dValue, o.value, o.valueBias, keyValueWidth)] {
            Linear.backward(dx: dAttentionNormed.pointer, dWeight: g + weight, dBias: bias.map { g + $0 },
                                   dy: dy.pointer, x: a.attentionNormed.pointer, weight: w + weight, rows: rows,
                                   inFeatures: hidden, outFeatures: width)
        }
        let dInput = dResidual
        RMSNorm.backward(dx: dInput.pointer, dWeight: g + o.attentionNorm, dy: dAttentionNormed.pointer,
                                x: input.pointer, weight: w + o.attentionNorm,
                                reciprocalRMS: a.attentionReciprocalRMS.pointer, rows: rows, channels: hidden)
        return dInput
    }
}

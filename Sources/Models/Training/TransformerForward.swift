import Tensors

extension TrainableTransformer {
    /// Runs the decoder over packed sequences up to the final RMSNorm. Logits are left to the head, chunk by chunk.
    public func forward(_ batch: PackedSequences, policy: ActivationPolicy = .keepAll) throws -> ForwardPass {
        try validate(batch)
        let c = configuration
        let rows = batch.count
        let pass = ForwardPass(batch: batch, policy: policy, configuration: c)
        batch.tokens.withUnsafeBufferPointer { tokens in
            // layerInputs[0]: [rows, hidden] = embedding rows of the tokens
            embed(tokens.baseAddress!, out: pass.layerInputs[0]!.pointer, rows: rows)
        }
        if c.architecture == .gemma3 { Gemma3Training.scaleEmbeddings(pass.layerInputs[0]!, configuration: c) }
        let scratch = policy == .keepAll ? nil : LayerActivations(rows: rows, configuration: c)
        for l in 0..<c.layerCount {
            let activations = scratch ?? LayerActivations(rows: rows, configuration: c)
            layerForward(l, pass: pass, activations: activations, output: pass.layerInputs[l + 1]!)
            if policy == .keepAll { pass.layerActivations[l] = activations }
        }
        let finalNorm = normFactor(layout.finalNorm, count: c.hiddenSize)
        RMSNorm.forward(y: pass.finalHidden.pointer, reciprocalRMS: pass.finalReciprocalRMS.pointer,
                        x: pass.layerInputs[c.layerCount]!.pointer, weight: finalNorm.pointer, rows: rows,
                        channels: c.hiddenSize, epsilon: Float(c.rmsNormEpsilon))
        return pass
    }

    // layerInputs[l]: [rows, hidden] → output: [rows, hidden]; activations filled for the backward pass
    func layerForward(_ l: Int, pass: ForwardPass, activations a: LayerActivations, output: FloatBuffer) {
        if configuration.architecture == .gemma3 { return gemmaLayerForward(l, pass: pass, activations: a, output: output) }
        let c = configuration
        let o = layout.layers[l]
        let w = UnsafePointer(parameters.pointer)
        let batch = pass.batch
        let input = pass.layerInputs[l]!
        let rows = batch.count
        let hidden = c.hiddenSize, intermediate = c.intermediateSize
        let queryWidth = c.headCount * c.headDimension
        let keyValueWidth = c.keyValueHeadCount * c.headDimension
        let epsilon = Float(c.rmsNormEpsilon)

        RMSNorm.forward(y: a.attentionNormed.pointer, reciprocalRMS: a.attentionReciprocalRMS.pointer,
                        x: input.pointer, weight: w + o.attentionNorm, rows: rows, channels: hidden, epsilon: epsilon)
        projectAttentionInputs(l, x: a.attentionNormed.pointer, q: a.query.pointer, k: a.key.pointer,
                               v: a.value.pointer, rows: rows)
        RoPE.forward(a.query.pointer, table: pass.rope, rows: rows, heads: c.headCount, pairing: ropePairing)
        RoPE.forward(a.key.pointer, table: pass.rope, rows: rows, heads: c.keyValueHeadCount, pairing: ropePairing)
        for segment in batch.segments {
            let shape = Attention.CausalShape(length: segment.count, heads: c.headCount,
                                              keyValueHeads: c.keyValueHeadCount, headDimension: c.headDimension)
            let s = segment.lowerBound
            Attention.causalForward(out: a.attention.pointer + s * queryWidth,
                                    logSumExp: a.logSumExp.pointer + s * c.headCount,
                                    q: a.query.pointer + s * queryWidth, k: a.key.pointer + s * keyValueWidth,
                                    v: a.value.pointer + s * keyValueWidth, shape: shape)
        }
        // residual = input + attention · Woᵀ
        project(l, .output, y: a.residual.pointer, x: a.attention.pointer, rows: rows)
        Residual.add(a.residual.pointer, input.pointer, count: rows * hidden)

        RMSNorm.forward(y: a.mlpNormed.pointer, reciprocalRMS: a.mlpReciprocalRMS.pointer, x: a.residual.pointer,
                        weight: w + o.mlpNorm, rows: rows, channels: hidden, epsilon: epsilon)
        // gateUp: [rows, 2F] = mlpNormed · [Wgate; Wup]ᵀ
        project(l, .gateUp, y: a.gateUp.pointer, x: a.mlpNormed.pointer, rows: rows)
        SwiGLU.forward(out: a.activated.pointer, gateUp: a.gateUp.pointer, rows: rows, features: intermediate)
        // output = residual + activated · Wdownᵀ
        project(l, .down, y: output.pointer, x: a.activated.pointer, rows: rows)
        Residual.add(output.pointer, a.residual.pointer, count: rows * hidden)
    }
}

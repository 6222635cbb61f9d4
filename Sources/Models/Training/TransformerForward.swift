import Tensors

extension TrainableTransformer {
    /// Runs the decoder over packed sequences up to the final RMSNorm. Logits are left to the head, chunk by chunk.
    public func forward(_ batch: PackedSequences, policy: ActivationPolicy = .keepAll) throws -> ForwardPass {
        try validate(batch)
        ensureRoPETable(positions: batch.segments.map(\.count).max() ?? 0)
        let c = configuration
        let rows = batch.count
        let pass = ForwardPass(batch: batch, policy: policy, configuration: c)
        let w = parameters.pointer
        batch.tokens.withUnsafeBufferPointer { tokens in
            // layerInputs[0]: [rows, hidden] = embedding rows of the tokens
            EmbeddingKernels.forward(out: pass.layerInputs[0]!.pointer, tokens: tokens.baseAddress!,
                                     table: w + layout.embedding, rows: rows, channels: c.hiddenSize)
        }
        var scratch = LayerActivations(rows: rows, configuration: c)
        for l in 0..<c.layerCount {
            let activations = policy == .keepAll ? LayerActivations(rows: rows, configuration: c) : scratch
            layerForward(l, batch: batch, input: pass.layerInputs[l]!, activations: activations,
                         output: pass.layerInputs[l + 1]!)
            if policy == .keepAll { pass.layerActivations[l] = activations } else { scratch = activations }
        }
        RMSNormKernels.forward(y: pass.finalHidden.pointer, reciprocalRMS: pass.finalReciprocalRMS.pointer,
                               x: pass.layerInputs[c.layerCount]!.pointer, weight: w + layout.finalNorm,
                               rows: rows, channels: c.hiddenSize, epsilon: Float(c.rmsNormEpsilon))
        return pass
    }

    // input: [rows, hidden] → output: [rows, hidden]; activations filled for the backward pass
    func layerForward(_ l: Int, batch: PackedSequences, input: FloatBuffer, activations a: LayerActivations,
                      output: FloatBuffer) {
        let c = configuration
        let o = layout.layers[l]
        let w = UnsafePointer(parameters.pointer)
        let rows = batch.count
        let hidden = c.hiddenSize
        let queryWidth = c.headCount * c.headDimension
        let keyValueWidth = c.keyValueHeadCount * c.headDimension
        let epsilon = Float(c.rmsNormEpsilon)

        RMSNormKernels.forward(y: a.attentionNormed.pointer, reciprocalRMS: a.attentionReciprocalRMS.pointer,
                               x: input.pointer, weight: w + o.attentionNorm, rows: rows, channels: hidden,
                               epsilon: epsilon)
        LinearKernels.forward(y: a.query.pointer, x: a.attentionNormed.pointer, weight: w + o.query,
                              bias: o.queryBias.map { w + $0 }, rows: rows, inFeatures: hidden, outFeatures: queryWidth)
        LinearKernels.forward(y: a.key.pointer, x: a.attentionNormed.pointer, weight: w + o.key,
                              bias: o.keyBias.map { w + $0 }, rows: rows, inFeatures: hidden, outFeatures: keyValueWidth)
        LinearKernels.forward(y: a.value.pointer, x: a.attentionNormed.pointer, weight: w + o.value,
                              bias: o.valueBias.map { w + $0 }, rows: rows, inFeatures: hidden,
                              outFeatures: keyValueWidth)
        let adjacent = c.ropePairing == .adjacent
        batch.positions.withUnsafeBufferPointer { positions in
            RoPEKernels.forward(a.query.pointer, positions: positions.baseAddress!, rows: rows, heads: c.headCount,
                                table: ropeTable, adjacentPairs: adjacent)
            RoPEKernels.forward(a.key.pointer, positions: positions.baseAddress!, rows: rows,
                                heads: c.keyValueHeadCount, table: ropeTable, adjacentPairs: adjacent)
        }
        let scratch = FloatBuffer(count: AttentionKernels.scratchCount(length: batch.segments.map(\.count).max() ?? 1))
        for segment in batch.segments {
            let shape = AttentionKernels.Shape(length: segment.count, heads: c.headCount,
                                               keyValueHeads: c.keyValueHeadCount, headDimension: c.headDimension)
            let start = segment.lowerBound
            AttentionKernels.forward(out: a.attention.pointer + start * queryWidth,
                                     logSumExp: a.logSumExp.pointer + start * c.headCount,
                                     q: a.query.pointer + start * queryWidth, k: a.key.pointer + start * keyValueWidth,
                                     v: a.value.pointer + start * keyValueWidth, shape: shape, scratch: scratch.pointer)
        }
        // residual = input + attention · Woᵀ
        LinearKernels.forward(y: a.residual.pointer, x: a.attention.pointer, weight: w + o.output, bias: nil,
                              rows: rows, inFeatures: queryWidth, outFeatures: hidden)
        add(input.pointer, into: a.residual.pointer, count: rows * hidden)

        RMSNormKernels.forward(y: a.mlpNormed.pointer, reciprocalRMS: a.mlpReciprocalRMS.pointer,
                               x: a.residual.pointer, weight: w + o.mlpNorm, rows: rows, channels: hidden,
                               epsilon: epsilon)
        LinearKernels.forward(y: a.gate.pointer, x: a.mlpNormed.pointer, weight: w + o.gate, bias: nil,
                              rows: rows, inFeatures: hidden, outFeatures: c.intermediateSize)
        LinearKernels.forward(y: a.up.pointer, x: a.mlpNormed.pointer, weight: w + o.up, bias: nil,
                              rows: rows, inFeatures: hidden, outFeatures: c.intermediateSize)
        SwiGLUKernels.forward(h: a.activated.pointer, gate: a.gate.pointer, up: a.up.pointer,
                              count: rows * c.intermediateSize)
        // output = residual + activated · Wdownᵀ
        LinearKernels.forward(y: output.pointer, x: a.activated.pointer, weight: w + o.down, bias: nil,
                              rows: rows, inFeatures: c.intermediateSize, outFeatures: hidden)
        add(a.residual.pointer, into: output.pointer, count: rows * hidden)
    }
}

// y: [count] += x: [count]
func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] += x[i] }
}

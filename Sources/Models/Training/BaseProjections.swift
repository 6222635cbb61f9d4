import Tensors

/// The linear layers of the trainable decoder in its two modes: full training (f32 weights in `parameters`,
/// weight gradients accumulated) or LoRA over a frozen base (the engine's kernels on the base model's packed
/// weights, input gradients only, plus the adapters' low-rank terms and their gradients). The Llama and Gemma 3
/// layers call these and stay the same in both modes.
extension TrainableTransformer {
    /// A linear layer that is not one of q, k, v.
    enum Projection { case output, gateUp, down }

    // [out, in] of a projection
    private func shape(_ p: Projection) -> (outFeatures: Int, inFeatures: Int) {
        let c = configuration
        switch p {
        case .output: return (c.hiddenSize, c.headCount * c.headDimension)
        case .gateUp: return (2 * c.intermediateSize, c.hiddenSize)
        case .down: return (c.hiddenSize, c.intermediateSize)
        }
    }

    private func offset(_ p: Projection, _ o: ParameterLayout.LayerOffsets) -> Int {
        switch p {
        case .output: return o.output
        case .gateUp: return o.gateUp
        case .down: return o.down
        }
    }

    private func matrix(_ p: Projection, _ layer: FrozenLayerLinears) -> WeightMatrix {
        switch p {
        case .output: return layer.output
        case .gateUp: return layer.gateUp
        case .down: return layer.down
        }
    }

    /// Where a norm's weight gradient goes: into `gradients`, or (LoRA: the base is frozen) into a scratch that is
    /// never read.
    func normGradient(_ offset: Int, scratch: FloatBuffer?) -> UnsafeMutablePointer<Float> {
        scratch?.pointer ?? gradients.pointer + offset
    }

    /// LoRA: a scratch as wide as any norm, for `normGradient`; nil in full training.
    func normGradientScratch() -> FloatBuffer? {
        lora == nil ? nil : FloatBuffer(count: max(configuration.hiddenSize, configuration.headDimension))
    }

    // x: [rows, C] → q: [rows, Q], k: [rows, KV], v: [rows, KV] (with biases and adapters)
    func projectAttentionInputs(_ l: Int, x: UnsafePointer<Float>, q: UnsafeMutablePointer<Float>,
                                k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, rows: Int) {
        let c = configuration, C = c.hiddenSize
        let Q = c.headCount * c.headDimension, KV = c.keyValueHeadCount * c.headDimension, QKV = Q + 2 * KV
        guard let frozenBase, let lora else {
            let o = layout.layers[l], w = UnsafePointer(parameters.pointer)
            for (out, weight, bias, width) in [(q, o.query, o.queryBias, Q), (k, o.key, o.keyBias, KV), (v, o.value, o.valueBias, KV)] {
                Linear.forward(y: out, x: x, weight: w + weight, bias: bias.map { w + $0 }, rows: rows, inFeatures: C,
                               outFeatures: width)
            }
            return
        }
        let layer = frozenBase.frozenLayer(l)
        // qkv: [rows, Q + 2 KV], the engine's fused projection
        let qkv = FloatBuffer(count: rows * QKV)
        Linear.forward(out: qkv.pointer, inp: x, weight: layer.qkv, bias: layer.qkvBias, rows: rows)
        lora.addAttentionInputs(layer: l, x: x, rows: rows, qkv: qkv.pointer)
        for t in 0..<rows {
            let row = qkv.pointer + t * QKV
            (q + t * Q).update(from: row, count: Q)
            (k + t * KV).update(from: row + Q, count: KV)
            (v + t * KV).update(from: row + Q + KV, count: KV)
        }
    }

    // dq: [rows, Q], dk, dv: [rows, KV] → dx: [rows, C] +=; weight (full) or adapter (LoRA) gradients +=
    func attentionInputsBackward(_ l: Int, dq: UnsafePointer<Float>, dk: UnsafePointer<Float>, dv: UnsafePointer<Float>,
                                 x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int) {
        let c = configuration, C = c.hiddenSize
        let Q = c.headCount * c.headDimension, KV = c.keyValueHeadCount * c.headDimension, QKV = Q + 2 * KV
        guard let frozenBase, let lora else {
            let o = layout.layers[l], w = UnsafePointer(parameters.pointer), g = gradients.pointer
            for (dy, weight, bias, width) in [(dq, o.query, o.queryBias, Q), (dk, o.key, o.keyBias, KV), (dv, o.value, o.valueBias, KV)] {
                Linear.backward(dx: dx, dWeight: g + weight, dBias: bias.map { g + $0 }, dy: dy, x: x, weight: w + weight,
                                rows: rows, inFeatures: C, outFeatures: width)
            }
            return
        }
        // dqkv: [rows, Q + 2 KV], the fused layout, so the frozen weight is read once
        let dqkv = FloatBuffer(count: rows * QKV)
        for t in 0..<rows {
            let row = dqkv.pointer + t * QKV
            row.update(from: dq + t * Q, count: Q)
            (row + Q).update(from: dk + t * KV, count: KV)
            (row + Q + KV).update(from: dv + t * KV, count: KV)
        }
        for target in [LoRATarget.q, .k, .v] {
            lora.backwardLowRank(layer: l, target: target, dy: dqkv.pointer + target.fusedColumn(c), ldy: QKV, x: x,
                                 rows: rows, dx: dx, gradients: gradients.pointer)
        }
        FrozenLinear.backwardInput(dx: dx, dy: dqkv.pointer, ldy: QKV, weight: frozenBase.frozenLayer(l).qkv, rows: rows)
    }

    // x: [rows, in] → y: [rows, out] = x · Wᵀ (+ adapters)
    func project(_ l: Int, _ p: Projection, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int) {
        let (OUT, IN) = shape(p)
        guard let frozenBase, let lora else {
            Linear.forward(y: y, x: x, weight: parameters.pointer + offset(p, layout.layers[l]), bias: nil, rows: rows,
                           inFeatures: IN, outFeatures: OUT)
            return
        }
        Linear.forward(out: y, inp: x, weight: matrix(p, frozenBase.frozenLayer(l)), bias: nil, rows: rows)
        switch p {
        case .output: lora.addLowRank(layer: l, target: .o, x: x, rows: rows, y: y, ldy: OUT)
        case .gateUp: lora.addGateUp(layer: l, x: x, rows: rows, gateUp: y)
        case .down: lora.addLowRank(layer: l, target: .down, x: x, rows: rows, y: y, ldy: OUT)
        }
    }

    // dy: [rows, out] → dx: [rows, in] +=; weight (full) or adapter (LoRA) gradients +=
    func projectBackward(_ l: Int, _ p: Projection, dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                         x: UnsafePointer<Float>, rows: Int) {
        let (OUT, IN) = shape(p)
        guard let frozenBase, let lora else {
            let weight = offset(p, layout.layers[l])
            Linear.backward(dx: dx, dWeight: gradients.pointer + weight, dBias: nil, dy: dy, x: x,
                            weight: parameters.pointer + weight, rows: rows, inFeatures: IN, outFeatures: OUT)
            return
        }
        let targets: [LoRATarget] = p == .output ? [.o] : p == .down ? [.down] : [.gate, .up]
        for target in targets {
            lora.backwardLowRank(layer: l, target: target, dy: dy + target.fusedColumn(configuration), ldy: OUT, x: x,
                                 rows: rows, dx: dx, gradients: gradients.pointer)
        }
        FrozenLinear.backwardInput(dx: dx, dy: dy, ldy: OUT, weight: matrix(p, frozenBase.frozenLayer(l)), rows: rows)
    }

    // out: [rows, C] ← embedding rows of tokens
    func embed(_ tokens: UnsafePointer<Int32>, out: UnsafeMutablePointer<Float>, rows: Int) {
        let C = configuration.hiddenSize
        guard let frozenBase else {
            return Embedding.forward(out: out, table: parameters.pointer + layout.embedding, tokens: tokens, rows: rows,
                                     channels: C)
        }
        frozenBase.withFrozenEmbedding { Embedding.forward(out: out, table: $0, tokens: tokens, rows: rows, channels: C) }
    }

    // x: [rows, C] → logits: [rows, V]
    func headForward(logits: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int) {
        let c = configuration
        guard let frozenBase else {
            return Linear.forward(y: logits, x: x, weight: parameters.pointer + layout.head, bias: nil, rows: rows,
                                  inFeatures: c.hiddenSize, outFeatures: c.vocabularySize)
        }
        Linear.forward(out: logits, inp: x, weight: frozenBase.frozenHead, bias: nil, rows: rows)
    }

    // dLogits: [rows, V] → dx: [rows, C] +=; the head's weight gradient += in full training
    func headBackward(dx: UnsafeMutablePointer<Float>, dLogits: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int) {
        let c = configuration
        guard let frozenBase else {
            return Linear.backward(dx: dx, dWeight: gradients.pointer + layout.head, dBias: nil, dy: dLogits, x: x,
                                   weight: parameters.pointer + layout.head, rows: rows, inFeatures: c.hiddenSize,
                                   outFeatures: c.vocabularySize)
        }
        FrozenLinear.backwardInput(dx: dx, dy: dLogits, ldy: c.vocabularySize, weight: frozenBase.frozenHead, rows: rows)
    }
}

import Tensors

/// The parameters of a Gemma 3 decoder in inference layout: q/k/v and gate/up fused, and every RMSNorm weight
/// stored as the factor it multiplies by, 1 + w (Gemma's convention; named tensors hold Hugging Face's w).
struct Gemma3Weights {
    struct Layer {
        var attentionNorm: [Float]          // [C]
        var qkv: WeightMatrix               // [Q + 2 KV, C]: rows of q_proj, then k_proj, then v_proj
        var queryNorm: [Float]              // [D], per head
        var keyNorm: [Float]                // [D], per head
        var attentionOutput: WeightMatrix   // [C, Q]
        var postAttentionNorm: [Float]      // [C]
        var mlpNorm: [Float]                // [C]
        var gateUp: WeightMatrix            // [2 F, C]: rows of gate_proj, then up_proj
        var down: WeightMatrix              // [C, F]
        var postMLPNorm: [Float]            // [C]
    }

    var embedding: [Float]                  // [V, C], f32, unscaled (the forward pass multiplies by sqrt(C))
    var finalNorm: [Float]                  // [C]
    var head: WeightMatrix                  // [V, C]: the embedding (Gemma 3 ties them)
    var layers: [Layer]
    /// Every norm's w exactly as given (1 + w − 1 would round small w), for `namedTensors`.
    var normWeights: [String: [Float]]

    /// Builds from f32 tensors keyed by Hugging Face name, already checked against `TensorNameTable`.
    init(configuration c: ModelConfiguration, tensors: [String: NamedTensor], precision: WeightPrecision) {
        func norm(_ name: String) -> [Float] { tensors[name]!.values.map { 1 + $0 } }
        func matrix(_ names: [String]) -> WeightMatrix { FusedWeights.matrix(names, of: tensors, precision: precision) }
        normWeights = tensors.filter { TensorNameTable.isGemmaNorm($0.key) }.mapValues(\.values)
        embedding = tensors["model.embed_tokens.weight"]!.values
        finalNorm = norm("model.norm.weight")
        head = matrix([c.tiedEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"])
        layers = (0..<c.layerCount).map { l in
            let p = "model.layers.\(l)."
            return Layer(
                attentionNorm: norm(p + "input_layernorm.weight"),
                qkv: matrix([p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"]),
                queryNorm: norm(p + "self_attn.q_norm.weight"),
                keyNorm: norm(p + "self_attn.k_norm.weight"),
                attentionOutput: matrix([p + "self_attn.o_proj.weight"]),
                postAttentionNorm: norm(p + "post_attention_layernorm.weight"),
                mlpNorm: norm(p + "pre_feedforward_layernorm.weight"),
                gateUp: matrix([p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"]),
                down: matrix([p + "mlp.down_proj.weight"]),
                postMLPNorm: norm(p + "post_feedforward_layernorm.weight"))
        }
    }

    /// The parameters as f32 tensors keyed by Hugging Face name (norms as w, bf16-stored weights widened).
    func namedTensors(configuration c: ModelConfiguration) -> [String: NamedTensor] {
        let C = c.hiddenSize, F = c.intermediateSize, D = c.headDimension
        let Q = c.headCount * D, KV = c.keyValueHeadCount * D
        var result: [String: NamedTensor] = [
            "model.embed_tokens.weight": NamedTensor(shape: [c.vocabularySize, C], values: embedding),
        ]
        for (name, values) in normWeights { result[name] = NamedTensor(shape: [values.count], values: values) }
        if !c.tiedEmbeddings { result["lm_head.weight"] = NamedTensor(shape: [c.vocabularySize, C], values: head.toFloat32()) }
        for (l, layer) in layers.enumerated() {
            let p = "model.layers.\(l)."
            let qkv = FusedWeights.split(layer.qkv.toFloat32(), rows: [Q, KV, KV], columns: C)
            let gateUp = FusedWeights.split(layer.gateUp.toFloat32(), rows: [F, F], columns: C)
            result[p + "self_attn.q_proj.weight"] = NamedTensor(shape: [Q, C], values: qkv[0])
            result[p + "self_attn.k_proj.weight"] = NamedTensor(shape: [KV, C], values: qkv[1])
            result[p + "self_attn.v_proj.weight"] = NamedTensor(shape: [KV, C], values: qkv[2])
            result[p + "self_attn.o_proj.weight"] = NamedTensor(shape: [C, Q], values: layer.attentionOutput.toFloat32())
            result[p + "mlp.gate_proj.weight"] = NamedTensor(shape: [F, C], values: gateUp[0])
            result[p + "mlp.up_proj.weight"] = NamedTensor(shape: [F, C], values: gateUp[1])
            result[p + "mlp.down_proj.weight"] = NamedTensor(shape: [C, F], values: layer.down.toFloat32())
        }
        return result
    }

    /// Bytes of the linear weights one decode step streams (all matrices once).
    var linearWeightBytes: Int {
        head.byteCount + layers.reduce(0) { $0 + $1.qkv.byteCount + $1.attentionOutput.byteCount + $1.gateUp.byteCount + $1.down.byteCount }
    }
}

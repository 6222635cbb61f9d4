import Tensors

/// The parameters of a Llama/Qwen2 decoder in inference layout. q/k/v and gate/up are fused into one matrix each
/// (one pass over the activations and one parallel kernel call instead of three or two).
struct LlamaWeights {
    struct Layer {
        var attentionNorm: [Float]          // [C]
        var qkv: WeightMatrix               // [Q + 2 KV, C]: rows of q_proj, then k_proj, then v_proj
        var qkvBias: [Float]?               // [Q + 2 KV]
        var attentionOutput: WeightMatrix   // [C, Q]
        var mlpNorm: [Float]                // [C]
        var gateUp: WeightMatrix            // [2 F, C]: rows of gate_proj, then up_proj
        var down: WeightMatrix              // [C, F]
    }

    var embedding: [Float]                  // [V, C], always f32: a lookup reads only T rows
    var finalNorm: [Float]                  // [C]
    var head: WeightMatrix                  // [V, C]
    var layers: [Layer]

    /// Builds from f32 tensors keyed by Hugging Face name, already checked against `TensorNameTable`.
    init(configuration c: ModelConfiguration, tensors: [String: NamedTensor], precision: WeightPrecision) {
        self.init(configuration: c, tensor: { tensors[$0]! }, precision: precision)
    }

    /// Builds from a provider of the f32 tensors by Hugging Face name, asked for each tensor once.
    init(configuration c: ModelConfiguration, tensor: (String) -> NamedTensor, precision: WeightPrecision) {
        func values(_ name: String) -> [Float] { tensor(name).values }
        func matrix(_ names: [String]) -> WeightMatrix { FusedWeights.matrix(names, tensor: tensor, precision: precision) }
        embedding = values("model.embed_tokens.weight")
        finalNorm = values("model.norm.weight")
        head = matrix([c.tiedEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"])
        layers = (0..<c.layerCount).map { l in
            let p = "model.layers.\(l)."
            return Layer(
                attentionNorm: values(p + "input_layernorm.weight"),
                qkv: matrix([p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"]),
                qkvBias: c.attentionBias
                    ? values(p + "self_attn.q_proj.bias") + values(p + "self_attn.k_proj.bias") + values(p + "self_attn.v_proj.bias")
                    : nil,
                attentionOutput: matrix([p + "self_attn.o_proj.weight"]),
                mlpNorm: values(p + "post_attention_layernorm.weight"),
                gateUp: matrix([p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"]),
                down: matrix([p + "mlp.down_proj.weight"]))
        }
    }

    /// The parameters as f32 tensors keyed by Hugging Face name (bf16-stored weights come back widened).
    func namedTensors(configuration c: ModelConfiguration) -> [String: NamedTensor] {
        let C = c.hiddenSize, F = c.intermediateSize
        let Q = c.headCount * c.headDimension, KV = c.keyValueHeadCount * c.headDimension
        var result: [String: NamedTensor] = [
            "model.embed_tokens.weight": NamedTensor(shape: [c.vocabularySize, C], values: embedding),
            "model.norm.weight": NamedTensor(shape: [C], values: finalNorm),
        ]
        if !c.tiedEmbeddings { result["lm_head.weight"] = NamedTensor(shape: [c.vocabularySize, C], values: head.toFloat32()) }
        func split(_ values: [Float], rows: [Int], columns: Int) -> [[Float]] { FusedWeights.split(values, rows: rows, columns: columns) }
        for (l, layer) in layers.enumerated() {
            let p = "model.layers.\(l)."
            let qkv = split(layer.qkv.toFloat32(), rows: [Q, KV, KV], columns: C)
            let gateUp = split(layer.gateUp.toFloat32(), rows: [F, F], columns: C)
            result[p + "input_layernorm.weight"] = NamedTensor(shape: [C], values: layer.attentionNorm)
            result[p + "self_attn.q_proj.weight"] = NamedTensor(shape: [Q, C], values: qkv[0])
            result[p + "self_attn.k_proj.weight"] = NamedTensor(shape: [KV, C], values: qkv[1])
            result[p + "self_attn.v_proj.weight"] = NamedTensor(shape: [KV, C], values: qkv[2])
            result[p + "self_attn.o_proj.weight"] = NamedTensor(shape: [C, Q], values: layer.attentionOutput.toFloat32())
            result[p + "post_attention_layernorm.weight"] = NamedTensor(shape: [C], values: layer.mlpNorm)
            result[p + "mlp.gate_proj.weight"] = NamedTensor(shape: [F, C], values: gateUp[0])
            result[p + "mlp.up_proj.weight"] = NamedTensor(shape: [F, C], values: gateUp[1])
            result[p + "mlp.down_proj.weight"] = NamedTensor(shape: [C, F], values: layer.down.toFloat32())
            if let bias = layer.qkvBias {
                let parts = split(bias, rows: [Q, KV, KV], columns: 1)
                result[p + "self_attn.q_proj.bias"] = NamedTensor(shape: [Q], values: parts[0])
                result[p + "self_attn.k_proj.bias"] = NamedTensor(shape: [KV], values: parts[1])
                result[p + "self_attn.v_proj.bias"] = NamedTensor(shape: [KV], values: parts[2])
            }
        }
        return result
    }

    /// Bytes of the linear weights one decode step streams (all matrices once).
    var linearWeightBytes: Int {
        head.byteCount + layers.reduce(0) { $0 + $1.qkv.byteCount + $1.attentionOutput.byteCount + $1.gateUp.byteCount + $1.down.byteCount }
    }
}

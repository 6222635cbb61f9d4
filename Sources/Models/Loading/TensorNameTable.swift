/// The one table from checkpoint tensor names to model parameters, with the shape each must have.
/// Hugging Face names are the model's own names; GGUF names are translated to them on load.
public struct ParameterSpec: Sendable, Equatable {
    /// Hugging Face name, e.g. `model.layers.3.self_attn.q_proj.weight`.
    public let name: String
    /// GGUF name, e.g. `blk.3.attn_q.weight`.
    public let ggufName: String
    /// PyTorch order ([out, in] for linear weights).
    public let shape: [Int]
}

public enum TensorNameTable {
    /// Every parameter a model of this configuration needs.
    public static func parameters(for c: ModelConfiguration) -> [ParameterSpec] {
        let C = c.hiddenSize, F = c.intermediateSize
        let Q = c.headCount * c.headDimension, KV = c.keyValueHeadCount * c.headDimension
        var specs = [
            ParameterSpec(name: "model.embed_tokens.weight", ggufName: "token_embd.weight", shape: [c.vocabularySize, C]),
            ParameterSpec(name: "model.norm.weight", ggufName: "output_norm.weight", shape: [C]),
        ]
        if !c.tiedEmbeddings {
            specs.append(ParameterSpec(name: "lm_head.weight", ggufName: "output.weight", shape: [c.vocabularySize, C]))
        }
        for layer in 0..<c.layerCount {
            let hf = "model.layers.\(layer).", gguf = "blk.\(layer)."
            func spec(_ hfName: String, _ ggufName: String, _ shape: [Int]) -> ParameterSpec {
                ParameterSpec(name: hf + hfName, ggufName: gguf + ggufName, shape: shape)
            }
            if c.architecture == .gemma3 {
                // Gemma 3 normalizes q and k per head, and the outputs of attention and MLP before the residual
                // adds: its `post_attention_layernorm` is llama.cpp's `post_attention_norm`, and the pre-MLP norm
                // is `pre_feedforward_layernorm`.
                specs += [
                    spec("input_layernorm.weight", "attn_norm.weight", [C]),
                    spec("self_attn.q_proj.weight", "attn_q.weight", [Q, C]),
                    spec("self_attn.k_proj.weight", "attn_k.weight", [KV, C]),
                    spec("self_attn.v_proj.weight", "attn_v.weight", [KV, C]),
                    spec("self_attn.q_norm.weight", "attn_q_norm.weight", [c.headDimension]),
                    spec("self_attn.k_norm.weight", "attn_k_norm.weight", [c.headDimension]),
                    spec("self_attn.o_proj.weight", "attn_output.weight", [C, Q]),
                    spec("post_attention_layernorm.weight", "post_attention_norm.weight", [C]),
                    spec("pre_feedforward_layernorm.weight", "ffn_norm.weight", [C]),
                    spec("mlp.gate_proj.weight", "ffn_gate.weight", [F, C]),
                    spec("mlp.up_proj.weight", "ffn_up.weight", [F, C]),
                    spec("mlp.down_proj.weight", "ffn_down.weight", [C, F]),
                    spec("post_feedforward_layernorm.weight", "post_ffw_norm.weight", [C]),
                ]
                continue
            }
            specs += [
                spec("input_layernorm.weight", "attn_norm.weight", [C]),
                spec("self_attn.q_proj.weight", "attn_q.weight", [Q, C]),
                spec("self_attn.k_proj.weight", "attn_k.weight", [KV, C]),
                spec("self_attn.v_proj.weight", "attn_v.weight", [KV, C]),
                spec("self_attn.o_proj.weight", "attn_output.weight", [C, Q]),
                spec("post_attention_layernorm.weight", "ffn_norm.weight", [C]),
                spec("mlp.gate_proj.weight", "ffn_gate.weight", [F, C]),
                spec("mlp.up_proj.weight", "ffn_up.weight", [F, C]),
                spec("mlp.down_proj.weight", "ffn_down.weight", [C, F]),
            ]
            if c.attentionBias {
                specs += [
                    spec("self_attn.q_proj.bias", "attn_q.bias", [Q]),
                    spec("self_attn.k_proj.bias", "attn_k.bias", [KV]),
                    spec("self_attn.v_proj.bias", "attn_v.bias", [KV]),
                ]
            }
        }
        return specs
    }

    /// Gemma's RMSNorm scales by (1 + w): the norm weights whose Hugging Face value is w (llama.cpp stores 1 + w).
    public static func isGemmaNorm(_ name: String) -> Bool { name.hasSuffix("norm.weight") }

    /// Checks that `available` (name → shape) holds exactly the parameters of `configuration`, each with its
    /// shape. `name` picks which naming the checkpoint uses. Missing and unused tensors are reported by name.
    public static func validate(available: [String: [Int]], configuration: ModelConfiguration,
                                naming name: (ParameterSpec) -> String, source: String) throws {
        let specs = parameters(for: configuration)
        let missing = specs.map(name).filter { available[$0] == nil }
        if !missing.isEmpty { throw ModelError.missingTensors(missing, source: source) }
        for spec in specs where available[name(spec)]! != spec.shape {
            throw ModelError.shapeMismatch(tensor: name(spec), expected: spec.shape, found: available[name(spec)]!, source: source)
        }
        let expected = Set(specs.map(name))
        let unused = available.keys.filter { !expected.contains($0) }.sorted()
        if !unused.isEmpty { throw ModelError.unusedTensors(unused, source: source) }
    }

    /// `validate` for named f32 tensors, also checking that each holds as many values as its shape says.
    public static func validate(tensors: [String: NamedTensor], configuration: ModelConfiguration, source: String) throws {
        try validate(available: tensors.mapValues(\.shape), configuration: configuration, naming: { $0.name }, source: source)
        for (name, tensor) in tensors where tensor.values.count != tensor.shape.reduce(1, *) {
            throw ModelError.invalidConfiguration(source: source, detail: "tensor \(name) has \(tensor.values.count) values for shape \(tensor.shape)")
        }
    }
}

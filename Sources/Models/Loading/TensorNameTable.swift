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
}

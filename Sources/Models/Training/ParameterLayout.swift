import Tensors

/// Where each named tensor lives in one flat Float32 buffer. Names and shapes are the engine's
/// (`TensorNameTable`, Hugging Face names), so export, import and the inference model agree on them.
public struct ParameterLayout: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var offset: Int
        public var count: Int { shape.reduce(1, *) }
        public var range: Range<Int> { offset..<(offset + count) }
    }

    /// Offsets of one decoder layer's tensors. `gateUp` is gate_proj followed by up_proj: [2F, C].
    public struct LayerOffsets: Sendable, Equatable {
        public var attentionNorm, query, key, value, output, mlpNorm, gateUp, down: Int
        public var queryBias, keyBias, valueBias: Int?
        /// Gemma 3 only: per-head q and k norms and the norms of the attention and MLP outputs. (Its `mlpNorm` is
        /// `pre_feedforward_layernorm`.)
        public var queryNorm, keyNorm, postAttentionNorm, postMLPNorm: Int?
    }

    public let entries: [Entry]
    public let totalCount: Int
    public let embedding: Int
    public let layers: [LayerOffsets]
    public let finalNorm: Int
    /// The output head's weight: the embedding's offset when embeddings are tied.
    public let head: Int

    private let indexByName: [String: Int]

    /// Lays out the parameters of the engine's `TensorNameTable`, with each layer's up projection right after its
    /// gate projection so that the two form one [2F, C] matrix (one GEMM, the engine's fused SwiGLU layout).
    /// `vectorsOnly` lays out only the one-dimensional tensors (norms, biases: what a LoRA model copies from its
    /// frozen base); the offsets of the matrices are then -1, never to be read.
    public init(configuration c: ModelConfiguration, vectorsOnly: Bool = false) {
        let specs = TensorNameTable.parameters(for: c).filter { !vectorsOnly || $0.shape.count < 2 }
        let specByName = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0) })
        var entries: [Entry] = []
        var total = 0
        for spec in specs where !spec.name.hasSuffix("mlp.up_proj.weight") {
            var group = [spec]
            if spec.name.hasSuffix("mlp.gate_proj.weight") {
                group.append(specByName[spec.name.replacingOccurrences(of: "gate_proj", with: "up_proj")]!)
            }
            for member in group {
                entries.append(Entry(name: member.name, shape: member.shape, offset: total))
                total += entries.last!.count
            }
        }
        self.entries = entries
        totalCount = total
        let index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
        indexByName = index
        func offset(_ name: String) -> Int { index[name].map { entries[$0].offset } ?? -1 }
        embedding = offset("model.embed_tokens.weight")
        finalNorm = offset("model.norm.weight")
        head = c.tiedEmbeddings ? embedding : offset("lm_head.weight")
        layers = (0..<c.layerCount).map { l in
            let p = "model.layers.\(l)."
            if c.architecture == .gemma3 {
                return LayerOffsets(
                    attentionNorm: offset(p + "input_layernorm.weight"), query: offset(p + "self_attn.q_proj.weight"),
                    key: offset(p + "self_attn.k_proj.weight"), value: offset(p + "self_attn.v_proj.weight"),
                    output: offset(p + "self_attn.o_proj.weight"), mlpNorm: offset(p + "pre_feedforward_layernorm.weight"),
                    gateUp: offset(p + "mlp.gate_proj.weight"), down: offset(p + "mlp.down_proj.weight"),
                    queryBias: nil, keyBias: nil, valueBias: nil,
                    queryNorm: offset(p + "self_attn.q_norm.weight"), keyNorm: offset(p + "self_attn.k_norm.weight"),
                    postAttentionNorm: offset(p + "post_attention_layernorm.weight"),
                    postMLPNorm: offset(p + "post_feedforward_layernorm.weight"))
            }
            return LayerOffsets(
                attentionNorm: offset(p + "input_layernorm.weight"), query: offset(p + "self_attn.q_proj.weight"),
                key: offset(p + "self_attn.k_proj.weight"), value: offset(p + "self_attn.v_proj.weight"),
                output: offset(p + "self_attn.o_proj.weight"), mlpNorm: offset(p + "post_attention_layernorm.weight"),
                gateUp: offset(p + "mlp.gate_proj.weight"), down: offset(p + "mlp.down_proj.weight"),
                queryBias: c.attentionBias ? offset(p + "self_attn.q_proj.bias") : nil,
                keyBias: c.attentionBias ? offset(p + "self_attn.k_proj.bias") : nil,
                valueBias: c.attentionBias ? offset(p + "self_attn.v_proj.bias") : nil)
        }
    }

    public func entry(named name: String) -> Entry? { indexByName[name].map { entries[$0] } }

    /// Norm weights and biases (one-dimensional tensors) are conventionally exempt from weight decay.
    public func isMatrix(_ entry: Entry) -> Bool { entry.shape.count >= 2 }
}

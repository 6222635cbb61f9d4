import Tensors

/// Where each named tensor lives in one flat Float32 buffer. Names are the Hugging Face checkpoint names
/// (`model.layers.3.self_attn.q_proj.weight`), so export, import and the inference engine agree on them.
public struct ParameterLayout: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var offset: Int
        public var count: Int { shape.reduce(1, *) }
        public var range: Range<Int> { offset..<(offset + count) }
    }

    /// Offsets of one decoder layer's tensors.
    public struct LayerOffsets: Sendable, Equatable {
        public var attentionNorm, query, key, value, output, mlpNorm, gate, up, down: Int
        public var queryBias, keyBias, valueBias: Int?
    }

    public private(set) var entries: [Entry] = []
    public private(set) var totalCount = 0
    public let embedding: Int
    public let layers: [LayerOffsets]
    public let finalNorm: Int
    /// The output head's weight: the embedding's offset when embeddings are tied.
    public let head: Int

    private var indexByName: [String: Int] = [:]

    public init(configuration c: ModelConfiguration) {
        var entries: [Entry] = []
        var total = 0
        func add(_ name: String, _ shape: [Int]) -> Int {
            let entry = Entry(name: name, shape: shape, offset: total)
            entries.append(entry)
            total += entry.count
            return entry.offset
        }
        let queryWidth = c.headCount * c.headDimension
        let keyValueWidth = c.keyValueHeadCount * c.headDimension
        embedding = add("model.embed_tokens.weight", [c.vocabularySize, c.hiddenSize])
        var layers: [LayerOffsets] = []
        for l in 0..<c.layerCount {
            let p = "model.layers.\(l)."
            let attentionNorm = add(p + "input_layernorm.weight", [c.hiddenSize])
            let query = add(p + "self_attn.q_proj.weight", [queryWidth, c.hiddenSize])
            let queryBias = c.attentionBias ? add(p + "self_attn.q_proj.bias", [queryWidth]) : nil
            let key = add(p + "self_attn.k_proj.weight", [keyValueWidth, c.hiddenSize])
            let keyBias = c.attentionBias ? add(p + "self_attn.k_proj.bias", [keyValueWidth]) : nil
            let value = add(p + "self_attn.v_proj.weight", [keyValueWidth, c.hiddenSize])
            let valueBias = c.attentionBias ? add(p + "self_attn.v_proj.bias", [keyValueWidth]) : nil
            let output = add(p + "self_attn.o_proj.weight", [c.hiddenSize, queryWidth])
            let mlpNorm = add(p + "post_attention_layernorm.weight", [c.hiddenSize])
            let gate = add(p + "mlp.gate_proj.weight", [c.intermediateSize, c.hiddenSize])
            let up = add(p + "mlp.up_proj.weight", [c.intermediateSize, c.hiddenSize])
            let down = add(p + "mlp.down_proj.weight", [c.hiddenSize, c.intermediateSize])
            layers.append(LayerOffsets(attentionNorm: attentionNorm, query: query, key: key, value: value,
                                       output: output, mlpNorm: mlpNorm, gate: gate, up: up, down: down,
                                       queryBias: queryBias, keyBias: keyBias, valueBias: valueBias))
        }
        self.layers = layers
        finalNorm = add("model.norm.weight", [c.hiddenSize])
        head = c.tiedEmbeddings ? embedding : add("lm_head.weight", [c.vocabularySize, c.hiddenSize])
        self.entries = entries
        totalCount = total
        indexByName = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    public func entry(named name: String) -> Entry? { indexByName[name].map { entries[$0] } }

    /// Norm weights and biases (one-dimensional tensors) are conventionally exempt from weight decay.
    public func isMatrix(_ entry: Entry) -> Bool { entry.shape.count >= 2 }
}

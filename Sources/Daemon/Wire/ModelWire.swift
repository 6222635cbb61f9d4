import Generation
import Models
import Tensors

/// `model_info` in schemas/common.json.
struct ModelInfo: Codable, Sendable, Equatable {
    var name: String
    var path: String
    var architecture: String
    var parameters: Int
    var vocabulary_size: Int
    var context_length: Int
    var layers: Int
    var hidden_size: Int
    var weights: String
    /// The PEFT LoRA folder loaded on top of the weights, or nil.
    var adapter: String?

    init(_ loaded: LoadedModel, precision: WeightPrecision) {
        adapter = loaded.adapterPath
        let c = loaded.model.configuration
        name = loaded.name
        path = loaded.path
        architecture = c.architecture.rawValue
        parameters = ModelInfo.parameterCount(c)
        vocabulary_size = c.vocabularySize
        context_length = c.contextLength
        layers = c.layerCount
        hidden_size = c.hiddenSize
        weights = precision.rawValue
    }

    /// Parameters of a Llama/Qwen2 decoder with this configuration (embedding, per-layer projections and norms,
    /// final norm, and the output head when it is not tied).
    static func parameterCount(_ c: ModelConfiguration) -> Int {
        let kvWidth = c.keyValueHeadCount * c.headDimension
        let qWidth = c.headCount * c.headDimension
        var perLayer = c.hiddenSize * qWidth + 2 * c.hiddenSize * kvWidth + qWidth * c.hiddenSize
        perLayer += 3 * c.hiddenSize * c.intermediateSize + 2 * c.hiddenSize
        if c.attentionBias { perLayer += qWidth + 2 * kvWidth }
        let embedding = c.vocabularySize * c.hiddenSize
        return embedding + c.layerCount * perLayer + c.hiddenSize + (c.tiedEmbeddings ? 0 : embedding)
    }
}

struct ModelLoadParams: WireParams {
    var path: String
    var weights: WeightPrecision?
    /// A PEFT LoRA folder to apply on top of the model (the trainer then trains these adapters).
    var adapter: String?
    /// Loading starts a new trainer; true lets it drop updates that were never saved or exported.
    var discard_training: Bool?
    enum CodingKeys: String, CodingKey, CaseIterable { case path, weights, adapter, discard_training }
    static let acceptedFields = CodingKeys.names
}

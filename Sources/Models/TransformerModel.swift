import Tensors

/// An inference model built from checkpoint weights (Llama/Qwen2 or Gemma 3): what loading, benchmarks and
/// training need beyond the decoding contract.
public protocol TransformerModel: InferenceModel {
    /// How the linear weights are stored for inference.
    var precision: WeightPrecision { get }
    /// Where the weights came from (file or folder), for messages.
    var source: String { get }
    /// How sequences cache keys and values.
    var cacheFormat: KeyValueFormat { get }
    /// Bytes of linear weights one decode step reads.
    var linearWeightBytes: Int { get }
    /// The parameters as f32 tensors keyed by Hugging Face name (for training and checkpoints).
    func namedTensors() -> [String: NamedTensor]
    /// Replaces every parameter; refused while sequences hold keys and values computed with the old weights.
    func replaceWeights(_ tensors: [String: NamedTensor]) throws
    /// LoRA adapters applied at run time on top of the (unchanged) base weights, or nil.
    var adapters: LoRAAdapters? { get }
    /// Sets or removes the run-time adapters; refused while sequences are cached.
    func setAdapters(_ adapters: LoRAAdapters?) throws
}

extension TransformerModel {
    static func checkAdapters(_ adapters: LoRAAdapters?, for configuration: ModelConfiguration) throws {
        guard let adapters, adapters.model != configuration else { return }
        throw ModelError.invalidConfiguration(source: "LoRA adapters", detail: "made for another model shape")
    }
}

extension LlamaModel: TransformerModel {}

/// A parameter tensor in f32 with its PyTorch-order shape ([out, in] for a linear weight). The model's
/// parameters are exchanged as `[String: NamedTensor]` keyed by Hugging Face names
/// (`model.layers.0.self_attn.q_proj.weight`), whatever file they came from.
public struct NamedTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}

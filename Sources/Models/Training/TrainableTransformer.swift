import Tensors

/// A Llama/Qwen2 decoder whose parameters and gradients are flat Float32 buffers, with a forward pass that keeps
/// what the backward pass needs. Used by the trainer; the inference engine receives its weights by name.
///
/// Two modes. Full training: every parameter lives in `parameters` and is trained. LoRA (`lora` set): the base
/// model is an inference model's weights, frozen and read in place in its precision (`frozenBase`); `parameters`
/// then holds only copies of its norm weights and biases, and the adapters are the only trained parameters.
///
/// Not thread-safe: one owner (the trainer's compute thread) uses it.
public final class TrainableTransformer {
    public let configuration: ModelConfiguration
    /// Where the base tensors of `parameters` live: all of them, or only the one-dimensional ones under LoRA.
    public let layout: ParameterLayout
    public let parameters: FloatBuffer
    /// LoRA: the adapters, the only trained parameters.
    public let lora: LoRAAdapters?
    /// LoRA: the inference model whose weights are the frozen base.
    let frozenBase: (any FrozenDecoderBase)?
    /// LoRA: the frozen base model (the engine the rollouts run on).
    public var baseModel: (any TransformerModel)? { frozenBase }
    /// What the optimizer updates: every parameter, or the adapters.
    public var trainableValues: FloatBuffer { lora?.values ?? parameters }
    public var trainableEntries: [ParameterLayout.Entry] { lora?.entries ?? layout.entries }
    /// Gradients of `trainableValues`, same layout. Allocated on first use, so a frozen reference copy costs no
    /// gradient memory.
    public private(set) lazy var gradients = FloatBuffer(count: trainableValues.count)

    public init(configuration: ModelConfiguration) throws {
        try configuration.validate(source: "trainable model")
        self.configuration = configuration
        layout = ParameterLayout(configuration: configuration)
        parameters = FloatBuffer(count: layout.totalCount)
        lora = nil
        frozenBase = nil
        // Norms start as the identity: weight 1, or Gemma's w = 0 (it multiplies by 1 + w).
        for entry in layout.entries where entry.name.hasSuffix("layernorm.weight") || entry.name == "model.norm.weight" {
            (parameters.pointer + entry.offset).update(repeating: normIdentity, count: entry.count)
        }
    }

    /// LoRA over `base`, whose weights stay where they are, in its precision: the forward pass runs the engine's
    /// kernels on them and the backward pass computes only input gradients through them. `adapters` (e.g. loaded
    /// from a PEFT folder) or new ones initialised like PEFT from `seed`.
    public init(base: any TransformerModel, lora configuration: LoRAConfiguration, adapters: LoRAAdapters? = nil,
                seed: UInt64 = 0) throws {
        guard let frozen = base as? any FrozenDecoderBase else {
            throw TrainingModelError.invalidConfiguration("\(type(of: base)) cannot serve as a frozen LoRA base")
        }
        if let adapters, adapters.configuration != configuration || adapters.model != base.configuration {
            throw TrainingModelError.invalidConfiguration("the adapters were made for another LoRA configuration or model")
        }
        self.configuration = base.configuration
        layout = ParameterLayout(configuration: base.configuration, vectorsOnly: true)
        let vectors = FloatBuffer(count: layout.totalCount)
        let tensors = frozen.vectorTensors()
        for entry in layout.entries {
            guard let tensor = tensors[entry.name], tensor.values.count == entry.count else {
                throw TrainingModelError.invalidConfiguration("the base model has no \(entry.name)")
            }
            tensor.values.withUnsafeBufferPointer { (vectors.pointer + entry.offset).update(from: $0.baseAddress!, count: entry.count) }
        }
        parameters = vectors
        frozenBase = frozen
        if let adapters {
            lora = adapters
        } else {
            let made = try LoRAAdapters(configuration: configuration, model: base.configuration)
            made.initializeLikePEFT(seed: seed)
            lora = made
        }
    }

    /// A copy with the same parameters and no gradients (e.g. the frozen KL reference). Under LoRA the copy shares
    /// the frozen base and copies the adapters.
    public func copy() throws -> TrainableTransformer {
        if let lora, let frozenBase {
            return try TrainableTransformer(base: frozenBase, lora: lora.configuration, adapters: try lora.copy())
        }
        let result = try TrainableTransformer(configuration: configuration)
        result.parameters.copy(from: parameters)
        return result
    }

    /// Normal(0, standardDeviation) matrices, unit norm weights, zero biases: a small random model for tests and
    /// benchmarks.
    public func initializeRandomly(seed: UInt64, standardDeviation: Float = 0.02) {
        precondition(lora == nil, "a LoRA model's base is frozen")
        var generator = SeededGenerator(seed: seed)
        for entry in layout.entries {
            let p = parameters.pointer + entry.offset
            if layout.isMatrix(entry) {
                for i in 0..<entry.count { p[i] = Float(generator.nextGaussian()) * standardDeviation }
            } else if entry.name.hasSuffix(".bias") {
                p.update(repeating: 0, count: entry.count)
            } else {
                p.update(repeating: normIdentity, count: entry.count)
            }
        }
    }

    public func zeroGradients() { gradients.zero() }

    /// Checks every token id and sequence length; the kernels index memory with them.
    func validate(_ batch: PackedSequences) throws {
        for segment in batch.segments {
            guard !segment.isEmpty else { throw TrainingModelError.emptySequence }
            guard segment.count <= configuration.contextLength else {
                throw TrainingModelError.sequenceTooLong(length: segment.count,
                                                         contextLength: configuration.contextLength)
            }
        }
        for token in batch.tokens where token < 0 || Int(token) >= configuration.vocabularySize {
            throw TrainingModelError.tokenOutOfRange(token: token, vocabularySize: configuration.vocabularySize)
        }
    }

    /// The norm weight that leaves its input unscaled: 1, or 0 for Gemma's (1 + w).
    var normIdentity: Float { configuration.architecture == .gemma3 ? 0 : 1 }

    /// The factor a norm multiplies by, from its `count` parameters at `offset`: the weights themselves, or
    /// 1 + w for Gemma 3 (whose gradient is the gradient of w).
    func normFactor(_ offset: Int, count: Int) -> FloatBuffer {
        let factor = FloatBuffer(count: count)
        let shift: Float = configuration.architecture == .gemma3 ? 1 : 0
        for i in 0..<count { factor.pointer[i] = parameters.pointer[offset + i] + shift }
        return factor
    }

    var ropePairing: RoPE.Pairing { configuration.ropePairing == .adjacent ? .adjacent : .halves }
}

import Tensors

/// A Llama/Qwen2 decoder whose parameters and gradients are flat Float32 buffers, with a forward pass that keeps
/// what the backward pass needs. Used by the trainer; the inference engine receives its weights by name.
///
/// Not thread-safe: one owner (the trainer's compute thread) uses it.
public final class TrainableTransformer {
    public let configuration: ModelConfiguration
    public let layout: ParameterLayout
    public let parameters: FloatBuffer
    /// Allocated on first use, so a frozen reference copy costs no gradient memory.
    public private(set) lazy var gradients = FloatBuffer(count: layout.totalCount)

    public init(configuration: ModelConfiguration) throws {
        try configuration.validate(source: "trainable model")
        self.configuration = configuration
        layout = ParameterLayout(configuration: configuration)
        parameters = FloatBuffer(count: layout.totalCount)
        // Norms start as the identity: weight 1, or Gemma's w = 0 (it multiplies by 1 + w).
        for entry in layout.entries where entry.name.hasSuffix("layernorm.weight") || entry.name == "model.norm.weight" {
            (parameters.pointer + entry.offset).update(repeating: normIdentity, count: entry.count)
        }
    }

    /// A copy with the same parameters and no gradients (e.g. the frozen KL reference).
    public func copy() throws -> TrainableTransformer {
        let result = try TrainableTransformer(configuration: configuration)
        result.parameters.copy(from: parameters)
        return result
    }

    /// Normal(0, standardDeviation) matrices, unit norm weights, zero biases: a small random model for tests and
    /// benchmarks.
    public func initializeRandomly(seed: UInt64, standardDeviation: Float = 0.02) {
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

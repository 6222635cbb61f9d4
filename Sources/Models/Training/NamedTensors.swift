import Tensors

extension TrainableTransformer {
    /// Every parameter as f32 under its Hugging Face name (tied models have no `lm_head.weight`): what
    /// the engines' `init(configuration:tensors:)` and `replaceWeights` take.
    public func namedTensors() -> [String: NamedTensor] {
        Dictionary(uniqueKeysWithValues: layout.entries.map {
            ($0.name, NamedTensor(shape: $0.shape, values: parameters.array(range: $0.range)))
        })
    }

    /// Replaces every parameter. Missing, unknown and misshapen tensors are reported by name (the engine's
    /// `TensorNameTable` check) and nothing is changed then.
    public func load(_ tensors: [String: NamedTensor], source: String = "tensors") throws {
        try TensorNameTable.validate(available: tensors.mapValues(\.shape), configuration: configuration,
                                     naming: { $0.name }, source: source)
        for (name, tensor) in tensors where tensor.values.count != tensor.shape.reduce(1, *) {
            throw ModelError.invalidConfiguration(
                source: source, detail: "tensor \(name) has \(tensor.values.count) values for shape \(tensor.shape)")
        }
        for entry in layout.entries {
            tensors[entry.name]!.values.withUnsafeBufferPointer {
                (parameters.pointer + entry.offset).update(from: $0.baseAddress!, count: entry.count)
            }
        }
    }

    /// Pushes the current parameters into an inference model (after an update, before the next rollout).
    public func copyWeights(into model: any TransformerModel) throws {
        try model.replaceWeights(namedTensors())
    }

    /// A trainable model with the inference model's configuration, starting from the checkpoint's own weights. An
    /// f32 inference model holds them exactly; a bf16 or int8 one rounded them, so they are read again from its
    /// source file or folder: the precision of the rollouts never changes what is trained.
    public convenience init(from model: any TransformerModel) throws {
        try self.init(configuration: model.configuration)
        if model.precision == .f32 {
            try load(model.namedTensors(), source: model.source)
            return
        }
        let source = try ModelLoader.sourceTensors(path: model.source)
        guard source.configuration == model.configuration else {
            throw TrainingModelError.invalidConfiguration(
                "\(model.source) no longer holds the configuration the \(model.precision.rawValue) model was loaded with")
        }
        try load(source.tensors, source: model.source)
    }
}

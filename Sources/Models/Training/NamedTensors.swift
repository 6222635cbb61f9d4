import Tensors

extension TrainableTransformer {
    /// Every parameter as f32 under its Hugging Face name (tied models have no `lm_head.weight`): what
    /// the engines' `init(configuration:tensors:)` and `replaceWeights` take.
    /// Under LoRA: the merged model (see `mergedTensors`), over the base as the engine holds it.
    public func namedTensors() -> [String: NamedTensor] {
        if let lora, let frozenBase { return Self.merging(lora, into: frozenBase.namedTensors()) }
        return Dictionary(uniqueKeysWithValues: layout.entries.map {
            ($0.name, NamedTensor(shape: $0.shape, values: parameters.array(range: $0.range)))
        })
    }

    /// Replaces every parameter. Missing, unknown and misshapen tensors are reported by name (the engine's
    /// `TensorNameTable` check) and nothing is changed then.
    public func load(_ tensors: [String: NamedTensor], source: String = "tensors") throws {
        guard lora == nil else {
            throw TrainingModelError.invalidConfiguration("a LoRA model's base is frozen: load adapters instead")
        }
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
    /// Under LoRA only the adapters move: the engine keeps its base weights and adds the low-rank terms at run time.
    public func copyWeights(into model: any TransformerModel) throws {
        if let lora, let frozenBase {
            guard model === frozenBase else {
                throw TrainingModelError.invalidConfiguration("LoRA adapters go only into the model that is their frozen base")
            }
            return try model.setAdapters(try lora.copy())
        }
        try model.replaceWeights(namedTensors())
    }

    /// LoRA: every parameter of the merged model W + scale·B·A under Hugging Face names, the base exactly as its
    /// checkpoint holds it (read again from its file or folder when the engine rounded it to bf16 or int8, as
    /// `init(from:)` does). Full training: `namedTensors()`.
    public func mergedTensors() throws -> [String: NamedTensor] {
        guard let lora, let frozenBase else { return namedTensors() }
        guard frozenBase.precision != .f32 else { return namedTensors() }
        let source = try ModelLoader.sourceTensors(path: frozenBase.source)
        guard source.configuration == configuration else {
            throw TrainingModelError.invalidConfiguration("\(frozenBase.source) no longer holds the base model's configuration")
        }
        return Self.merging(lora, into: source.tensors)
    }

    /// tensors with scale·B·A added to every adapted weight.
    static func merging(_ lora: LoRAAdapters, into base: [String: NamedTensor]) -> [String: NamedTensor] {
        var tensors = base
        for l in 0..<lora.model.layerCount {
            for target in lora.configuration.targets {
                let name = "model.layers.\(l).\(target.modulePath).weight"
                guard let delta = lora.delta(layer: l, target: target), var tensor = tensors[name] else { continue }
                for i in 0..<delta.count { tensor.values[i] += delta[i] }
                tensors[name] = tensor
            }
        }
        return tensors
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

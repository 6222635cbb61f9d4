import Tensors

/// A tensor by checkpoint name: the currency between the trainer, checkpoints, exports and the inference engine.
public struct NamedTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

extension TrainableTransformer {
    /// Every parameter under its Hugging Face name (tied models have no `lm_head.weight`).
    public func namedTensors() -> [NamedTensor] {
        layout.entries.map { NamedTensor(name: $0.name, shape: $0.shape, values: parameters.array(range: $0.range)) }
    }

    /// Replaces every parameter. Throws, naming the tensor, on a missing, unknown or misshapen tensor; nothing is
    /// changed then.
    public func load(_ tensors: [NamedTensor]) throws {
        var byName: [String: NamedTensor] = [:]
        for tensor in tensors {
            guard let entry = layout.entry(named: tensor.name) else {
                throw TrainingModelError.unexpectedTensor(name: tensor.name)
            }
            guard tensor.shape == entry.shape, tensor.values.count == entry.count else {
                throw TrainingModelError.tensorShapeMismatch(name: tensor.name, expected: entry.shape,
                                                             found: tensor.shape)
            }
            byName[tensor.name] = tensor
        }
        for entry in layout.entries where byName[entry.name] == nil {
            throw TrainingModelError.missingTensor(name: entry.name)
        }
        for entry in layout.entries {
            byName[entry.name]!.values.withUnsafeBufferPointer {
                (parameters.pointer + entry.offset).update(from: $0.baseAddress!, count: entry.count)
            }
        }
    }
}

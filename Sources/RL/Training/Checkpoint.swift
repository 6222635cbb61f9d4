import Foundation
import Models
import Tensors

/// A training checkpoint: one safetensors file holding the policy's parameters (`policy/<name>`), the frozen
/// reference when there is one (`reference/<name>`), AdamW's moments (`adamw.m/<name>`, `adamw.v/<name>`), and in
/// its metadata (`torl.checkpoint`) the JSON of `CheckpointState`. When training LoRA only the trainable state is
/// saved: the adapters (PEFT names) under the same prefixes, and the LoRA configuration in the state; the frozen
/// base is the model the checkpoint is restored onto. One file is written atomically (temporary file,
/// fsync, rename, directory fsync), so a crash leaves either the previous checkpoint or the new one.
public enum Checkpoint {
    public static let formatVersion = 1
    static let metadataKey = "torl.checkpoint"

    public struct State: Codable, Equatable {
        public var formatVersion: Int
        /// Completed optimizer updates.
        public var step: Int
        /// The rollout sampler's generator state (`SeededGenerator.state`), as hexadecimal words.
        public var randomState: [String]
        public var model: ModelConfiguration
        public var trainer: TrainerConfiguration
        /// LoRA checkpoints: the adapters' configuration (nil for full training).
        public var lora: LoRAConfiguration?
    }

    public static func save(_ trainer: GRPOTrainer, randomState: [UInt64], to path: String) throws {
        let state = State(formatVersion: formatVersion, step: trainer.step,
                          randomState: randomState.map { String($0, radix: 16) },
                          model: trainer.policy.configuration, trainer: trainer.configuration,
                          lora: trainer.policy.lora?.configuration)
        let stateJSON = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        let entries = trainer.policy.trainableEntries
        func tensors(_ prefix: String, _ buffer: FloatBuffer) -> [SafetensorsWriter.Tensor] {
            entries.map {
                SafetensorsWriter.Tensor(name: prefix + $0.name, shape: $0.shape,
                                         values: UnsafeBufferPointer(start: buffer.pointer + $0.offset, count: $0.count))
            }
        }
        var all = tensors("policy/", trainer.policy.trainableValues)
        if let reference = trainer.reference { all += tensors("reference/", reference.trainableValues) }
        all += tensors("adamw.m/", trainer.optimizer.firstMoment) + tensors("adamw.v/", trainer.optimizer.secondMoment)
        try SafetensorsWriter.write(all, metadata: [metadataKey: stateJSON], to: path)
    }

    /// A trainer in the saved state, and the saved generator state. A LoRA checkpoint needs `base`, the model its
    /// adapters were trained on (same configuration).
    public static func restore(from path: String,
                               base: (any TransformerModel)? = nil) throws -> (trainer: GRPOTrainer, random: SeededGenerator) {
        let file = try SafetensorsFile(path: path)
        guard let json = try file.metadata()[metadataKey] else {
            throw TrainingFileError.invalidCheckpoint(path: path, detail: "no \(metadataKey) metadata")
        }
        let state: State
        do { state = try JSONDecoder().decode(State.self, from: Data(json.utf8)) } catch {
            throw TrainingFileError.invalidCheckpoint(path: path, detail: "unreadable state: \(error)")
        }
        guard state.formatVersion == formatVersion else {
            throw TrainingFileError.invalidCheckpoint(path: path, detail: "format version \(state.formatVersion)")
        }
        let words = state.randomState.compactMap { UInt64($0, radix: 16) }
        guard words.count == state.randomState.count, let random = SeededGenerator(state: words) else {
            throw TrainingFileError.invalidCheckpoint(path: path, detail: "bad generator state \(state.randomState)")
        }
        func make() throws -> TrainableTransformer {
            guard let lora = state.lora else { return try TrainableTransformer(configuration: state.model) }
            guard let base, base.configuration == state.model else {
                throw TrainingFileError.invalidCheckpoint(
                    path: path, detail: "a LoRA checkpoint is restored onto its base model, of the saved configuration")
            }
            return try TrainableTransformer(base: base, lora: lora)
        }
        let policy = try make()
        func read(_ prefix: String, into buffer: FloatBuffer) throws {
            for entry in policy.trainableEntries {
                guard let info = file.tensors[prefix + entry.name], info.dtype == .f32, info.shape == entry.shape else {
                    throw TrainingFileError.invalidCheckpoint(path: path,
                                                              detail: "tensor \(prefix + entry.name) is missing or misshapen")
                }
                file.float32(of: info).withUnsafeBufferPointer {
                    (buffer.pointer + entry.offset).update(from: $0.baseAddress!, count: entry.count)
                }
            }
        }
        try read("policy/", into: policy.trainableValues)
        var reference: TrainableTransformer?
        if file.tensors.keys.contains(where: { $0.hasPrefix("reference/") }) {
            let frozen = try make()
            try read("reference/", into: frozen.trainableValues)
            reference = frozen
        }
        let trainer = try GRPOTrainer(policy: policy, configuration: state.trainer, reference: reference)
        try read("adamw.m/", into: trainer.optimizer.firstMoment)
        try read("adamw.v/", into: trainer.optimizer.secondMoment)
        trainer.optimizer.stepCount = state.step
        return (trainer, random)
    }
}

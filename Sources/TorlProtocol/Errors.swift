import Foundation

/// torl's own error codes: the daemon's block, -32020...-32099 (docs/PROTOCOL.md, "Error codes"). Every error of
/// this block carries its kind in `data.kind` (`TorlErrorKind`), so a client can both show and branch on it.
public enum TorlErrorCode {
    public static let noModel = -32020
    public static let modelFile = -32021
    public static let generation = -32022
    public static let trainingBusy = -32023
    public static let sandboxUnavailable = -32024
    public static let dataset = -32025
    public static let checkpoint = -32026
    public static let tokenizer = -32027
    public static let training = -32028
    public static let unsavedTraining = -32029
    public static let cluster = -32030
}

/// `data.kind` of the daemon's errors, with the code each is sent under.
public enum TorlErrorKind: String, Codable, Sendable, CaseIterable {
    case noModel = "no_model"
    case modelFile = "model_file"
    case model
    case generation
    case rollout
    case trainingBusy = "training_busy"
    case sandboxUnavailable = "sandbox_unavailable"
    case sandbox
    case dataset
    case checkpoint
    case chatTemplate = "chat_template"
    case tokenizer
    case training
    /// `data` also holds `step` and `unsaved_steps` (`UnsavedTrainingData`).
    case unsavedTraining = "unsaved_training"
    case notInGroup = "not_in_group"
    case processGroup = "process_group"
    case collective
    case parametersDiverged = "parameters_diverged"

    public var code: Int {
        switch self {
        case .noModel: return TorlErrorCode.noModel
        case .modelFile, .model: return TorlErrorCode.modelFile
        case .generation, .rollout: return TorlErrorCode.generation
        case .trainingBusy: return TorlErrorCode.trainingBusy
        case .sandboxUnavailable, .sandbox: return TorlErrorCode.sandboxUnavailable
        case .dataset: return TorlErrorCode.dataset
        case .checkpoint: return TorlErrorCode.checkpoint
        case .chatTemplate, .tokenizer: return TorlErrorCode.tokenizer
        case .training: return TorlErrorCode.training
        case .unsavedTraining: return TorlErrorCode.unsavedTraining
        case .notInGroup, .processGroup, .collective, .parametersDiverged: return TorlErrorCode.cluster
        }
    }
}

/// `data` of an `unsaved_training` error: the trainer's step and the updates nobody saved.
public struct UnsavedTrainingData: Codable, Sendable, Equatable {
    public var kind: TorlErrorKind
    public var step: Int
    public var unsaved_steps: Int

    public init(step: Int, unsaved_steps: Int) {
        self.kind = .unsavedTraining
        self.step = step
        self.unsaved_steps = unsaved_steps
    }
}

import Cluster
import Foundation
import Generation
import JSONRPC
import Models
import RL
import Sandbox
import Tokenizers

/// torl's own error codes (the Daemon block, -32020...-32099, of docs/PROTOCOL.md), and the one place where the
/// modules' errors become JSON-RPC error objects. Every module error keeps its own words in `message` and its
/// kind in `data.kind`, so a client can both show and branch on it.
enum DaemonErrorCode {
    static let noModel = -32020
    static let modelFile = -32021
    static let generation = -32022
    static let trainingBusy = -32023
    static let sandboxUnavailable = -32024
    static let dataset = -32025
    static let checkpoint = -32026
    static let tokenizer = -32027
    static let training = -32028
    static let unsavedTraining = -32029
    static let cluster = -32030
}

enum DaemonError: Error, RPCErrorConvertible, CustomStringConvertible {
    case noModel
    case trainingInProgress(method: String)
    case sandboxUnavailable(String)
    /// `method` would replace a trainer at `step` whose last `unsavedSteps` updates are not saved or exported.
    case unsavedTraining(method: String, step: Int, unsavedSteps: Int)
    /// A data-parallel method was called before `cluster/join`.
    case notInProcessGroup(method: String)

    var description: String {
        switch self {
        case .noModel: return "no model is loaded: start the daemon with --model PATH or call model/load"
        case .trainingInProgress(let method):
            return "'\(method)' cannot run while a train_step is updating the model; retry when it finishes"
        case .sandboxUnavailable(let why): return "the Python sandbox is unavailable: \(why)"
        case let .unsavedTraining(method, step, unsaved):
            return "\(method) would discard the daemon's trainer: it is at step \(step) with \(unsaved) step(s) not saved or exported (checkpoint/save or model/export first, or send discard_training: true)"
        case .notInProcessGroup(let method):
            return "\(method) needs a process group: call cluster/join first"
        }
    }

    var rpcError: RPCError {
        switch self {
        case .noModel: return RPCError(code: DaemonErrorCode.noModel, message: description, data: ["kind": "no_model"])
        case .trainingInProgress:
            return RPCError(code: DaemonErrorCode.trainingBusy, message: description, data: ["kind": "training_busy"])
        case .sandboxUnavailable:
            return RPCError(code: DaemonErrorCode.sandboxUnavailable, message: description, data: ["kind": "sandbox_unavailable"])
        case .notInProcessGroup:
            return RPCError(code: DaemonErrorCode.cluster, message: description, data: ["kind": "not_in_group"])
        case let .unsavedTraining(_, step, unsaved):
            return RPCError(code: DaemonErrorCode.unsavedTraining, message: description, data: [
                "kind": "unsaved_training", "step": .int(Int64(step)), "unsaved_steps": .int(Int64(unsaved)),
            ])
        }
    }
}

private func moduleError(_ code: Int, kind: String, _ error: Error) -> RPCError {
    RPCError(code: code, message: String(describing: error), data: ["kind": .string(kind)])
}

extension ModelFormatError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.modelFile, kind: "model_file", self) }
}

extension GenerationError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.generation, kind: "generation", self) }
}

extension ProblemSetError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.dataset, kind: "dataset", self) }
}

extension ChatTemplateError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.tokenizer, kind: "chat_template", self) }
}

extension TokenizerError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.tokenizer, kind: "tokenizer", self) }
}

extension ModelError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.modelFile, kind: "model", self) }
}

extension DequantizeError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.modelFile, kind: "model_file", self) }
}

extension SandboxError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.sandboxUnavailable, kind: "sandbox", self) }
}

extension TrainingInputError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.training, kind: "training", self) }
}

extension TrainingModelError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.training, kind: "training", self) }
}

extension ProcessGroupError: RPCErrorConvertible {
    public var rpcError: RPCError {
        switch self {
        case .formation: return moduleError(DaemonErrorCode.cluster, kind: "process_group", self)
        case .collective: return moduleError(DaemonErrorCode.cluster, kind: "collective", self)
        }
    }
}

extension DataParallelError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.cluster, kind: "parameters_diverged", self) }
}

extension TrainingLoopError: RPCErrorConvertible {
    public var rpcError: RPCError {
        switch self {
        case let .invalidHyperParameter(name, reason): return RPCError.invalidParams(field: name, reason: reason)
        case .checkpointModelMismatch: return moduleError(DaemonErrorCode.checkpoint, kind: "checkpoint", self)
        default: return moduleError(DaemonErrorCode.training, kind: "training", self)
        }
    }
}

extension TrainingFileError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(DaemonErrorCode.checkpoint, kind: "checkpoint", self) }
}

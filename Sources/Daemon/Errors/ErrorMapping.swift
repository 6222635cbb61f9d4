import Cluster
import Foundation
import Generation
import JSONRPC
import Models
import RL
import Sandbox
import Tokenizers
import TorlProtocol

/// The one place where the modules' errors become JSON-RPC error objects, under the codes and kinds of
/// TorlProtocol's `TorlErrorKind` (the Daemon block, -32020...-32099, of docs/PROTOCOL.md). Every module error
/// keeps its own words in `message` and its kind in `data.kind`, so a client can both show and branch on it.
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
        case .noModel: return moduleError(.noModel, self)
        case .trainingInProgress: return moduleError(.trainingBusy, self)
        case .sandboxUnavailable: return moduleError(.sandboxUnavailable, self)
        case .notInProcessGroup: return moduleError(.notInGroup, self)
        case let .unsavedTraining(_, step, unsaved):
            let data = (try? JSONCoding.value(UnsavedTrainingData(step: step, unsaved_steps: unsaved))) ?? nil
            return RPCError(code: TorlErrorKind.unsavedTraining.code, message: description, data: data)
        }
    }
}

private func moduleError(_ kind: TorlErrorKind, _ error: Error) -> RPCError {
    RPCError(code: kind.code, message: String(describing: error), data: ["kind": .string(kind.rawValue)])
}

extension ModelFormatError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.modelFile, self) }
}

extension GenerationError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.generation, self) }
}

extension ProblemSetError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.dataset, self) }
}

extension ChatTemplateError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.chatTemplate, self) }
}

extension TokenizerError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.tokenizer, self) }
}

extension ModelError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.model, self) }
}

extension DequantizeError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.modelFile, self) }
}

extension SandboxError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.sandbox, self) }
}

extension TrainingInputError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.training, self) }
}

extension TrainingModelError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.training, self) }
}

extension ProcessGroupError: RPCErrorConvertible {
    public var rpcError: RPCError {
        switch self {
        case .formation: return moduleError(.processGroup, self)
        case .collective: return moduleError(.collective, self)
        }
    }
}

extension DataParallelError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.parametersDiverged, self) }
}

extension TrainingLoopError: RPCErrorConvertible {
    public var rpcError: RPCError {
        switch self {
        case let .invalidHyperParameter(name, reason): return RPCError.invalidParams(field: name, reason: reason)
        case .checkpointModelMismatch: return moduleError(.checkpoint, self)
        default: return moduleError(.training, self)
        }
    }
}

extension TrainingFileError: RPCErrorConvertible {
    public var rpcError: RPCError { moduleError(.checkpoint, self) }
}

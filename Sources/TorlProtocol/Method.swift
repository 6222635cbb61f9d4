import Foundation

/// One JSON-RPC method of the daemon: its name, what it accepts and what it answers (the pattern of
/// sourcekit-lsp's `LanguageServerProtocol.RequestType`). The daemon registers its handlers by these types and
/// the clients send them, so each method's wire shape is declared once, here; schemas/ is checked against them
/// (Tests/TorlProtocolTests).
public protocol TorlMethod {
    associatedtype Params: Codable & Sendable
    associatedtype Result: Codable & Sendable
    static var method: String { get }
}

/// A method that gets no answer (`exit`, `$/cancelRequest`): only its params are declared.
public protocol TorlNotification {
    associatedtype Params: Codable & Sendable
    static var method: String { get }
}

public enum InitializeRequest: TorlMethod {
    public typealias Params = InitializeParams
    public typealias Result = InitializeResult
    public static let method = "initialize"
}

public enum StatusRequest: TorlMethod {
    public typealias Params = NoParams
    public typealias Result = StatusResult
    public static let method = "status"
}

public enum SolveRequest: TorlMethod {
    public typealias Params = SolveParams
    public typealias Result = SolveResult
    public static let method = "solve"
}

public enum RolloutRequest: TorlMethod {
    public typealias Params = RolloutParams
    public typealias Result = RolloutResult
    public static let method = "rollout"
}

public enum TrainStepRequest: TorlMethod {
    public typealias Params = TrainStepParams
    public typealias Result = TrainStepResult
    public static let method = "train_step"
}

public enum EvaluateRequest: TorlMethod {
    public typealias Params = EvaluateParams
    public typealias Result = EvaluateResult
    public static let method = "evaluate"
}

public enum ModelLoadRequest: TorlMethod {
    public typealias Params = ModelLoadParams
    public typealias Result = ModelInfo
    public static let method = "model/load"
}

public enum ModelExportRequest: TorlMethod {
    public typealias Params = ExportParams
    public typealias Result = ExportResult
    public static let method = "model/export"
}

public enum CheckpointSaveRequest: TorlMethod {
    public typealias Params = CheckpointParams
    public typealias Result = CheckpointResult
    public static let method = "checkpoint/save"
}

public enum CheckpointRestoreRequest: TorlMethod {
    public typealias Params = CheckpointRestoreParams
    public typealias Result = CheckpointResult
    public static let method = "checkpoint/restore"
}

public enum SandboxExecuteRequest: TorlMethod {
    public typealias Params = SandboxExecuteParams
    public typealias Result = ExecutionResultWire
    public static let method = "sandbox/execute"
}

public enum ClusterJoinRequest: TorlMethod {
    public typealias Params = ClusterJoinParams
    public typealias Result = ClusterMembership
    public static let method = "cluster/join"
}

public enum ClusterLeaveRequest: TorlMethod {
    public typealias Params = NoParams
    public typealias Result = ClusterLeaveResult
    public static let method = "cluster/leave"
}

public enum ClusterTrainStepRequest: TorlMethod {
    public typealias Params = ClusterTrainStepParams
    public typealias Result = ClusterTrainStepResult
    public static let method = "cluster/train_step"
}

/// Answered by the transport (JSONRPC's lifecycle), declared here so the protocol is complete.
public enum ShutdownRequest: TorlMethod {
    public typealias Params = NoParams
    public typealias Result = NoResult
    public static let method = "shutdown"
}

public enum ExitNotification: TorlNotification {
    public typealias Params = NoParams
    public static let method = "exit"
}

public enum CancelRequestNotification: TorlNotification {
    public typealias Params = CancelParams
    public static let method = "$/cancelRequest"
}

/// `$/progress {"token", "value"}`: the value is one of `ProgressValue`'s shapes (Progress.swift).
public enum ProgressNotificationMethod {
    public static let method = "$/progress"
}

/// `$/cancelRequest` params: the id of the request to stop.
public struct CancelParams: Codable, Sendable, Equatable {
    public var id: ProgressToken
    public init(id: ProgressToken) { self.id = id }
}

/// Every method the daemon serves, for the schema check and `initialize`'s list.
public enum TorlMethods {
    public static let requests: [any TorlMethod.Type] = [
        InitializeRequest.self, StatusRequest.self, SolveRequest.self, RolloutRequest.self, TrainStepRequest.self,
        EvaluateRequest.self, ModelLoadRequest.self, ModelExportRequest.self, CheckpointSaveRequest.self,
        CheckpointRestoreRequest.self, SandboxExecuteRequest.self, ClusterJoinRequest.self, ClusterLeaveRequest.self,
        ClusterTrainStepRequest.self, ShutdownRequest.self,
    ]
    public static let notifications: [any TorlNotification.Type] = [ExitNotification.self, CancelRequestNotification.self]
}

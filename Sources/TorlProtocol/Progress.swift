import Foundation

/// `$/progress` values of rollout, train_step and evaluate: work done of a known total (`progress_report` in
/// schemas/common.json).
public struct ProgressReport: Codable, Sendable, Equatable {
    public var kind = "report"
    /// What is counted: `trajectories`, `responses`, `update`.
    public var message: String
    public var done: Int
    public var total: Int
    public var metrics: [String: Double]?

    public init(message: String, done: Int, total: Int, metrics: [String: Double]? = nil) {
        self.message = message
        self.done = done
        self.total = total
        self.metrics = metrics
    }
}

/// `$/progress` values of solve, in the order they happen (docs/METHODS.md): `text` (a `delta` of the solution),
/// `tool_call` (the `index`-th block's `code`, about to run) and `tool_result` (its `status` and `observation`).
public struct SolveProgress: Codable, Sendable, Equatable {
    public var kind: String
    public var delta: String?
    public var index: Int?
    public var code: String?
    public var status: ExecutionStatusName?
    public var observation: String?

    public init(kind: String, delta: String? = nil, index: Int? = nil, code: String? = nil,
                status: ExecutionStatusName? = nil, observation: String? = nil) {
        self.kind = kind
        self.delta = delta
        self.index = index
        self.code = code
        self.status = status
        self.observation = observation
    }
}

import Sandbox

/// The outcome reward of TORL: one value for a correct answer, another for a wrong or missing one, plus an
/// optional penalty only for responses whose code failed (responses without code are never penalised, unlike
/// the published code). Placed on the whole trajectory.
public struct RewardValues: Sendable, Codable, Equatable {
    public var correct: Double
    /// Wrong answer, or no `\boxed{}` answer.
    public var incorrect: Double
    /// Added when the code failed, e.g. -0.5; 0 (the default) disables it.
    public var executionFailurePenalty: Double

    public init(correct: Double = 1, incorrect: Double = -1, executionFailurePenalty: Double = 0) {
        self.correct = correct
        self.incorrect = incorrect
        self.executionFailurePenalty = executionFailurePenalty
    }

    public func reward(isCorrect: Bool, codeFailed: Bool) -> Double {
        (isCorrect ? correct : incorrect) + (codeFailed ? executionFailurePenalty : 0)
    }

    enum CodingKeys: String, CodingKey {
        case correct, incorrect
        case executionFailurePenalty = "execution_failure_penalty"
    }
}

extension ExecutionStatus {
    /// The run failed because of the code (penalised, counted as not executed); `sandbox_error` and `busy` are
    /// the sandbox's failures and never the model's.
    public var isCodeFailure: Bool {
        switch self {
        case .error, .timeout, .memory, .outputLimit, .killed, .rejected: return true
        case .ok, .sandboxError, .busy: return false
        }
    }
}

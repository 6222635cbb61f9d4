/// The scalar reward of a response, placed on its whole trajectory (every trained token shares its advantage).
public struct RewardConfiguration: Sendable, Codable, Equatable {
    public var correct: Double
    /// Wrong answer or no `\boxed{}` answer.
    public var incorrect: Double
    /// Added (so usually negative, e.g. −0.5) only when the response's code failed to execute; responses without
    /// code are not penalised (the published code penalised them too, a bug). 0 disables it, the default.
    public var executionFailurePenalty: Double

    public init(correct: Double = 1, incorrect: Double = -1, executionFailurePenalty: Double = 0) {
        self.correct = correct
        self.incorrect = incorrect
        self.executionFailurePenalty = executionFailurePenalty
    }

    public func reward(for outcome: ResponseOutcome) -> Double {
        var reward = outcome.answered && outcome.correct ? correct : incorrect
        if outcome.hasCode && outcome.codeFailed { reward += executionFailurePenalty }
        return reward
    }
}

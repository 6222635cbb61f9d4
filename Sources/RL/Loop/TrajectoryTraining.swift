extension TrainingSequence {
    /// The trainer's view of a rollout trajectory: tokens, loss mask and sampling log-probabilities carried as
    /// they are (they are already aligned entry for entry), the reward the rollout computed.
    public init(_ trajectory: Trajectory, group: Int? = nil) {
        self.init(tokens: trajectory.tokenIDs, promptLength: trajectory.promptLength, lossMask: trajectory.lossMask,
                  oldLogProbabilities: trajectory.logprobs, reward: trajectory.reward,
                  group: group ?? trajectory.group,
                  outcome: ResponseOutcome(answered: trajectory.answer != nil, correct: trajectory.grade.isCorrect,
                                           hasCode: trajectory.hasCode, codeFailed: trajectory.codeFailed,
                                           codeExecuted: trajectory.codeExecuted,
                                           toolCalls: trajectory.toolCalls.count,
                                           truncated: trajectory.finishReason == "max_tokens",
                                           effectiveCode: trajectory.effectiveCode))
    }

    /// Sequences of several rollout batches trained together. Group ids restart at 0 in every batch, so each
    /// batch's groups are shifted past the previous batches' to keep different prompts out of one group.
    public static func combining(_ batches: [[Trajectory]]) -> [TrainingSequence] {
        var offset = 0
        var sequences: [TrainingSequence] = []
        for batch in batches {
            sequences += batch.map { TrainingSequence($0, group: offset + $0.group) }
            offset += (batch.map(\.group).max() ?? -1) + 1
        }
        return sequences
    }
}

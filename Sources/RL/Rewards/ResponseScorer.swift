import MathGrader

/// Grades a finished response and turns the grade and its code behaviour into the reward.
public struct ResponseScorer: Sendable {
    public let grader: MathGrader
    public let rewards: RewardValues

    public init(grader: MathGrader = MathGrader(), rewards: RewardValues = RewardValues()) {
        self.grader = grader
        self.rewards = rewards
    }

    public struct Score: Sendable, Equatable {
        public var grade: Grade
        public var reward: Double
        public var codeFailed: Bool
        public var effectiveCode: Bool
    }

    /// The whole response text is graded, interpreter output included (as published): the last `\boxed{}`
    /// decides.
    public func score(text: String, reference: String, segments: [TrajectorySegment],
                      toolCalls: [ToolCallRecord]) -> Score {
        let grade = grader.grade(response: text, reference: reference)
        let codeFailed = toolCalls.contains { $0.status.isCodeFailure }
        return Score(grade: grade, reward: rewards.reward(isCorrect: grade.isCorrect, codeFailed: codeFailed),
                     codeFailed: codeFailed,
                     effectiveCode: grade.extracted != nil
                        && Self.successfulOutputPrecedesAnswer(segments: segments, toolCalls: toolCalls))
    }

    /// Whether the last sampled segment holding `\boxed` comes after the output of a successful call.
    static func successfulOutputPrecedesAnswer(segments: [TrajectorySegment], toolCalls: [ToolCallRecord]) -> Bool {
        // Calls whose budget left no token for their output have no output segment.
        var insertedCalls = toolCalls.filter { $0.tokenCount > 0 }.makeIterator()
        var successfulOutputSeen = false
        var answerAfterSuccessfulOutput = false
        for segment in segments {
            if segment.kind == .output {
                if insertedCalls.next()?.status == .ok { successfulOutputSeen = true }
            } else if segment.text.contains("\\boxed") {
                answerAfterSuccessfulOutput = successfulOutputSeen
            }
        }
        return answerAfterSuccessfulOutput
    }
}

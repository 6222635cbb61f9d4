import MathGrader
import Generation
import Sandbox

/// Everything that shapes a batch of rollouts. Defaults are the published TORL values (docs/TORL_PROTOCOL.md)
/// except the trigger, which defaults to closing a python block so that models without TIR pre-training work.
public struct RolloutSettings: Sendable, Codable, Equatable {
    /// G trajectories per problem.
    public var groupSize: Int = 1
    public var template: PromptTemplate = .torl
    /// Replaces the published instruction in either template (nil: the published one). Small models without
    /// tool-integrated pre-training rarely write code unless asked plainly.
    public var instruction: String?
    /// Also read answers written as "the answer is X" / "answer: X" when no \boxed{} is present (the
    /// evaluation fallbacks of docs/GRADER.md). Off by default: the published reward needs a box.
    public var acceptsUnboxedAnswers = false
    /// When the reference is a number, count only a number as written, not arithmetic that evaluates to it
    /// (`15 \times 695` for `10425`): for "compute" tasks such as the synthetic set, where restating the
    /// question must not be rewarded.
    public var requiresEvaluatedAnswers = false
    public var trigger: ToolTrigger = .blockClose
    /// C: tool calls per trajectory; later code is not run. 0 disables the tool.
    public var maxToolCalls: Int = 1
    /// Response budget, sampled and inserted tokens together (tool output counts, as published).
    public var maxResponseTokens: Int = 3072
    /// Longer prompts are not generated: their trajectories finish at once with `prompt_too_long`.
    public var maxPromptTokens: Int = 400
    public var sampling = SamplingParameters(temperature: 1, topK: 0, topP: 1, seed: 0)
    /// Strings that end a response when sampled; they stay in the text (token exactness).
    public var stopStrings: [String] = []
    public var rewards = RewardValues()
    public var observation = ObservationOptions()
    /// Limits of each tool call; nil: the sandbox pool's defaults.
    public var executionLimits: ExecutionLimits?

    public init() {}

    /// Throws `RolloutError.invalidSettings` naming the first bad value.
    public func validate() throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw RolloutError.invalidSettings(message) }
        }
        try require(groupSize >= 1, "group size must be >= 1, got \(groupSize)")
        try require(maxToolCalls >= 0, "max tool calls must be >= 0, got \(maxToolCalls)")
        try require(maxResponseTokens >= 1, "max response tokens must be >= 1, got \(maxResponseTokens)")
        try require(maxPromptTokens >= 1, "max prompt tokens must be >= 1, got \(maxPromptTokens)")
        try require(!stopStrings.contains(where: \.isEmpty), "stop strings must not be empty")
        try require(instruction.map { !$0.isEmpty } ?? true, "instruction must not be empty")
        try require(rewards.correct.isFinite && rewards.incorrect.isFinite
                    && rewards.executionFailurePenalty.isFinite, "reward values must be finite")
        if let problem = executionLimits?.problem() { throw RolloutError.invalidSettings(problem) }
        do { try sampling.validate() } catch { throw RolloutError.invalidSettings("\(error)") }
    }

    enum CodingKeys: String, CodingKey {
        case template, trigger, sampling, rewards, observation, instruction
        case acceptsUnboxedAnswers = "accept_unboxed_answers"
        case requiresEvaluatedAnswers = "require_evaluated_answers"
        case groupSize = "group_size"
        case maxToolCalls = "max_tool_calls"
        case maxResponseTokens = "max_response_tokens"
        case maxPromptTokens = "max_prompt_tokens"
        case stopStrings = "stop_strings"
        case executionLimits = "execution_limits"
    }
}

extension RolloutSettings {
    /// `base` with the answer-reading options these settings ask for.
    func grader(over base: MathGrader) -> MathGrader {
        var options = base.options
        if acceptsUnboxedAnswers { options.fallbackPhrases = GraderOptions.evaluation.fallbackPhrases }
        if requiresEvaluatedAnswers { options.requiresEvaluatedNumbers = true }
        return options == base.options ? base : MathGrader(options: options)
    }
}

public enum RolloutError: Error, Equatable, CustomStringConvertible {
    case invalidSettings(String)
    case noChatTemplate
    /// The decoder had streams left that no step could advance and no tool call was running.
    case stalled(liveStreams: Int)

    public var description: String {
        switch self {
        case .invalidSettings(let message): return "invalid rollout settings: \(message)"
        case .noChatTemplate: return "the chat template was requested but the model's files hold no usable chat template"
        case .stalled(let count): return "rollout stalled with \(count) streams that can neither decode nor wait for a tool call"
        }
    }
}

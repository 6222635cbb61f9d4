import MathGrader
import Sandbox

/// One stretch of a response's text. Joined in order, the segments of a trajectory give its `text`.
public struct TrajectorySegment: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// Sampled text outside python blocks (a ```` ```output ```` marker the model wrote itself included).
        case reasoning
        /// A sampled python block, fences included.
        case code
        /// Text the system inserted: the formatted interpreter output.
        case output
    }
    public var kind: Kind
    public var text: String

    public init(kind: Kind, text: String) {
        self.kind = kind
        self.text = text
    }
}

/// One execution of model code during a rollout.
public struct ToolCallRecord: Codable, Sendable, Equatable {
    public var code: String
    public var status: ExecutionStatus
    /// The exact text inserted into the trajectory (newline, fences and all): docs/ROLLOUTS.md.
    public var observation: String
    /// The post-processed interpreter output alone (last error line, timeout message, head...tail).
    public var output: String
    public var wallMs: Double
    /// Index in `token_ids` of the first inserted token.
    public var tokenStart: Int
    /// Inserted tokens; fewer than the observation's tokens when the response budget cut it (`truncated`).
    public var tokenCount: Int
    public var truncated: Bool

    enum CodingKeys: String, CodingKey {
        case code, status, observation, output, truncated
        case wallMs = "wall_ms"
        case tokenStart = "token_start"
        case tokenCount = "token_count"
    }
}

/// A graded tool-integrated response: token ids exactly as sampled or inserted, with their log-probabilities
/// and loss mask, and what happened on the way. Encoded with the snake_case keys of schemas/rollout.json.
///
/// `tokenIDs`, `logprobs` and `lossMask` are aligned: entry t describes token t of prompt + response.
/// `lossMask[t]` is 1 exactly where the model sampled token t; `logprobs[t]` is its sampling log-probability
/// there and 0 elsewhere (prompt, inserted observations).
public struct Trajectory: Codable, Sendable, Equatable {
    public var problemID: String
    /// Index of the problem in its batch: trajectories of one group answer the same prompt.
    public var group: Int
    /// Index of this trajectory within its group.
    public var sample: Int
    /// The response text, decoded from the response tokens (end-of-sequence tokens add none).
    public var text: String
    public var tokenIDs: [Int32]
    public var promptLength: Int
    public var logprobs: [Float]
    public var lossMask: [UInt8]
    public var segments: [TrajectorySegment]
    public var toolCalls: [ToolCallRecord]
    /// The response holds a complete python block (run or not).
    public var hasCode: Bool
    /// At least one tool call ran, and every one ended with status ok.
    public var codeExecuted: Bool
    /// A tool call ended in a failure of the code itself (error, timeout, memory, output limit, killed, rejected).
    public var codeFailed: Bool
    /// A successful tool call's output came before the final `\boxed{}` answer.
    public var effectiveCode: Bool
    public var answer: String?
    public var grade: Grade
    public var reward: Double
    /// `eos`, `stop_string`, `max_tokens`, `context_full`, `cancelled`, or `prompt_too_long`.
    public var finishReason: String

    public var responseLength: Int { tokenIDs.count - promptLength }

    enum CodingKeys: String, CodingKey {
        case group, sample, text, logprobs, segments, answer, grade, reward
        case problemID = "problem_id"
        case tokenIDs = "token_ids"
        case promptLength = "prompt_length"
        case lossMask = "loss_mask"
        case toolCalls = "tool_calls"
        case hasCode = "has_code"
        case codeExecuted = "code_executed"
        case codeFailed = "code_failed"
        case effectiveCode = "effective_code"
        case finishReason = "finish_reason"
    }
}

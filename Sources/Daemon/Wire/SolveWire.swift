import Foundation
import Generation
import JSONRPC
import MathGrader
import RL
import Sandbox
import SystemSupport

/// Sampling and tool settings shared by solve, rollout, train_step and evaluate (schemas: the params' common
/// fields), decoded from the same params object as the method's own fields. Absent fields take the method's
/// defaults. The CLI clients encode their requests' shared fields with this same type (nil fields left out).
public struct GenerationOptions: Codable, Sendable {
    public var template: PromptTemplate?
    public var max_tool_calls: Int?
    public var max_tokens: Int?
    public var temperature: Double?
    public var top_p: Double?
    public var top_k: Int?
    public var seed: UInt64?
    public var instruction: String?
    public var accept_unboxed_answers: Bool?
    public var require_evaluated_answers: Bool?
    public var trigger: ToolTrigger?
    public var max_prompt_tokens: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case template, max_tool_calls, max_tokens, temperature, top_p, top_k, seed, instruction,
             accept_unboxed_answers, require_evaluated_answers, trigger, max_prompt_tokens
    }

    public init(template: PromptTemplate? = nil, max_tool_calls: Int? = nil, max_tokens: Int? = nil,
                temperature: Double? = nil, top_p: Double? = nil, top_k: Int? = nil, seed: UInt64? = nil,
                instruction: String? = nil, accept_unboxed_answers: Bool? = nil, require_evaluated_answers: Bool? = nil,
                trigger: ToolTrigger? = nil, max_prompt_tokens: Int? = nil) {
        self.template = template
        self.max_tool_calls = max_tool_calls
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.seed = seed
        self.instruction = instruction
        self.accept_unboxed_answers = accept_unboxed_answers
        self.require_evaluated_answers = require_evaluated_answers
        self.trigger = trigger
        self.max_prompt_tokens = max_prompt_tokens
    }

    /// Rollout settings with these options over `defaults`; invalid values are -32602 naming the field.
    func settings(over defaults: RolloutSettings) throws -> RolloutSettings {
        var settings = defaults
        if let template { settings.template = template }
        if let max_tool_calls {
            guard max_tool_calls >= 0 else { throw RPCError.invalidParams(field: "max_tool_calls", reason: "must be >= 0") }
            settings.maxToolCalls = max_tool_calls
        }
        if let max_tokens {
            guard max_tokens >= 1 else { throw RPCError.invalidParams(field: "max_tokens", reason: "must be >= 1") }
            settings.maxResponseTokens = max_tokens
        }
        if let temperature {
            guard temperature >= 0, temperature.isFinite else {
                throw RPCError.invalidParams(field: "temperature", reason: "must be a finite number >= 0")
            }
            settings.sampling.temperature = Float(temperature)
        }
        if let top_p {
            guard top_p > 0, top_p <= 1 else { throw RPCError.invalidParams(field: "top_p", reason: "must be in (0, 1]") }
            settings.sampling.topP = Float(top_p)
        }
        if let top_k {
            guard top_k >= 0 else { throw RPCError.invalidParams(field: "top_k", reason: "must be >= 0 (0: off)") }
            settings.sampling.topK = top_k
        }
        if let seed { settings.sampling.seed = seed }
        if let instruction {
            guard !instruction.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw RPCError.invalidParams(field: "instruction", reason: "must not be empty (omit it for the published instruction)")
            }
            settings.instruction = instruction
        }
        if let accept_unboxed_answers { settings.acceptsUnboxedAnswers = accept_unboxed_answers }
        if let require_evaluated_answers { settings.requiresEvaluatedAnswers = require_evaluated_answers }
        if let trigger { settings.trigger = trigger }
        if let max_prompt_tokens {
            guard max_prompt_tokens >= 1 else { throw RPCError.invalidParams(field: "max_prompt_tokens", reason: "must be >= 1") }
            settings.maxPromptTokens = max_prompt_tokens
        }
        return settings
    }
}

struct SolveParams: WireParams {
    var problem: String
    var reference: String?
    var progress_token: RequestID?
    var options: GenerationOptions
    enum CodingKeys: String, CodingKey, CaseIterable { case problem, reference, progress_token }
    static let acceptedFields = CodingKeys.names + GenerationOptions.CodingKeys.names

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        problem = try container.decode(String.self, forKey: .problem)
        reference = try container.decodeIfPresent(String.self, forKey: .reference)
        progress_token = try container.decodeIfPresent(RequestID.self, forKey: .progress_token)
        options = try GenerationOptions(from: decoder)
    }
}

struct ToolCallWire: Encodable {
    var code: String
    var status: ExecutionStatus
    var observation: String
    var wall_ms: Double

    init(_ call: ToolCallRecord) {
        code = call.code
        status = call.status
        observation = call.observation
        wall_ms = call.wallMs
    }
}

struct SolveResult: Encodable {
    var text: String
    @EncodesNull var answer: String?
    @EncodesNull var grade: Grade?
    var tool_calls: [ToolCallWire]
    var finish_reason: String
    var prompt_tokens: Int
    var completion_tokens: Int
    var elapsed_ms: Double
}

/// `$/progress` values of solve (docs/METHODS.md).
struct SolveProgress: Encodable {
    var kind: String
    var delta: String?
    var index: Int?
    var code: String?
    var status: ExecutionStatus?
    var observation: String?

    static func from(_ event: RolloutEvent) -> SolveProgress? {
        switch event {
        case .text(_, let delta, _):
            return SolveProgress(kind: "text", delta: delta)
        case .toolCall(_, let index, let code):
            return SolveProgress(kind: "tool_call", index: index, code: code)
        case .toolResult(_, let index, let call):
            return SolveProgress(kind: "tool_result", index: index, status: call.status, observation: call.observation)
        case .finished:
            return nil
        }
    }
}

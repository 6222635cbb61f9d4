import Daemon
import JSONRPC
import RL

extension GenerationOptions {
    /// The shared generation fields of a command's request (the daemon's own `GenerationOptions`, so client and
    /// daemon agree on one field list): the one place where the prompt options become request fields. A nil
    /// field is left out, so the method's default applies.
    init(template: PromptTemplate?, maxToolCalls: Int?, maxTokens: Int?, temperature: Double?, topP: Double? = nil,
         topK: Int? = nil, seed: UInt64? = nil, prompt: PromptOptions, trigger: ToolTrigger? = nil,
         maxPromptTokens: Int? = nil) {
        self.init(template: template, max_tool_calls: maxToolCalls, max_tokens: maxTokens, temperature: temperature,
                  top_p: topP, top_k: topK, seed: seed, instruction: prompt.instruction,
                  accept_unboxed_answers: prompt.acceptUnboxedAnswers,
                  require_evaluated_answers: prompt.requireEvaluatedAnswers, trigger: trigger,
                  max_prompt_tokens: maxPromptTokens, stop: prompt.stop.isEmpty ? nil : prompt.stop)
    }

    /// One params object: a method's own `fields` with these shared ones.
    func params<Fields: Encodable>(with fields: Fields) throws -> JSONValue {
        guard case .object(let own) = try JSONCoding.value(fields), case .object(let shared) = try JSONCoding.value(self) else {
            throw RPCClientError.unexpectedResult(method: "params", reason: "request fields must encode as JSON objects")
        }
        return .object(own.merging(shared) { mine, _ in mine })
    }
}

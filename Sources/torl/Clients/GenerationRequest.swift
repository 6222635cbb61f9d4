import TorlProtocol

extension GenerationOptions {
    /// The shared generation fields of a command's request (the protocol's own type, so client and daemon agree on
    /// one field list): the one place where the prompt options become request fields. A nil field is left out, so
    /// the method's default applies.
    init(template: PromptTemplateName?, maxToolCalls: Int?, maxTokens: Int?, temperature: Double?, topP: Double? = nil,
         topK: Int? = nil, seed: UInt64? = nil, prompt: PromptOptions, trigger: ToolTriggerName? = nil,
         maxPromptTokens: Int? = nil) {
        self.init(template: template, max_tool_calls: maxToolCalls, max_tokens: maxTokens, temperature: temperature,
                  top_p: topP, top_k: topK, seed: seed, instruction: prompt.instruction,
                  accept_unboxed_answers: prompt.acceptUnboxedAnswers,
                  require_evaluated_answers: prompt.requireEvaluatedAnswers, trigger: trigger,
                  max_prompt_tokens: maxPromptTokens, stop: prompt.stop.isEmpty ? nil : prompt.stop)
    }
}

import JSONRPC

/// The sampling, prompt and tool fields that `solve`, `rollout`, `train_step` and `evaluate` share (the daemon's
/// `GenerationOptions`), as the commands send them.
struct GenerationFields: Encodable {
    var template: String
    var max_tool_calls: Int
    var max_tokens: Int
    var temperature: Double
    var top_p: Double = 1
    var top_k: Int = 0
    var seed: UInt64
    var instruction: String?
    var accept_unboxed_answers: Bool
    var require_evaluated_answers: Bool
    /// nil: the daemon's default (closing a python block).
    var trigger: String?
    /// nil: the daemon's default (400).
    var max_prompt_tokens: Int?
}

extension GenerationFields {
    /// One params object: a method's own `fields` with these shared ones.
    func params<Fields: Encodable>(with fields: Fields) throws -> JSONValue {
        guard case .object(let own) = try JSONCoding.value(fields), case .object(let shared) = try JSONCoding.value(self) else {
            throw RPCClientError.unexpectedResult(method: "params", reason: "request fields must encode as JSON objects")
        }
        return .object(own.merging(shared) { mine, _ in mine })
    }
}

import JSONRPC

/// Params of a daemon method. `acceptedFields` lists every field the method accepts, so that a field the client
/// misspelled is an error naming it (-32602) instead of being silently ignored.
protocol WireParams: Decodable, Sendable {
    static var acceptedFields: [String] { get }
}

extension WireParams {
    /// The first field of `params` this type does not accept, if any.
    static func unknownField(in params: JSONValue?) -> String? {
        guard case .object(let members)? = params else { return nil }
        let known = Set(acceptedFields)
        return members.keys.sorted().first { !known.contains($0) }
    }
}

extension CaseIterable where Self: CodingKey {
    static var names: [String] { allCases.map(\.stringValue) }
}

extension Router {
    /// Registers a handler whose params reject unknown fields.
    func register<Params: WireParams, Result: Encodable>(
        strict method: String, _ handler: @escaping @Sendable (Params, RequestContext) async throws -> Result
    ) {
        registerRaw(method) { rawParams, context in
            if let field = Params.unknownField(in: rawParams) {
                throw RPCError.invalidParams(field: field, reason: "unknown field (accepted: \(Params.acceptedFields.sorted().joined(separator: ", ")))")
            }
            let params = try ParamsDecoding.decode(Params.self, from: rawParams)
            let result = try await handler(params, context)
            return try JSONCoding.value(result)
        }
    }
}

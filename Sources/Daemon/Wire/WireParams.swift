import JSONRPC

/// Params of a daemon method. `acceptedFields` lists every field the method accepts, so that a field the client
/// misspelled is an error naming it (-32602) instead of being silently ignored.
protocol WireParams: Decodable, Sendable {
    static var acceptedFields: [String] { get }
    /// Fields accepted inside an object-valued field (e.g. `limits`), checked the same way.
    static var acceptedNestedFields: [String: [String]] { get }
}

extension WireParams {
    static var acceptedNestedFields: [String: [String]] { [:] }

    /// The first field of `params` this type does not accept, if any, as a dotted path, with what is accepted.
    static func unknownField(in params: JSONValue?) -> (path: String, accepted: [String])? {
        guard case .object(let members)? = params else { return nil }
        if let field = members.keys.sorted().first(where: { !acceptedFields.contains($0) }) {
            return (field, acceptedFields)
        }
        for (name, accepted) in acceptedNestedFields.sorted(by: { $0.key < $1.key }) {
            guard case .object(let nested)? = members[name] else { continue }
            if let field = nested.keys.sorted().first(where: { !accepted.contains($0) }) {
                return ("\(name).\(field)", accepted)
            }
        }
        return nil
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
            if let unknown = Params.unknownField(in: rawParams) {
                throw RPCError.invalidParams(field: unknown.path, reason: "unknown field (accepted: \(unknown.accepted.sorted().joined(separator: ", ")))")
            }
            let params = try ParamsDecoding.decode(Params.self, from: rawParams)
            let result = try await handler(params, context)
            return try JSONCoding.value(result)
        }
    }
}

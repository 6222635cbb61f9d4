import Foundation

public struct RPCRequest: Sendable, Equatable {
    public var id: RequestID
    public var method: String
    public var params: JSONValue?

    public init(id: RequestID, method: String, params: JSONValue? = nil) {
        self.id = id
        self.method = method
        self.params = params
    }
}

public struct RPCNotification: Sendable, Equatable {
    public var method: String
    public var params: JSONValue?

    public init(method: String, params: JSONValue? = nil) {
        self.method = method
        self.params = params
    }
}

/// A response: `id` is nil only for errors about a message whose id could not be read (sent as `"id": null`).
public struct RPCResponse: Sendable, Equatable {
    public var id: RequestID?
    public var outcome: Result<JSONValue, RPCError>

    public init(id: RequestID?, outcome: Result<JSONValue, RPCError>) {
        self.id = id
        self.outcome = outcome
    }

    public static func success(_ id: RequestID, _ result: JSONValue) -> RPCResponse {
        RPCResponse(id: id, outcome: .success(result))
    }

    public static func failure(_ id: RequestID?, _ error: RPCError) -> RPCResponse {
        RPCResponse(id: id, outcome: .failure(error))
    }

    public var error: RPCError? {
        if case .failure(let error) = outcome { return error }
        return nil
    }
}

/// Every message kind, declared once; `jsonValue` and `init(parsing:)` are the only wire conversions.
public enum RPCMessage: Sendable, Equatable {
    case request(RPCRequest)
    case notification(RPCNotification)
    case response(RPCResponse)

    public var jsonValue: JSONValue {
        var members: [String: JSONValue] = ["jsonrpc": "2.0"]
        switch self {
        case .request(let request):
            members["id"] = request.id.jsonValue
            members["method"] = .string(request.method)
            if let params = request.params { members["params"] = params }
        case .notification(let notification):
            members["method"] = .string(notification.method)
            if let params = notification.params { members["params"] = params }
        case .response(let response):
            members["id"] = response.id?.jsonValue ?? .null
            switch response.outcome {
            case .success(let result):
                members["result"] = result
            case .failure(let error):
                var object: [String: JSONValue] = ["code": .int(Int64(error.code)), "message": .string(error.message)]
                if let data = error.data { object["data"] = data }
                members["error"] = .object(object)
            }
        }
        return .object(members)
    }

    public func encoded() throws -> Data {
        try JSONCoding.encode(jsonValue)
    }
}

/// Why a body that was valid JSON is not a valid message, with the id when one could be read so that the
/// error response can still be matched by the client.
public struct InvalidMessage: Error, Sendable, Equatable {
    public var id: RequestID?
    public var error: RPCError
}

extension RPCMessage {
    /// Parses one frame body. Throws `RPCError` -32700 for bytes that are not JSON, `InvalidMessage` for JSON
    /// that is not a JSON-RPC 2.0 message.
    public init(parsing body: Data) throws {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch {
            throw RPCError.parseError(String(describing: error))
        }
        self = try RPCMessage(validating: value)
    }

    public init(validating value: JSONValue) throws {
        guard case .object(let members) = value else {
            let detail = value.arrayValue != nil
                ? "batch requests are not supported; send one message per frame"
                : "expected a JSON object, found \(value.typeName)"
            throw InvalidMessage(id: nil, error: .invalidRequest(detail))
        }
        let rawID = members["id"]
        let id = rawID.flatMap(RequestID.init)
        func invalid(_ detail: String) -> InvalidMessage { InvalidMessage(id: id, error: .invalidRequest(detail)) }

        guard members["jsonrpc"] == .string("2.0") else { throw invalid("\"jsonrpc\" must be \"2.0\"") }
        if let rawID, id == nil, members["method"] != nil {
            throw invalid("\"id\" must be a string or an integer, found \(rawID.typeName)")
        }
        if let method = members["method"] {
            guard case .string(let name) = method else {
                throw invalid("\"method\" must be a string, found \(method.typeName)")
            }
            // `"params": null` is not JSON-RPC, but some LSP clients send it for `shutdown`; it means "no params".
            let params = members["params"] == .null ? nil : members["params"]
            if let params, params.objectValue == nil, params.arrayValue == nil {
                throw invalid("\"params\" must be an object or an array, found \(params.typeName)")
            }
            if let id {
                self = .request(RPCRequest(id: id, method: name, params: params))
            } else {
                self = .notification(RPCNotification(method: name, params: params))
            }
            return
        }
        guard rawID != nil else { throw invalid("a message needs \"method\" (request, notification) or \"id\" (response)") }
        if let result = members["result"] {
            guard members["error"] == nil else { throw invalid("a response has \"result\" or \"error\", not both") }
            guard let id else { throw invalid("a successful response needs a string or integer \"id\"") }
            self = .response(.success(id, result))
            return
        }
        guard let errorValue = members["error"], case .object(let object) = errorValue,
              let code = object["code"]?.intValue, let message = object["message"]?.stringValue
        else { throw invalid("a response needs \"result\" or an \"error\" object with \"code\" and \"message\"") }
        self = .response(.failure(id, RPCError(code: Int(code), message: message, data: object["data"])))
    }
}

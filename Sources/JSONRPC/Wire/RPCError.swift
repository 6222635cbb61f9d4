/// A JSON-RPC error object, and the Swift error every handler failure is mapped to before it goes on the wire.
/// Codes: docs/PROTOCOL.md, "Error codes".
public struct RPCError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String { "RPC error \(code): \(message)" }
}

extension RPCError {
    // JSON-RPC 2.0 standard codes.
    public static let parseErrorCode = -32700
    public static let invalidRequestCode = -32600
    public static let methodNotFoundCode = -32601
    public static let invalidParamsCode = -32602
    public static let internalErrorCode = -32603
    // Language Server Protocol codes.
    public static let serverNotInitializedCode = -32002
    public static let requestCancelledCode = -32800
    // torl's block inside the implementation-defined range -32000...-32099. The JSONRPC module uses
    // -32000...-32019; -32020...-32099 belong to the Daemon's domain errors.
    public static let serverBusyCode = -32000
    public static let shuttingDownCode = -32003
    public static let unauthorizedCode = -32004
    public static let payloadTooLargeCode = -32005
    public static let alreadyInitializedCode = -32006
    public static let daemonRange = -32099 ... -32020

    public static func parseError(_ detail: String) -> RPCError {
        RPCError(code: parseErrorCode, message: "parse error: \(detail)")
    }

    public static func invalidRequest(_ detail: String) -> RPCError {
        RPCError(code: invalidRequestCode, message: "invalid request: \(detail)")
    }

    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(code: methodNotFoundCode, message: "method not found: \(method)", data: ["method": .string(method)])
    }

    /// Invalid params naming the offending field (a dotted path such as `options.temperature` or `problems[2]`;
    /// empty for the params value as a whole) and why it was rejected.
    public static func invalidParams(field: String, reason: String) -> RPCError {
        let subject = field.isEmpty ? "params" : "field '\(field)'"
        return RPCError(code: invalidParamsCode, message: "invalid params: \(subject): \(reason)",
                        data: ["field": .string(field), "reason": .string(reason)])
    }

    public static func internalError(_ detail: String) -> RPCError {
        RPCError(code: internalErrorCode, message: "internal error: \(detail)")
    }

    public static let serverNotInitialized = RPCError(
        code: serverNotInitializedCode, message: "server not initialized: send 'initialize' first")

    public static let requestCancelled = RPCError(code: requestCancelledCode, message: "request cancelled")

    public static func serverBusy(_ detail: String) -> RPCError {
        RPCError(code: serverBusyCode, message: "server busy: \(detail)")
    }

    public static func shuttingDown(_ detail: String) -> RPCError {
        RPCError(code: shuttingDownCode, message: "shutting down: \(detail)")
    }

    public static func unauthorized(_ detail: String) -> RPCError {
        RPCError(code: unauthorizedCode, message: "unauthorized: \(detail)")
    }

    public static func payloadTooLarge(length: Int, limit: Int) -> RPCError {
        RPCError(code: payloadTooLargeCode, message: "payload too large: body of \(length) bytes exceeds the limit of \(limit)",
                 data: ["length": .int(Int64(length)), "limit": .int(Int64(limit))])
    }

    public static let alreadyInitialized = RPCError(
        code: alreadyInitializedCode, message: "already initialized: 'initialize' may be sent once per connection")
}

/// Adopted by module errors (engine, sandbox, trainer) in the Daemon so that one function, `RPCError.from`,
/// decides what every failure looks like on the wire.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

extension RPCError: RPCErrorConvertible {
    public var rpcError: RPCError { self }
}

extension RPCError {
    /// The single mapping from any Swift error a handler throws to the error object sent back. `cancelled` is
    /// whether the request's task was cancelled: then any failure reads as -32800, because the cause was the
    /// cancellation, not the error the interrupted work happened to throw.
    public static func from(_ error: Error, cancelled: Bool) -> RPCError {
        if let convertible = error as? RPCErrorConvertible { return convertible.rpcError }
        if cancelled || error is CancellationError { return .requestCancelled }
        return .internalError(String(describing: error))
    }
}

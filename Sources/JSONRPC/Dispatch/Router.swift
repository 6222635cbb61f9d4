import Foundation
import SystemSupport

/// Maps method names to handlers. The Daemon registers typed handlers; the router decodes params (-32602 naming
/// the field on failure), runs the handler and maps whatever it throws through `RPCError.from`.
///
///     router.register("status") { (params: EmptyParams, context) async throws -> StatusResult in ... }
public final class Router: @unchecked Sendable {
    public typealias RawHandler = @Sendable (JSONValue?, RequestContext) async throws -> JSONValue
    public typealias NotificationHandler = @Sendable (JSONValue?, ConnectionInfo) async -> Void

    private let handlers = Locked<[String: RawHandler]>([:])
    private let notificationHandlers = Locked<[String: NotificationHandler]>([:])

    public init() {}

    /// Registers a request handler with Codable params and result. A later registration replaces an earlier one.
    /// `strict`: a params member that `Params` does not read is -32602 naming it (`ParamsDecoding`).
    public func register<Params: Decodable, Result: Encodable>(
        _ method: String, strict: Bool = false,
        _ handler: @escaping @Sendable (Params, RequestContext) async throws -> Result
    ) {
        registerRaw(method) { rawParams, context in
            let params = try ParamsDecoding.decode(Params.self, from: rawParams, strict: strict)
            let result = try await handler(params, context)
            do {
                return try JSONCoding.value(result)
            } catch {
                throw RPCError.internalError("cannot encode the result of '\(method)': \(error)")
            }
        }
    }

    /// Registers a handler that works on raw JSON (proxies, generic tools).
    public func registerRaw(_ method: String, _ handler: @escaping RawHandler) {
        handlers.withLock { $0[method] = handler }
    }

    /// Registers a notification handler; notifications get no answer, so its params failures are only logged.
    public func registerNotification<Params: Decodable>(
        _ method: String,
        _ handler: @escaping @Sendable (Params, ConnectionInfo) async -> Void
    ) {
        notificationHandlers.withLock {
            $0[method] = { rawParams, connection in
                guard let params = try? ParamsDecoding.decode(Params.self, from: rawParams) else { return }
                await handler(params, connection)
            }
        }
    }

    public var methods: [String] { handlers.withLock { $0.keys.sorted() } }

    public func hasHandler(for method: String) -> Bool {
        handlers.withLock { $0[method] != nil }
    }

    func notificationHandler(for method: String) -> NotificationHandler? {
        notificationHandlers.withLock { $0[method] }
    }

    /// Runs one request to its answer. Never throws: every failure is an error response.
    public func respond(to request: RPCRequest, context: RequestContext) async -> RPCResponse {
        guard let handler = handlers.withLock({ $0[request.method] }) else {
            return .failure(request.id, .methodNotFound(request.method))
        }
        do {
            return .success(request.id, try await handler(request.params, context))
        } catch {
            return .failure(request.id, RPCError.from(error, cancelled: context.isCancelled))
        }
    }
}

import Foundation
import SystemSupport

/// How a connection reached the server.
public enum TransportKind: String, Sendable, Codable {
    case stdio, tcp, unix, inProcess
}

/// What a handler may know about the connection it serves.
public struct ConnectionInfo: Sendable {
    public var id: Int
    public var transport: TransportKind
    /// `127.0.0.1:53122`, a socket path, or `stdio`.
    public var peer: String

    public init(id: Int, transport: TransportKind, peer: String) {
        self.id = id
        self.transport = transport
        self.peer = peer
    }
}

/// Sends notifications to one client from any thread. Messages to a client that has gone are dropped.
public struct NotificationSink: Sendable {
    private let deliver: @Sendable (RPCNotification) -> Void

    public init(_ deliver: @escaping @Sendable (RPCNotification) -> Void) {
        self.deliver = deliver
    }

    public func send(_ notification: RPCNotification) {
        deliver(notification)
    }

    /// A sink that keeps what it is given, for calling handlers directly in tests.
    public static func collecting(into store: Locked<[RPCNotification]>) -> NotificationSink {
        NotificationSink { notification in store.withLock { $0.append(notification) } }
    }
}

/// Handed to every request handler: who asked, how to report progress, whether to stop.
public struct RequestContext: Sendable {
    public let id: RequestID
    public let method: String
    public let connection: ConnectionInfo
    /// Set by `$/cancelRequest`, a vanished client or server stop. Also visible as `Task.isCancelled` inside the
    /// handler's task; this flag is for work handed to threads outside it.
    public let cancellation: CancellationFlag
    private let sink: NotificationSink

    public init(id: RequestID, method: String, connection: ConnectionInfo, cancellation: CancellationFlag,
                notifications: NotificationSink) {
        self.id = id
        self.method = method
        self.connection = connection
        self.cancellation = cancellation
        self.sink = notifications
    }

    public var isCancelled: Bool { cancellation.isCancelled || Task.isCancelled }

    /// Throws `CancellationError` (answered -32800) once the request has been cancelled.
    public func checkCancellation() throws {
        if isCancelled { throw CancellationError() }
    }

    /// Sends `$/progress {"token": token, "value": value}` to the requesting client. The token is the one the
    /// client put in the request's `params.progress_token`; requests without one get no progress.
    public func progress<Value: Encodable>(_ value: Value, token: RequestID?) throws {
        guard let token else { return }
        let payload = try JSONCoding.value(value)
        sink.send(RPCNotification(method: ProgressNotification.method,
                                  params: ["token": token.jsonValue, "value": payload]))
    }

    /// Any other notification to the requesting client.
    public func notify(_ method: String, params: JSONValue?) {
        sink.send(RPCNotification(method: method, params: params))
    }
}

/// The `$/progress` notification shape, decoded on the client side.
public struct ProgressNotification: Sendable, Equatable {
    public static let method = "$/progress"
    public var token: RequestID
    public var value: JSONValue

    public init?(_ notification: RPCNotification) {
        guard notification.method == Self.method, let params = notification.params,
              let token = params["token"].flatMap(RequestID.init), let value = params["value"]
        else { return nil }
        self.token = token
        self.value = value
    }
}

import CUV
import Foundation
import SystemSupport

/// Where a client finds its server.
public enum ClientEndpoint: Sendable {
    case socket(Endpoint)
    /// Starts `executable arguments...` (e.g. `torl serve --stdio`) and talks over its stdin/stdout. The child's
    /// stderr goes to `stderrPath` when given, else it is inherited.
    case spawn(executable: String, arguments: [String], stderrPath: String?)
    /// An already-open pair of descriptors (a pipe pair or socketpair), owned by the client from now on.
    case fileDescriptors(input: Int32, output: Int32)
}

public enum RPCClientError: Error, Sendable, Equatable, CustomStringConvertible {
    case connectionClosed(String)
    case connectFailed(String)
    case unexpectedResult(method: String, reason: String)

    public var description: String {
        switch self {
        case .connectionClosed(let why): return "connection closed: \(why)"
        case .connectFailed(let why): return "cannot connect: \(why)"
        case .unexpectedResult(let method, let reason): return "unexpected result for '\(method)': \(reason)"
        }
    }
}

/// An async JSON-RPC client over the same framed libuv streams as the server. Requests may be sent from many
/// tasks at once; answers are matched by id, `$/progress` notifications routed to the request they report on.
public final class RPCClient: @unchecked Sendable {
    private struct Pending {
        let continuation: CheckedContinuation<JSONValue, Error>
        let onProgress: (@Sendable (JSONValue) -> Void)?
    }

    private struct State {
        var nextID: Int64 = 1
        var pending: [RequestID: Pending] = [:]
        var closedReason: String?
    }

    private let loop: EventLoop
    private let state = Locked(State())
    /// Loop-thread only.
    private var stream: FramedStream?
    private var child: ChildProcess?
    private let notificationContinuation: AsyncStream<RPCNotification>.Continuation
    /// Notifications other than `$/progress` for a pending request.
    public let notifications: AsyncStream<RPCNotification>

    private init(loop: EventLoop) {
        self.loop = loop
        (notifications, notificationContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1024))
    }

    public static func connect(to endpoint: ClientEndpoint, loop: EventLoop? = nil,
                               limits: FramingLimits = FramingLimits()) async throws -> RPCClient {
        let client = RPCClient(loop: try loop ?? EventLoop.shared())
        try await client.open(endpoint, limits: limits)
        return client
    }

    private func open(_ endpoint: ClientEndpoint, limits: FramingLimits) async throws {
        let loop = self.loop
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let accepted = loop.execute { [self] in
                do {
                    switch endpoint {
                    case .socket(let address):
                        try Connector.connect(to: address, loop: loop) { result in
                            switch result {
                            case .success(let handle):
                                self.attach(input: handle, output: handle, limits: limits)
                                continuation.resume()
                            case .failure(let error):
                                continuation.resume(throwing: error)
                            }
                        }
                    case .spawn(let executable, let arguments, let stderrPath):
                        let process = try ChildProcess(executable: executable, arguments: arguments,
                                                       stderrPath: stderrPath, loop: loop)
                        child = process
                        attach(input: process.stdout, output: process.stdin, limits: limits)
                        continuation.resume()
                    case .fileDescriptors(let input, let output):
                        let inputStream = try StreamHandles.open(fileDescriptor: input, on: loop)
                        let outputStream = try StreamHandles.open(fileDescriptor: output, on: loop)
                        attach(input: inputStream, output: outputStream, limits: limits)
                        continuation.resume()
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            if !accepted { continuation.resume(throwing: RPCClientError.connectFailed("its event loop is closed")) }
        }
    }

    private func attach(input: UnsafeMutablePointer<uv_stream_t>, output: UnsafeMutablePointer<uv_stream_t>,
                        limits: FramingLimits) {
        // A client trusts its own server's answers more than a server trusts clients, but still bounds them.
        let stream = FramedStream(loop: loop, input: input, output: output, limits: limits,
                                  backpressure: BackpressureLimits(closeAbove: 1 << 30))
        stream.onEvent = { [weak self] event in self?.receive(event) }
        stream.onFramingError = { [weak self, weak stream] error in
            stream?.close(.closedLocally("server sent a malformed frame: \(error)"))
            self?.failAll("server sent a malformed frame: \(error)")
        }
        stream.onClose = { [weak self] reason in self?.failAll(reason.description) }
        self.stream = stream
        stream.startReading()
    }

    // MARK: Sending

    /// Sends a request and waits for its result. Cancelling the calling task sends `$/cancelRequest`; the call
    /// then ends with the server's answer (usually `RPCError` -32800). `onProgress` receives the `value` of each
    /// `$/progress` for this request, in order, on the client's loop thread: it must return quickly.
    public func request(_ method: String, params: JSONValue? = nil,
                        onProgress: (@Sendable (JSONValue) -> Void)? = nil) async throws -> JSONValue {
        let id = state.withLock { state -> RequestID in
            defer { state.nextID += 1 }
            return .int(state.nextID)
        }
        // A request that wants progress names its token in `params.progress_token`; this client uses the id.
        var params = params
        if onProgress != nil {
            guard case .object(var members) = params ?? .object([:]) else {
                throw RPCClientError.unexpectedResult(method: method, reason: "progress needs params to be an object")
            }
            members["progress_token"] = id.jsonValue
            params = .object(members)
        }
        let frame = try FrameEncoder.frame(.request(RPCRequest(id: id, method: method, params: params)))
        let cancelFrame = try FrameEncoder.frame(.notification(RPCNotification(
            method: LifecycleMethod.cancelRequest, params: ["id": id.jsonValue])))
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let closedReason = state.withLock { state -> String? in
                    if let reason = state.closedReason { return reason }
                    state.pending[id] = Pending(continuation: continuation, onProgress: onProgress)
                    return nil
                }
                if let closedReason {
                    continuation.resume(throwing: RPCClientError.connectionClosed(closedReason))
                    return
                }
                write(frame)
                // A task cancelled before this point ran onCancel ahead of the request; say it again after.
                if Task.isCancelled { write(cancelFrame) }
            }
        } onCancel: {
            write(cancelFrame)
        }
    }

    /// Typed variant: encodes `params`, decodes the result as `Result`.
    public func request<Params: Encodable, Result: Decodable>(
        _ method: String, _ params: Params, as type: Result.Type,
        onProgress: (@Sendable (JSONValue) -> Void)? = nil
    ) async throws -> Result {
        let value = try await request(method, params: try JSONCoding.value(params), onProgress: onProgress)
        do {
            return try JSONCoding.decode(type, from: value)
        } catch {
            throw RPCClientError.unexpectedResult(method: method, reason: String(describing: error))
        }
    }

    public func notify(_ method: String, params: JSONValue? = nil) throws {
        if let reason = state.withLock({ $0.closedReason }) { throw RPCClientError.connectionClosed(reason) }
        write(try FrameEncoder.frame(.notification(RPCNotification(method: method, params: params))))
    }

    /// `initialize` with the token when the server needs one; returns the server's description.
    @discardableResult
    public func initialize(token: String? = nil, clientName: String = "torl-client") async throws -> JSONValue {
        var params: [String: JSONValue] = ["client_name": .string(clientName)]
        if let token { params["token"] = .string(token) }
        return try await request(LifecycleMethod.initialize, params: .object(params))
    }

    /// `shutdown`, then `exit`, then close: the polite goodbye.
    public func shutdownAndExit() async throws {
        _ = try await request(LifecycleMethod.shutdown)
        try notify(LifecycleMethod.exit)
        await close()
    }

    /// Raw bytes, for tests and tools that must send what a well-behaved client never would.
    public func sendRaw(_ bytes: Data) {
        write(bytes)
    }

    private func write(_ frame: Data) {
        loop.execute { [weak self] in self?.stream?.write(frame: frame) }
    }

    /// Closes the connection once queued frames are sent; pending requests fail with `connectionClosed`.
    public func close() async {
        let spawned = await withCheckedContinuation { (continuation: CheckedContinuation<ChildProcess?, Never>) in
            let accepted = loop.execute { [self] in
                stream?.closeAfterFlush(.closedLocally("client closed the connection"))
                if stream == nil { failAll("client closed the connection") }
                child?.releaseWhenExited()
                continuation.resume(returning: child)
            }
            if !accepted { continuation.resume(returning: nil) }
        }
        if let spawned { await spawned.exited() }
    }

    /// Exit status of a spawned server once it has exited (negative: killed by that signal); nil otherwise.
    public func spawnedServerExitStatus() async -> Int64? {
        let spawned = await withCheckedContinuation { (continuation: CheckedContinuation<ChildProcess?, Never>) in
            let accepted = loop.execute { [self] in continuation.resume(returning: child) }
            if !accepted { continuation.resume(returning: nil) }
        }
        return spawned?.exitStatus
    }

    // MARK: Receiving

    private func receive(_ event: FrameEvent) {
        guard case .body(let body) = event else { return }
        guard let message = try? RPCMessage(parsing: body) else { return }
        switch message {
        case .response(let response):
            guard let id = response.id, let pending = state.withLock({ $0.pending.removeValue(forKey: id) }) else { return }
            switch response.outcome {
            case .success(let value): pending.continuation.resume(returning: value)
            case .failure(let error): pending.continuation.resume(throwing: error)
            }
        case .notification(let notification):
            if let progress = ProgressNotification(notification),
               let handler = state.withLock({ $0.pending[progress.token]?.onProgress }) {
                handler(progress.value)
            } else {
                notificationContinuation.yield(notification)
            }
        case .request(let request):
            // Servers of this protocol send no requests; answering keeps a peer that does from waiting forever.
            if let frame = try? FrameEncoder.frame(.response(.failure(request.id, .methodNotFound(request.method)))) {
                stream?.write(frame: frame)
            }
        }
    }

    private func failAll(_ reason: String) {
        let pending = state.withLock { state -> [Pending] in
            if state.closedReason == nil { state.closedReason = reason }
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for request in pending { request.continuation.resume(throwing: RPCClientError.connectionClosed(reason)) }
        notificationContinuation.finish()
    }
}

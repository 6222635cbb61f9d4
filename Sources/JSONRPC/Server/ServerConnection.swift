import Foundation
import SystemSupport

/// One client of the server. Confined to the loop thread: all state here is read and written only there; handler
/// tasks reach it by posting closures to the loop.
final class ServerConnection {
    private struct InFlight {
        let task: Task<Void, Never>
        let cancellation: CancellationFlag
    }

    let info: ConnectionInfo
    private let stream: FramedStream
    private unowned let server: ServerCore
    private let requiresToken: Bool
    private var session = Session()
    private var inFlight: [RequestID: InFlight] = [:]
    /// Messages that arrived while `initialize` ran, replayed in order once it is answered.
    private var heldMessages: [RPCMessage] = []
    /// `shutdown` is answered once this connection's running requests have finished.
    private var pendingShutdown: RequestID?
    /// The client closed its input (stdio): answer what is running, then close.
    private var inputEnded = false
    private(set) var isClosed = false

    var inFlightCount: Int { inFlight.count }

    init(info: ConnectionInfo, stream: FramedStream, server: ServerCore, requiresToken: Bool) {
        self.info = info
        self.stream = stream
        self.server = server
        self.requiresToken = requiresToken
        stream.onEvent = { [weak self] event in self?.handle(event) }
        stream.onFramingError = { [weak self] error in self?.handle(error) }
        stream.onClose = { [weak self] reason in self?.didClose(reason) }
        if info.transport == .stdio {
            stream.onEndOfInput = { [weak self] in
                self?.inputEnded = true
                self?.closeIfDrained()
            }
        }
    }

    /// Messages wait while `initialize` runs, and after `shutdown` until it is answered (so a pipelined `exit`
    /// does not cut off the requests `shutdown` is waiting for).
    private var isHoldingMessages: Bool { session.isInitializing || pendingShutdown != nil }

    private func closeIfDrained() {
        guard inputEnded, inFlight.isEmpty, heldMessages.isEmpty, !isClosed else { return }
        stream.closeAfterFlush(.closedLocally("client closed its input"))
    }

    func start() {
        stream.startReading()
    }

    // MARK: Incoming

    private func handle(_ event: FrameEvent) {
        switch event {
        case .oversizedBody(let length, let limit):
            server.logger.warning("connection \(info.id): skipped a body of \(length) bytes (limit \(limit))")
            send(.response(.failure(nil, .payloadTooLarge(length: length, limit: limit))))
        case .body(let body):
            do {
                handle(try RPCMessage(parsing: body))
            } catch let error as RPCError {
                server.logger.info("connection \(info.id): \(error.message)")
                send(.response(.failure(nil, error)))
            } catch let invalid as InvalidMessage {
                send(.response(.failure(invalid.id, invalid.error)))
            } catch {
                send(.response(.failure(nil, .internalError(String(describing: error)))))
            }
        }
    }

    /// After a malformed header no later byte can be trusted to start a frame: answer once, then close.
    private func handle(_ error: FramingError) {
        server.logger.warning("connection \(info.id): \(error); closing")
        send(.response(.failure(nil, .parseError(error.description))))
        stream.closeAfterFlush(.closedLocally(error.description))
    }

    private func handle(_ message: RPCMessage) {
        if isHoldingMessages {
            guard heldMessages.count < server.configuration.maxInFlightPerConnection else {
                if case .request(let request) = message {
                    send(.response(.failure(request.id, .serverBusy("too many messages sent while 'initialize' or 'shutdown' is unanswered"))))
                }
                return
            }
            heldMessages.append(message)
            return
        }
        switch message {
        case .request(let request):
            handle(request)
        case .notification(let notification):
            handle(notification)
        case .response(let response):
            server.logger.debug("connection \(info.id): ignored a response (id \(response.id?.description ?? "null")); the server sends no requests")
        }
    }

    private func handle(_ request: RPCRequest) {
        if inFlight[request.id] != nil {
            send(.response(.failure(request.id, .invalidRequest("id \(request.id) is already in use by a running request"))))
            return
        }
        switch session.admit(method: request.method, serverStopping: server.isStopping) {
        case .reject(let error):
            send(.response(.failure(request.id, error)))
        case .holdUntilInitialized:
            heldMessages.append(.request(request))
        case .initialize:
            startInitialize(request)
        case .shutdown:
            if inFlight.isEmpty {
                send(.response(.success(request.id, .null)))
            } else {
                pendingShutdown = request.id
            }
        case .dispatch:
            guard inFlight.count < server.configuration.maxInFlightPerConnection else {
                let limit = server.configuration.maxInFlightPerConnection
                send(.response(.failure(request.id, .serverBusy("\(limit) requests already running on this connection"))))
                return
            }
            let router = server.router
            run(request) { context in await router.respond(to: request, context: context) }
        }
    }

    private func startInitialize(_ request: RPCRequest) {
        if requiresToken, let expected = server.configuration.token,
           !AuthPolicy.tokenMatches(presented: request.params?["token"]?.stringValue, expected: expected) {
            server.logger.warning("connection \(info.id) (\(info.peer)): initialize with a missing or wrong token; closing")
            session.initializeFinished(succeeded: false)
            send(.response(.failure(request.id, .unauthorized("'initialize' must carry the server's token in params.token"))))
            stream.closeAfterFlush(.closedLocally("unauthorized"))
            return
        }
        let router = server.router
        let base = server.configuration.protocolInfo(methods: router.methods)
        run(request) { context in
            guard router.hasHandler(for: LifecycleMethod.initialize) else { return .success(request.id, base) }
            let response = await router.respond(to: request, context: context)
            guard case .success(let extra) = response.outcome else { return response }
            guard case .object(var merged) = base, case .object(let additions) = extra else {
                return .success(request.id, extra)
            }
            merged.merge(additions) { _, daemon in daemon }
            return .success(request.id, .object(merged))
        }
    }

    private func handle(_ notification: RPCNotification) {
        switch notification.method {
        case LifecycleMethod.exit:
            server.logger.info("connection \(info.id): exit")
            cancelAll()
            stream.closeAfterFlush(.closedLocally("client sent exit"))
            server.connectionRequestedExit(self, status: session.exitStatus)
        case LifecycleMethod.cancelRequest:
            guard let id = notification.params?["id"].flatMap(RequestID.init) else {
                server.logger.info("connection \(info.id): $/cancelRequest without a string or integer params.id")
                return
            }
            if let running = inFlight[id] {
                running.cancellation.cancel()
                running.task.cancel()
            }
        default:
            guard session.acceptsNotification(notification.method),
                  let handler = server.router.notificationHandler(for: notification.method)
            else { return }
            let connection = info
            Task { await handler(notification.params, connection) }
        }
    }

    // MARK: Running requests

    /// Runs `body` as a Swift task off the loop thread; its answer is encoded there and posted back.
    private func run(_ request: RPCRequest, _ body: @escaping @Sendable (RequestContext) async -> RPCResponse) {
        let cancellation = CancellationFlag()
        let loop = server.loop
        let sink = notificationSink()
        let context = RequestContext(id: request.id, method: request.method, connection: info,
                                     cancellation: cancellation, notifications: sink)
        let task = Task { [weak self] in
            var response = await body(context)
            if context.isCancelled, response.error == nil, request.method != LifecycleMethod.initialize {
                // The client gave up on the answer; LSP lets a cancelled request finish, but -32800 tells it
                // unambiguously that nothing it still waits for is coming.
                response = .failure(request.id, .requestCancelled)
            }
            let frame = ServerConnection.frame(for: .response(response))
            loop.execute { self?.finish(request, response: response, frame: frame) }
        }
        inFlight[request.id] = InFlight(task: task, cancellation: cancellation)
    }

    private func finish(_ request: RPCRequest, response: RPCResponse, frame: Data?) {
        inFlight[request.id] = nil
        if !isClosed, let frame { stream.write(frame: frame) }
        if request.method == LifecycleMethod.initialize {
            session.initializeFinished(succeeded: response.error == nil)
            replayHeldMessages()
        }
        if inFlight.isEmpty, let shutdownID = pendingShutdown, !isClosed {
            pendingShutdown = nil
            send(.response(.success(shutdownID, .null)))
            replayHeldMessages()
        }
        closeIfDrained()
        server.connectionMadeProgress()
    }

    private func replayHeldMessages() {
        while !heldMessages.isEmpty, !isHoldingMessages, !isClosed {
            handle(heldMessages.removeFirst())
        }
    }

    private func notificationSink() -> NotificationSink {
        let loop = server.loop
        return NotificationSink { [weak self] notification in
            guard let frame = ServerConnection.frame(for: .notification(notification)) else { return }
            loop.execute { [weak self] in
                guard let self, !self.isClosed else { return }
                self.stream.write(frame: frame)
            }
        }
    }

    // MARK: Outgoing and closing

    private func send(_ message: RPCMessage) {
        if let frame = Self.frame(for: message) { stream.write(frame: frame) }
    }

    /// Encodes a message. A response whose result cannot be encoded (NaN, infinity) becomes an internal error
    /// rather than a lost answer; such a notification is dropped (nil).
    static func frame(for message: RPCMessage) -> Data? {
        do {
            return try FrameEncoder.frame(message)
        } catch {
            guard case .response(let response) = message else { return nil }
            let detail = RPCError.internalError("result is not encodable as JSON: \(error)")
            return try? FrameEncoder.frame(.response(.failure(response.id, detail)))
        }
    }

    func cancelAll() {
        for running in inFlight.values {
            running.cancellation.cancel()
            running.task.cancel()
        }
    }

    func closeAfterFlush(_ reason: String) {
        stream.closeAfterFlush(.closedLocally(reason))
    }

    func closeNow(_ reason: String) {
        stream.close(.closedLocally(reason))
    }

    func reject(with error: RPCError) {
        send(.response(.failure(nil, error)))
        stream.closeAfterFlush(.closedLocally(error.message))
    }

    private func didClose(_ reason: StreamCloseReason) {
        guard !isClosed else { return }
        isClosed = true
        if !inFlight.isEmpty {
            server.logger.info("connection \(info.id) closed with \(inFlight.count) requests running; cancelling them")
        }
        cancelAll()
        server.connectionClosed(self, reason: reason)
    }
}

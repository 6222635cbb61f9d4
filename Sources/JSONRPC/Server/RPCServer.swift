import CUV
import Foundation
import SystemSupport

/// The JSON-RPC server: listeners, connections and the stop sequence, all owned by one libuv loop thread.
/// Thread-safe façade: every public method may be called from any thread except the loop's own.
public final class RPCServer: @unchecked Sendable {
    private let core: ServerCore
    public let loop: EventLoop

    public init(router: Router, configuration: ServerConfiguration = ServerConfiguration(),
                logger: RPCLogger = .standardError()) throws {
        loop = try EventLoop(name: "torl.rpc.server-loop")
        core = ServerCore(router: router, configuration: configuration, logger: logger, loop: loop)
    }

    /// Starts listening on `endpoint`; returns the bound address (port 0 becomes the real port). Throws for an
    /// address that cannot be bound or a non-loopback TCP address without a token.
    @discardableResult
    public func listen(on endpoint: Endpoint) throws -> Endpoint {
        let requiresToken = try AuthPolicy.requiresToken(for: endpoint, token: core.configuration.token)
        return try loop.sync { [core] in try core.listen(on: endpoint, requiresToken: requiresToken) }
    }

    /// Serves one client over a pair of descriptors: `serveStdio(input: 0, output: 1)` for `torl serve --stdio`.
    /// When that client sends `exit` or closes its input, the whole server stops.
    public func serveStdio(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) throws {
        try loop.sync { [core] in try core.serveStdio(input: input, output: output) }
    }

    /// SIGINT and SIGTERM (by default) begin a graceful stop.
    public func stopOnSignals(_ signals: [Int32] = [SIGINT, SIGTERM]) throws {
        try loop.sync { [core] in try core.installSignalHandlers(signals) }
    }

    /// Begins the stop sequence: stop accepting, let in-flight requests finish within the grace period, cancel
    /// the rest, close every connection. Returns at once; `waitUntilStopped` or `stopped` wait for the end.
    public func stop() {
        loop.execute { [core] in core.beginStop(reason: "stop requested") }
    }

    /// Blocks until stopped; returns the exit status (LSP: 1 if a stdio client exited without `shutdown`).
    @discardableResult
    public func waitUntilStopped() -> Int32 {
        core.stoppedSignal.wait()
        core.stoppedSignal.signal()
        loop.close()
        return core.exitStatus.current
    }

    @discardableResult
    public func stopped() async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in continuation.resume(returning: waitUntilStopped()) }
        }
    }

    /// Connections currently open (for status and tests). A copy the loop keeps current, so reading it never
    /// waits for the loop.
    public var connectionCount: Int { core.openConnections.current }
}

/// Loop-thread state of the server.
final class ServerCore {
    let router: Router
    let configuration: ServerConfiguration
    let logger: RPCLogger
    let loop: EventLoop
    let stoppedSignal = DispatchSemaphore(value: 0)
    let exitStatus = Locked<Int32>(0)

    private(set) var connections: [Int: ServerConnection] = [:] {
        didSet { openConnections.withLock { $0 = connections.count } }
    }
    let openConnections = Locked(0)
    private var listeners: [Listener] = []
    private var signalHandles: [UnsafeMutablePointer<uv_signal_t>] = []
    private var stdioConnectionID: Int?
    private var nextConnectionID = 1
    private(set) var isStopping = false
    private var isStopped = false
    private var stopTimers: [LoopTimer] = []

    init(router: Router, configuration: ServerConfiguration, logger: RPCLogger, loop: EventLoop) {
        self.router = router
        self.configuration = configuration
        self.logger = logger
        self.loop = loop
    }

    func listen(on endpoint: Endpoint, requiresToken: Bool) throws -> Endpoint {
        guard !isStopping else { throw UVError(UV_ECANCELED.rawValue, "listen \(endpoint): the server is stopping") }
        let listener = try Listener(endpoint: endpoint, requiresToken: requiresToken, loop: loop) { [weak self] client, transport, peer in
            guard let self else {
                closeAndFree(client)
                return
            }
            self.accept(client, transport: transport, peer: peer, requiresToken: requiresToken)
        }
        listeners.append(listener)
        logger.info("listening on \(listener.boundEndpoint)\(requiresToken ? " (token required)" : "")")
        return listener.boundEndpoint
    }

    func serveStdio(input: Int32, output: Int32) throws {
        let inputStream = try StreamHandles.open(fileDescriptor: input, on: loop)
        let outputStream: UnsafeMutablePointer<uv_stream_t>
        do {
            outputStream = try StreamHandles.open(fileDescriptor: output, on: loop)
        } catch {
            closeAndFree(inputStream)
            throw error
        }
        let connection = makeConnection(input: inputStream, output: outputStream, transport: .stdio,
                                        peer: "stdio", requiresToken: false)
        stdioConnectionID = connection.info.id
        logger.info("serving on stdio")
    }

    private func accept(_ client: UnsafeMutablePointer<uv_stream_t>, transport: TransportKind, peer: String,
                        requiresToken: Bool) {
        let connection = makeConnection(input: client, output: client, transport: transport, peer: peer,
                                        requiresToken: requiresToken)
        if isStopping {
            connection.reject(with: .shuttingDown("the server is stopping"))
        } else if connections.count > configuration.maxConnections {
            connection.reject(with: .serverBusy("\(configuration.maxConnections) connections already open"))
        }
    }

    @discardableResult
    private func makeConnection(input: UnsafeMutablePointer<uv_stream_t>, output: UnsafeMutablePointer<uv_stream_t>,
                                transport: TransportKind, peer: String, requiresToken: Bool) -> ServerConnection {
        let stream = FramedStream(loop: loop, input: input, output: output, limits: configuration.framing,
                                  backpressure: configuration.backpressure)
        let info = ConnectionInfo(id: nextConnectionID, transport: transport, peer: peer)
        nextConnectionID += 1
        let connection = ServerConnection(info: info, stream: stream, server: self, requiresToken: requiresToken)
        connections[info.id] = connection
        logger.info("connection \(info.id) opened (\(transport.rawValue) \(peer))")
        connection.start()
        return connection
    }

    func connectionClosed(_ connection: ServerConnection, reason: StreamCloseReason) {
        connections[connection.info.id] = nil
        logger.info("connection \(connection.info.id) closed: \(reason)")
        if connection.info.id == stdioConnectionID {
            // The stdio client is the reason the process exists; without it there is nobody left to serve.
            beginStop(reason: "stdio client went away")
        }
        connectionMadeProgress()
    }

    func connectionRequestedExit(_ connection: ServerConnection, status: Int32) {
        guard connection.info.id == stdioConnectionID else { return }
        exitStatus.withLock { $0 = status }
        beginStop(reason: "stdio client sent exit")
    }

    /// Called whenever a request finishes or a connection closes: the stop sequence advances on these events.
    func connectionMadeProgress() {
        guard isStopping, !isStopped else { return }
        if connections.values.allSatisfy({ $0.inFlightCount == 0 }) {
            for connection in connections.values { connection.closeAfterFlush("server stopped") }
        }
        if connections.isEmpty { finishStop() }
    }

    func installSignalHandlers(_ signals: [Int32]) throws {
        // A parent may start us with these signals blocked (Foundation's Process does), and threads inherit the
        // mask; unblocking them on the loop thread lets the kernel deliver them here, where libuv catches them.
        ProcessSignals.unblock(signals)
        for number in signals {
            let handle = allocateHandle(uv_signal_t.self)
            uv_signal_init(loop.raw, handle)
            handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
            let status = uv_signal_start(handle, { handle, signalNumber in
                guard let data = handle?.pointee.data else { return }
                let core = Unmanaged<ServerCore>.fromOpaque(data).takeUnretainedValue()
                core.beginStop(reason: "signal \(signalNumber)")
            }, number)
            guard status == 0 else {
                closeAndFree(handle)
                throw UVError(status, "uv_signal_start(\(number))")
            }
            signalHandles.append(handle)
        }
    }

    func beginStop(reason: String) {
        guard !isStopping else { return }
        isStopping = true
        let running = connections.values.reduce(0) { $0 + $1.inFlightCount }
        logger.info("stopping (\(reason)): \(connections.count) connections, \(running) requests running")
        for listener in listeners { listener.close() }
        listeners = []
        stopTimers.append(LoopTimer(loop: loop, after: configuration.finishGracePeriod) { [weak self] in
            guard let self, !self.isStopped else { return }
            self.logger.info("grace period over; cancelling running requests")
            for connection in self.connections.values { connection.cancelAll() }
            self.stopTimers.append(LoopTimer(loop: self.loop, after: self.configuration.cancelGracePeriod) { [weak self] in
                guard let self, !self.isStopped else { return }
                self.logger.warning("requests ignored cancellation; closing their connections")
                for connection in self.connections.values { connection.closeNow("server stopped") }
                self.connectionMadeProgress()
            })
        })
        connectionMadeProgress()
    }

    private func finishStop() {
        isStopped = true
        for timer in stopTimers { timer.cancel() }
        stopTimers = []
        for handle in signalHandles {
            closeAndFree(handle)
        }
        signalHandles = []
        logger.info("stopped")
        stoppedSignal.signal()
    }
}

import ArgumentParser
import Daemon
import Foundation
import JSONRPC
import Sandbox
import Tensors

/// `torl serve`: the JSON-RPC daemon. The transport (JSONRPC) carries the methods the Daemon module registers.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve JSON-RPC 2.0 (LSP framing) over stdio, TCP and Unix sockets.",
        discussion: "Protocol: docs/PROTOCOL.md. Logs go to stderr or --log-file, never stdout.")

    @Flag(help: "Serve one client on stdin/stdout; the daemon exits when it sends 'exit' or closes stdin.")
    var stdio = false

    @Option(name: .customLong("listen"), help: "tcp://HOST:PORT or unix:PATH (repeatable).")
    var listenAddresses: [String] = []

    @Option(help: "Token TCP clients must send in initialize (required beyond loopback). Also read from TORL_TOKEN.")
    var token: String?

    @Option(name: .customLong("log-file"), help: "Append logs to this file instead of stderr.")
    var logFile: String?

    @Option(name: .customLong("log-level"), help: "debug, info, warning or error.")
    var logLevel: String = "info"

    @Option(help: "GGUF file or Hugging Face folder to load at start (default: $TORL_MODEL; none: load later with model/load).")
    var model: String?

    @Option(help: "Weight precision of the loaded model: f32 (exact), bf16 or int8 (faster).")
    var weights: WeightPrecision = .f32

    @Option(help: "A PEFT LoRA folder (adapter_config.json, adapter_model.safetensors) applied on top of --model; training then trains these adapters.")
    var adapter: String?

    @Option(help: "Python interpreter of the sandbox (default: $TORL_PYTHON, else python3 on PATH).")
    var python: String?

    @Option(name: .customLong("pool-size"), help: "Warm Python workers in the sandbox pool.")
    var poolSize: Int?

    @Option(name: .customLong("grace"), help: "Seconds in-flight requests may run after SIGINT/SIGTERM before they are cancelled.")
    var gracePeriod: Double = 10

    func validate() throws {
        guard stdio || !listenAddresses.isEmpty else {
            throw ValidationError("give --stdio and/or at least one --listen address")
        }
        guard RPCLogger.Level(name: logLevel) != nil else {
            throw ValidationError("--log-level must be one of debug, info, warning, error (got '\(logLevel)')")
        }
        guard gracePeriod >= 0 else { throw ValidationError("--grace must be >= 0 seconds") }
    }

    func run() throws {
        let level = RPCLogger.Level(name: logLevel) ?? .info
        let logger = try logFile.map { try RPCLogger.file($0, minimumLevel: level) } ?? .standardError(minimumLevel: level)
        let endpoints = try listenAddresses.map { try Endpoint(parsing: $0) }
        var sandbox = SandboxConfiguration()
        if let python { sandbox.pythonPath = python }
        if let poolSize { sandbox.poolSize = poolSize }
        let daemonConfiguration = DaemonConfiguration(
            modelPath: model ?? ProcessInfo.processInfo.environment["TORL_MODEL"], weights: weights, adapterPath: adapter,
            sandbox: sandbox)
        logger.info("starting: sandbox pool of \(sandbox.poolSize) (\(sandbox.pythonPath)), model \(daemonConfiguration.modelPath ?? "none")")
        let daemon = try blockingAwait { try await Daemon(configuration: daemonConfiguration) }
        defer { blockingAwait { await daemon.shutdown() } }
        let router = Router()
        daemon.register(on: router)
        let configuration = ServerConfiguration(
            serverName: "torl", serverVersion: TorlVersion.current,
            token: token ?? ProcessInfo.processInfo.environment["TORL_TOKEN"],
            finishGracePeriod: gracePeriod)
        let server = try RPCServer(router: router, configuration: configuration, logger: logger)
        do {
            for endpoint in endpoints { try server.listen(on: endpoint) }
            if stdio { try server.serveStdio() }
            try server.stopOnSignals()
        } catch {
            server.stop()
            server.waitUntilStopped()
            throw error
        }
        let status = server.waitUntilStopped()
        if status != 0 { throw ExitCode(status) }
    }
}

enum TorlVersion {
    static let current = "0.1.0"
}

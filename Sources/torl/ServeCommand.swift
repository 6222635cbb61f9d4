import ArgumentParser
import Foundation
import JSONRPC

/// `torl serve`: the JSON-RPC daemon. For now it answers the lifecycle methods and `status` (server facts only);
/// the Daemon module adds solve, rollout, training and evaluation handlers to the same router.
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
        let router = Router()
        let serverHandle = Locked<RPCServer?>(nil)
        ServerStatus.register(on: router, server: serverHandle)
        let configuration = ServerConfiguration(
            serverName: "torl", serverVersion: TorlVersion.current,
            token: token ?? ProcessInfo.processInfo.environment["TORL_TOKEN"],
            finishGracePeriod: gracePeriod)
        let server = try RPCServer(router: router, configuration: configuration, logger: logger)
        serverHandle.withLock { $0 = server }
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

/// `status` while only the transport exists: who is serving, for how long, to how many, in how much memory.
enum ServerStatus {
    struct Result: Codable, Sendable {
        struct Server: Codable, Sendable {
            var name: String
            var version: String
            var pid: Int32
            var uptimeSeconds: Double
            var connections: Int
        }
        struct Memory: Codable, Sendable {
            var residentBytes: Int?
        }
        var server: Server
        var memory: Memory
    }

    static func register(on router: Router, server: Locked<RPCServer?>) {
        let started = Date()
        router.register("status") { (_: EmptyParams, _) -> Result in
            Result(server: .init(name: "torl", version: TorlVersion.current, pid: getpid(),
                                 uptimeSeconds: Date().timeIntervalSince(started),
                                 connections: server.current?.connectionCount ?? 0),
                   memory: .init(residentBytes: residentBytes()))
        }
    }

    /// Resident set size from /proc/self/statm (Linux); nil where that file does not exist.
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

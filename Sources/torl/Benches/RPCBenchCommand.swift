import ArgumentParser
import Foundation
import JSONRPC
import TorlProtocol
import Tensors

/// `torl bench rpc`: starts a `torl serve` child, measures `status` round trips over TCP and the Unix socket, times
/// N `solve` requests sent at once against the same N one after another (shared batching), then soaks it with mixed
/// requests from several clients at once and counts every request without its expected answer.
struct RPCBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc",
        abstract: "Round-trip latency of status, concurrent against sequential solves, and a mixed-request soak against a daemon it starts; prints JSON.")

    @Option(help: "Model the daemon loads for the solve figure (default: $TORL_MODEL).")
    var model: String?

    @Option(help: "Weight precision of the daemon's model: f32, bf16 or int8.")
    var weights: WeightPrecision = .f32

    @Option(help: "Solve requests timed concurrently and sequentially (0: skip the solve figure).")
    var solves: Int = 8

    @Option(name: .customLong("solve-max-tokens"), help: "Response budget of each timed solve (greedy, so every run decodes the same tokens).")
    var solveMaxTokens: Int = 64

    @Option(name: .customLong("solve-tool-calls"), help: "Tool calls per timed solve (0 isolates the decoder's batching from the sandbox).")
    var solveToolCalls: Int = 0

    @Option(help: "Sequential status requests timed per transport.")
    var samples: Int = 2000

    @Option(help: "Mixed requests in the soak, spread over all clients.")
    var requests: Int = 2000

    @Option(help: "Concurrent clients in the soak (half TCP, half Unix socket).")
    var clients: Int = 8

    @Option(help: "Requests each soak client keeps in flight.")
    var depth: Int = 8

    @Option(help: "Seconds after which an unanswered request counts as lost.")
    var timeout: Double = 30

    func validate() throws {
        guard samples > 0, requests > 0, clients > 0, depth > 0, timeout > 0 else {
            throw ValidationError("--samples, --requests, --clients, --depth and --timeout must be positive")
        }
        guard solves >= 0, solveMaxTokens >= 1, solveToolCalls >= 0 else {
            throw ValidationError("--solves and --solve-tool-calls must be >= 0, --solve-max-tokens >= 1")
        }
    }

    func run() throws {
        let modelPath = model ?? ProcessInfo.processInfo.environment["TORL_MODEL"]
        if solves > 0 && modelPath == nil {
            throw ValidationError("the solve figure needs a model: pass --model or set TORL_MODEL (or --solves 0)")
        }
        let settings = RPCBench.Settings(samples: samples, requests: requests, clients: clients, depth: depth,
                                         timeout: timeout, modelPath: solves > 0 ? modelPath : nil, weights: weights,
                                         solves: SolveBench.Settings(count: solves, maxTokens: solveMaxTokens,
                                                                     toolCalls: solveToolCalls, weights: weights.rawValue))
        let report = try blockingAwait { try await RPCBench(settings: settings).run() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}

struct RPCBench {
    struct Settings: Sendable {
        var samples: Int
        var requests: Int
        var clients: Int
        var depth: Int
        var timeout: Double
        var modelPath: String?
        var weights: WeightPrecision
        var solves: SolveBench.Settings
    }

    struct Latency: Codable, Sendable {
        var samples: Int
        var p50Microseconds: Double
        var p99Microseconds: Double
        var meanMicroseconds: Double
        var maxMicroseconds: Double
    }

    struct Soak: Codable, Sendable {
        var requests: Int
        var clients: Int
        var inFlightPerClient: Int
        var answeredAsExpected: Int
        var lost: Int
        var unexpected: Int
        /// Per kind: how many were sent, and the first unexpected answer if any.
        var byKind: [String: Int]
        var firstUnexpectedByKind: [String: String]
        var seconds: Double
        var requestsPerSecond: Double
    }

    struct Memory: Codable, Sendable {
        var residentBytesAtStart: Int?
        var residentBytesAfterWarmup: Int?
        var residentBytesAfterSoak: Int?
    }

    struct Report: Codable, Sendable {
        var statusRoundTrip: [String: Latency]
        var solveConcurrency: SolveBench.Report?
        var soak: Soak
        var daemonMemory: Memory
        var daemonExitStatus: Int32
    }

    /// One kind of soak request and the answer that counts as correct.
    enum Kind: String, CaseIterable, Sendable {
        case status, unknownMethod, invalidParams, repeatedInitialize

        var method: String {
            switch self {
            case .status, .invalidParams: return "status"
            case .unknownMethod: return "bench/no-such-method"
            case .repeatedInitialize: return "initialize"
            }
        }

        var params: JSONValue? {
            self == .invalidParams ? [1, 2] : nil
        }

        func isExpected(_ outcome: Result<JSONValue, Error>) -> Bool {
            switch (self, outcome) {
            case (.status, .success(let value)): return (try? JSONCoding.decode(StatusResult.self, from: value)) != nil
            case (.unknownMethod, .failure(let error)): return (error as? RPCError)?.code == RPCError.methodNotFoundCode
            case (.invalidParams, .failure(let error)): return (error as? RPCError)?.code == RPCError.invalidParamsCode
            case (.repeatedInitialize, .failure(let error)):
                return (error as? RPCError)?.code == RPCError.alreadyInitializedCode
            default: return false
            }
        }

        /// 70% status, 10% of each failure kind: mostly real work, with every error path exercised under load.
        static func pick(_ index: Int) -> Kind {
            switch index % 10 {
            case 0: return .unknownMethod
            case 5: return .invalidParams
            case 7: return .repeatedInitialize
            default: return .status
            }
        }
    }

    struct TimedOut: Error {}

    let settings: Settings

    func run() async throws -> Report {
        let daemon = try BenchDaemon.start(modelPath: settings.modelPath, weights: settings.weights)
        do {
            let report = try await measure(daemon)
            return report
        } catch {
            daemon.terminate()
            throw error
        }
    }

    private func measure(_ daemon: BenchDaemon) async throws -> Report {
        let unixClient = try await daemon.connectedClient(.unix)
        let tcpClient = try await daemon.connectedClient(.tcp)
        var memory = Memory(residentBytesAtStart: try await residentBytes(unixClient))

        for client in [unixClient, tcpClient] {
            for _ in 0 ..< min(200, settings.samples) { _ = try await client.request("status") }
        }
        memory.residentBytesAfterWarmup = try await residentBytes(unixClient)
        let latencies = [
            "unix": try await statusLatency(unixClient),
            "tcp": try await statusLatency(tcpClient),
        ]

        let soak = try await soak(daemon)
        memory.residentBytesAfterSoak = try await residentBytes(unixClient)
        // After the memory figures: decoding allocates KV caches, which is growth the soak must not be blamed for.
        let solves = settings.solves.count > 0
            ? try await SolveBench(settings: settings.solves).run { try await daemon.connectedClient(.unix) } : nil
        for client in [unixClient, tcpClient] { try await client.shutdownAndExit() }
        let exitStatus = daemon.stop()
        return Report(statusRoundTrip: latencies, solveConcurrency: solves, soak: soak, daemonMemory: memory, daemonExitStatus: exitStatus)
    }

    private func residentBytes(_ client: RPCClient) async throws -> Int? {
        try await client.send(StatusRequest.self, NoParams()).memory.rss_bytes
    }

    private func statusLatency(_ client: RPCClient) async throws -> Latency {
        var microseconds: [Double] = []
        microseconds.reserveCapacity(settings.samples)
        for _ in 0 ..< settings.samples {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try await client.request("status")
            microseconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000)
        }
        microseconds.sort()
        return Latency(samples: microseconds.count, p50Microseconds: BenchFigures.percentile(microseconds, 0.5),
                       p99Microseconds: BenchFigures.percentile(microseconds, 0.99),
                       meanMicroseconds: microseconds.reduce(0, +) / Double(microseconds.count),
                       maxMicroseconds: microseconds.last ?? 0)
    }

    private enum Verdict: Sendable, Equatable {
        case expected, lost
        case unexpected(String)
    }

    private func soak(_ daemon: BenchDaemon) async throws -> Soak {
        let settings = self.settings
        let clients = try await withThrowingTaskGroup(of: RPCClient.self) { group in
            for index in 0 ..< settings.clients {
                group.addTask { try await daemon.connectedClient(index % 2 == 0 ? .tcp : .unix) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let verdicts = await withTaskGroup(of: [(Kind, Verdict)].self) { group in
            for (clientIndex, client) in clients.enumerated() {
                let share = (clientIndex ..< settings.requests).filter { $0 % settings.clients == clientIndex }
                group.addTask {
                    await Self.drive(client, requestIndices: share, depth: settings.depth, timeout: settings.timeout)
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        for client in clients { try await client.shutdownAndExit() }
        var byKind: [String: Int] = [:]
        var firstUnexpected: [String: String] = [:]
        var unexpected = 0
        for (kind, verdict) in verdicts {
            byKind[kind.rawValue, default: 0] += 1
            if case .unexpected(let answer) = verdict {
                unexpected += 1
                if firstUnexpected[kind.rawValue] == nil { firstUnexpected[kind.rawValue] = answer }
            }
        }
        let expected = verdicts.filter { $0.1 == .expected }.count
        return Soak(requests: settings.requests, clients: settings.clients, inFlightPerClient: settings.depth,
                    answeredAsExpected: expected,
                    lost: verdicts.filter { $0.1 == .lost }.count + (settings.requests - verdicts.count),
                    unexpected: unexpected, byKind: byKind, firstUnexpectedByKind: firstUnexpected,
                    seconds: seconds, requestsPerSecond: Double(verdicts.count) / seconds)
    }

    /// One client's share, `depth` requests in flight at a time.
    private static func drive(_ client: RPCClient, requestIndices: [Int], depth: Int, timeout: Double) async -> [(Kind, Verdict)] {
        await withTaskGroup(of: (Kind, Verdict).self) { group in
            var results: [(Kind, Verdict)] = []
            var next = requestIndices.makeIterator()
            func launch() -> Bool {
                guard let index = next.next() else { return false }
                let kind = Kind.pick(index)
                group.addTask { (kind, await verdict(client, kind, timeout: timeout)) }
                return true
            }
            for _ in 0 ..< depth where !launch() { break }
            while let result = await group.next() {
                results.append(result)
                _ = launch()
            }
            return results
        }
    }

    private static func verdict(_ client: RPCClient, _ kind: Kind, timeout: Double) async -> Verdict {
        let outcome: Result<JSONValue, Error> = await withTaskGroup(of: Result<JSONValue, Error>?.self) { race in
            race.addTask {
                do { return .success(try await client.request(kind.method, params: kind.params)) } catch { return .failure(error) }
            }
            race.addTask {
                try? await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                return Task.isCancelled ? nil : .failure(TimedOut())
            }
            let first = await race.next() ?? nil
            race.cancelAll()
            return first ?? .failure(TimedOut())
        }
        if case .failure(let error) = outcome, error is TimedOut || error is RPCClientError { return .lost }
        if kind.isExpected(outcome) { return .expected }
        switch outcome {
        case .success(let value): return .unexpected("result \((try? JSONCoding.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?")")
        case .failure(let error): return .unexpected(String(describing: error))
        }
    }
}

/// The daemon under test: this same executable running `serve` on a Unix socket and a loopback TCP port.
final class BenchDaemon: @unchecked Sendable {
    enum Transport { case tcp, unix }

    let process: Process
    let directory: URL
    let tcp: Endpoint
    let unix: Endpoint

    static func start(modelPath: String?, weights: WeightPrecision) throws -> BenchDaemon {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("torl-bench-rpc-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let unix = Endpoint.unix(path: directory.appendingPathComponent("daemon.sock").path)
        let tcp = Endpoint.tcp(host: "127.0.0.1", port: try freeLoopbackPort())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ownExecutablePath())
        process.arguments = ["serve", "--listen", unix.description, "--listen", tcp.description,
                             "--log-file", directory.appendingPathComponent("serve.log").path, "--log-level", "warning"]
            + (modelPath.map { ["--model", $0, "--weights", weights.rawValue] } ?? [])
        // Without the solve figure the daemon starts without a model (the transport figures do not need one).
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "TORL_MODEL" }
        try process.run()
        return BenchDaemon(process: process, directory: directory, tcp: tcp, unix: unix)
    }

    private init(process: Process, directory: URL, tcp: Endpoint, unix: Endpoint) {
        self.process = process
        self.directory = directory
        self.tcp = tcp
        self.unix = unix
    }

    /// Connects and initializes, retrying while the daemon is still starting (loading a model takes a while).
    func connectedClient(_ transport: Transport) async throws -> RPCClient {
        let deadline = Date().addingTimeInterval(120)
        while true {
            do {
                let client = try await RPCClient.connect(to: .socket(transport == .tcp ? tcp : unix))
                try await client.initialize(clientName: "torl-bench")
                return client
            } catch {
                guard process.isRunning, Date() < deadline else {
                    throw RPCClientError.connectFailed("daemon did not come up on \(transport == .tcp ? tcp : unix): \(error)")
                }
                try await Task.sleep(nanoseconds: 20_000_000)
            }
        }
    }

    /// SIGTERM, as a service manager would stop it; returns its exit status. A daemon that has not exited 15 s
    /// later is killed and reported as -9, so a broken stop shows in the figures instead of hanging the bench.
    func stop() -> Int32 {
        process.terminate()
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        defer { try? FileManager.default.removeItem(at: directory) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return -SIGKILL
        }
        return process.terminationStatus
    }

    func terminate() {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Asks the kernel for a free port; the daemon binds it a moment later (a race only with other binders).
    private static func freeLoopbackPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let status = withUnsafeMutablePointer(to: &address) { pointer -> Int32 in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(fd, raw, length) == 0 else { return -1 }
                return getsockname(fd, raw, &length)
            }
        }
        guard status == 0 else { throw RPCClientError.connectFailed("no free loopback port: \(String(cString: strerror(errno)))") }
        return UInt16(bigEndian: address.sin_port)
    }
}

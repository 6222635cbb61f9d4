import Foundation
import SystemSupport
import XCTest
@testable import Daemon
import JSONRPC
import Sandbox

/// One real daemon for the tests of this bundle: the default model ($TORL_MODEL), the sandbox ($TORL_PYTHON), every
/// method registered, served on a Unix socket in a fresh directory (so the CLI can `--connect` to it too). Started
/// on first use and stopped when the bundle finishes, so no sandbox worker outlives the tests.
final class DaemonFixture: NSObject, XCTestObservation, @unchecked Sendable {
    let daemon: Daemon
    let server: RPCServer
    let socket: Endpoint
    let directory: URL

    private static let shared = Locked<DaemonFixture?>(nil)

    /// The bundle's daemon; the first call starts it.
    static func get() async throws -> DaemonFixture {
        if let running = shared.withLock({ $0 }) { return running }
        let started = try await start()
        shared.withLock { $0 = started }
        XCTestObservationCenter.shared.addTestObserver(started)
        return started
    }

    /// The default model, or a failure naming the missing setting (tests never skip silently).
    static func modelPath() throws -> String {
        guard let path = ProcessInfo.processInfo.environment["TORL_MODEL"], FileManager.default.fileExists(atPath: path) else {
            XCTFail("TORL_MODEL must name the default model file (make test sets it to models/SmolLM2-135M-Instruct.Q4_1.gguf)")
            throw DaemonFixtureError.missing("TORL_MODEL")
        }
        return path
    }

    /// A daemon of its own (not the bundle's shared one) for tests that need several or a fresh trainer; the
    /// test stops it with `stop()`.
    static func startIsolated(poolSize: Int = 1) async throws -> DaemonFixture {
        try await start(poolSize: poolSize, name: "torl-daemon-tests-\(getpid())-\(UUID().uuidString.prefix(8))")
    }

    private static func start(poolSize: Int = 2, name: String = "torl-daemon-tests-\(getpid())") async throws -> DaemonFixture {
        let daemon = try await Daemon(configuration: DaemonConfiguration(
            modelPath: try modelPath(), sandbox: SandboxConfiguration(poolSize: poolSize)))
        let router = Router()
        daemon.register(on: router)
        let server = try RPCServer(router: router, configuration: ServerConfiguration(), logger: .silent)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let socket = try server.listen(on: .unix(path: directory.appendingPathComponent("d.sock").path))
        return DaemonFixture(daemon: daemon, server: server, socket: socket, directory: directory)
    }

    private init(daemon: Daemon, server: RPCServer, socket: Endpoint, directory: URL) {
        self.daemon = daemon
        self.server = server
        self.socket = socket
        self.directory = directory
    }

    func client() async throws -> RPCClient {
        let client = try await RPCClient.connect(to: .socket(socket))
        try await client.initialize(clientName: "daemon-tests")
        return client
    }

    /// A fresh scratch folder inside the fixture's directory.
    func scratch(_ name: String) throws -> URL {
        let url = directory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func testBundleDidFinish(_ testBundle: Bundle) { stop() }

    /// Stops the server and the daemon (no sandbox worker left) and removes the directory.
    func stop() {
        server.stop()
        _ = server.waitUntilStopped()
        let done = DispatchSemaphore(value: 0)
        Task.detached { [daemon] in
            await daemon.shutdown()
            done.signal()
        }
        done.wait()
        try? FileManager.default.removeItem(at: directory)
    }
}

enum DaemonFixtureError: Error {
    case missing(String)
}

/// The `torl` executable built next to the test bundle, run as a user would.
enum TorlProcess {
    static func executable() throws -> String {
        let testRunner = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0])
        let path = testRunner.deletingLastPathComponent().appendingPathComponent("torl").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("the torl executable is missing at \(path); build it with `swift build --build-tests`")
            throw DaemonFixtureError.missing(path)
        }
        return path
    }

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `torl arguments` in `directory` to completion. The pipes are read on threads of their own, never on
    /// the cooperative pool, which the in-process daemon needs to answer the very command being waited for.
    static func run(_ arguments: [String], in directory: URL? = nil,
                    environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable())
        process.arguments = arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return await withCheckedContinuation { continuation in
            let errorText = Locked(Data())
            let errorRead = DispatchSemaphore(value: 0)
            Thread {
                let data = err.fileHandleForReading.readDataToEndOfFile()
                errorText.withLock { $0 = data }
                errorRead.signal()
            }.start()
            Thread {
                let stdout = out.fileHandleForReading.readDataToEndOfFile()
                errorRead.wait()
                process.waitUntilExit()
                continuation.resume(returning: Outcome(
                    status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                    stderr: String(decoding: errorText.withLock { $0 }, as: UTF8.self)))
            }.start()
        }
    }
}

extension JSONValue {
    /// The value of a JSON text, for the CLI's `--json` output and JSONL files.
    static func parsing(_ text: some StringProtocol) throws -> JSONValue {
        try JSONParser.parse(Data(text.utf8))
    }
}

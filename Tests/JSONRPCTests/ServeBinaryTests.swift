import Foundation
import XCTest
@testable import JSONRPC

/// The real `torl serve` binary, started the two ways clients start it.
final class ServeBinaryTests: XCTestCase {
    /// `torl` is built next to the test bundle by `swift build --build-tests` / `swift test`.
    private func torlExecutable() throws -> String {
        let testRunner = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0])
        let path = testRunner.deletingLastPathComponent().appendingPathComponent("torl").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("the torl executable is missing at \(path); build it with `swift build --build-tests`")
            throw RPCClientError.connectFailed("no torl executable")
        }
        return path
    }

    func testSpawnedStdioServerAnswersAndExitsCleanly() async throws {
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("torl-serve-\(getpid()).log").path
        try? FileManager.default.removeItem(atPath: logPath)
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        let client = try await RPCClient.connect(
            to: .spawn(executable: try torlExecutable(), arguments: ["serve", "--stdio", "--log-file", logPath], stderrPath: nil))
        let info = try await client.initialize()
        XCTAssertEqual(info["server"]?["name"], "torl")
        let status = try await client.request("status")
        XCTAssertNotNil(status["uptime_s"]?.doubleValue)
        XCTAssertGreaterThan(status["memory"]?["rss_bytes"]?.intValue ?? 0, 1 << 20)
        do {
            _ = try await client.request("status", params: [1])
            XCTFail("positional params accepted")
        } catch let error as RPCError {
            XCTAssertEqual(error.code, -32602)
        }
        try await client.shutdownAndExit()
        let exitStatus = await client.spawnedServerExitStatus()
        XCTAssertEqual(exitStatus, 0)
        let log = try String(contentsOfFile: logPath, encoding: .utf8)
        XCTAssertTrue(log.contains("serving on stdio") && log.contains("stopped"), log)
        let mode = try FileManager.default.attributesOfItem(atPath: logPath)[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o600)
    }

    private func runTorl(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try torlExecutable())
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    func testServeRefusesUnsafeOrIncompleteConfigurations() throws {
        let nothing = try runTorl(["serve"])
        XCTAssertNotEqual(nothing.status, 0)
        XCTAssertTrue(nothing.stderr.contains("give --stdio and/or at least one --listen address"), nothing.stderr)
        let exposed = try runTorl(["serve", "--listen", "tcp://0.0.0.0:0"])
        XCTAssertNotEqual(exposed.status, 0)
        XCTAssertTrue(exposed.stderr.contains("requires --token"), exposed.stderr)
        let badAddress = try runTorl(["serve", "--listen", "http://localhost:80"])
        XCTAssertNotEqual(badAddress.status, 0)
        XCTAssertTrue(badAddress.stderr.contains("expected tcp://HOST:PORT or unix:PATH"), badAddress.stderr)
        XCTAssertEqual(nothing.stdout + exposed.stdout + badAddress.stdout, "", "errors go to stderr, never stdout")
    }

    func testDaemonStopsOnSIGTERMAndRemovesItsSocket() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("torl-serve-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socketPath = directory.appendingPathComponent("d.sock").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try torlExecutable())
        process.arguments = ["serve", "--listen", "unix:\(socketPath)", "--log-level", "error"]
        // A transport test: no model to load (start-up would depend on the machine's load).
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "TORL_MODEL" }
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        var client: RPCClient?
        let deadline = Date().addingTimeInterval(60)
        while client == nil, Date() < deadline {
            client = try? await RPCClient.connect(to: .socket(.unix(path: socketPath)))
            if client == nil { try await Task.sleep(nanoseconds: 20_000_000) }
        }
        guard let client else { return XCTFail("the daemon did not listen on \(socketPath) within 60 s") }
        try await client.initialize()
        let attributes = try FileManager.default.attributesOfItem(atPath: socketPath)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        process.terminate()
        let stopDeadline = Date().addingTimeInterval(30)
        while process.isRunning, Date() < stopDeadline { try await Task.sleep(nanoseconds: 10_000_000) }
        // Foundation traps when the status of a running process is read: fail without reading it.
        guard !process.isRunning else { return XCTFail("SIGTERM did not stop the daemon within 30 s") }
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertFalse(FileManager.default.fileExists(atPath: socketPath))
        do {
            _ = try await client.request("status")
            XCTFail("the connection outlived the daemon")
        } catch is RPCClientError {}
    }
}

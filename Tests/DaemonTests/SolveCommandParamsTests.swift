import Foundation
import XCTest
import JSONRPC

/// What `torl solve` sends, seen by a stand-in daemon whose `solve` answers with the params it received (the
/// command prints that answer with --json). The prompt options must reach `solve` under the same field names as
/// `evaluate` and `train_step` receive them (docs/METHODS.md, shared generation fields).
final class SolveCommandParamsTests: XCTestCase {
    private func echoDaemon() throws -> (RPCServer, Endpoint, URL) {
        let router = Router()
        router.registerRaw("initialize") { _, _ in ["server": ["name": "echo"], "model": .null] }
        router.registerRaw("solve") { params, _ in params ?? .null }
        let server = try RPCServer(router: router, configuration: ServerConfiguration(), logger: .silent)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("torl-echo-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let socket = try server.listen(on: .unix(path: directory.appendingPathComponent("e.sock").path))
        return (server, socket, directory)
    }

    private func sentParams(_ arguments: [String]) async throws -> JSONValue {
        let (server, socket, directory) = try echoDaemon()
        defer {
            server.stop()
            _ = server.waitUntilStopped()
            try? FileManager.default.removeItem(at: directory)
        }
        let run = try await TorlProcess.run(["solve", "--connect", socket.description, "--json"] + arguments)
        XCTAssertEqual(run.status, 0, run.stderr)
        // The client adds the token its streamed text arrives under; the rest is the command's.
        guard case .object(var sent) = try JSONValue.parsing(run.stdout) else { throw DaemonFixtureError.missing("solve params") }
        XCTAssertNotNil(sent.removeValue(forKey: "progress_token"))
        return .object(sent)
    }

    func testSolveSendsThePromptOptionsAsTheSharedFields() async throws {
        let sent = try await sentParams([
            "--instruction", "Box it.", "--accept-unboxed-answers", "--require-evaluated-answers",
            "--template", "chat", "--max-tokens", "12", "--max-tool-calls", "2", "--temperature", "0.5",
            "--reference", "42", "What is 6 * 7?",
        ])
        XCTAssertEqual(sent, [
            "problem": "What is 6 * 7?", "reference": "42", "template": "chat", "max_tokens": 12, "max_tool_calls": 2,
            "temperature": 0.5, "instruction": "Box it.", "accept_unboxed_answers": true,
            "require_evaluated_answers": true,
        ])
    }

    /// Options not given are left to the daemon's defaults; the two answer-reading flags are sent as false.
    func testSolveLeavesOptionsNotGivenToTheDaemon() async throws {
        let sent = try await sentParams(["What is 1 + 1?"])
        XCTAssertEqual(sent, [
            "problem": "What is 1 + 1?", "accept_unboxed_answers": false, "require_evaluated_answers": false,
        ])
    }
}

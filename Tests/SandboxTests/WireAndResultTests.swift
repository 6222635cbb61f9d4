import Foundation
import XCTest
@testable import Sandbox

final class WireAndResultTests: XCTestCase {
    func testFramesSurviveBeingFedOneByteAtATime() throws {
        let bodies = [Data("{\"type\":\"ready\"}".utf8), Data(), Data(repeating: 0x41, count: 70_000)]
        let stream = bodies.map(WireFrame.encode).reduce(Data(), +)
        var decoder = FrameDecoder()
        var decoded = [Data]()
        for byte in stream {
            decoded += try [byte].withUnsafeBytes { try decoder.feed($0) }
        }
        XCTAssertEqual(decoded, bodies)
        var whole = FrameDecoder()
        XCTAssertEqual(try stream.withUnsafeBytes { try whole.feed($0) }, bodies)
    }

    func testOversizedFramesAreRejected() {
        var decoder = FrameDecoder()
        XCTAssertThrowsError(try [UInt8(0x7F), 0, 0, 0].withUnsafeBytes { try decoder.feed($0) }) { error in
            XCTAssertEqual(error as? WireError, .frameTooLarge(0x7F00_0000))
        }
    }

    func testResultEncodesEveryKeyInSnakeCase() throws {
        let result = ExecutionResult(status: .outputLimit, stdout: "x", wallMs: 1.5, truncated: true)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(result)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["status", "exit_code", "signal", "stdout", "stderr", "wall_ms", "cpu_ms",
                                          "queue_ms", "truncated", "message", "pid"])
        XCTAssertEqual(object["status"] as? String, "output_limit")
        XCTAssertTrue(object["exit_code"] is NSNull)
        XCTAssertEqual(try JSONDecoder().decode(ExecutionResult.self, from: JSONEncoder().encode(result)), result)
    }

    func testPartialLimitsTakeDefaults() throws {
        let limits = try JSONDecoder().decode(ExecutionLimits.self, from: Data("{\"wall_timeout_seconds\": 2}".utf8))
        var expected = ExecutionLimits()
        expected.wallTimeoutSeconds = 2
        XCTAssertEqual(limits, expected)
        XCTAssertEqual(ExecutionLimits().wallTimeoutSeconds, 10)
        XCTAssertEqual(ExecutionLimits().maxOutputBytes, 1 << 20)
    }

    func testClassification() {
        func classify(_ exitCode: Int?, _ signal: Int?, _ reason: KillReason?, _ stderr: String = "",
                      cpuMs: Double = 5) -> ExecutionStatus {
            classifyRun(exitCode: exitCode, signal: signal, killReason: reason, stderr: stderr, cpuMs: cpuMs,
                        cpuLimitSeconds: 2)
        }
        XCTAssertEqual(classify(0, nil, nil), .ok)
        XCTAssertEqual(classify(1, nil, nil, "ValueError: x\n"), .error)
        XCTAssertEqual(classify(1, nil, nil, "Traceback\nMemoryError\n"), .memory)
        XCTAssertEqual(classify(nil, 9, .timeout), .timeout)
        XCTAssertEqual(classify(0, nil, .outputLimit), .outputLimit)
        XCTAssertEqual(classify(nil, Int(SIGXCPU), nil), .timeout)
        XCTAssertEqual(classify(nil, 9, nil, cpuMs: 2000), .timeout, "SIGKILL at the CPU hard limit")
        XCTAssertEqual(classify(nil, 9, nil, cpuMs: 1400), .timeout, "the kernel's CPU sampling runs ahead of rusage")
        XCTAssertEqual(classify(nil, 9, nil, cpuMs: 300), .killed, "a SIGKILL from elsewhere")
        XCTAssertEqual(classify(nil, 11, nil), .killed)
    }

    func testDefaultPythonComesFromTORLPYTHON() {
        XCTAssertEqual(SandboxConfiguration.defaultPythonPath(environment: ["TORL_PYTHON": "/opt/py/bin/python"]),
                       "/opt/py/bin/python")
        XCTAssertEqual(SandboxConfiguration.defaultPythonPath(environment: ["TORL_PYTHON": "", "PATH": "/nonexistent"]),
                       "python3")
    }

    func testRelativePythonPathIsAnchoredToTheCurrentDirectory() {
        let cwd = FileManager.default.currentDirectoryPath
        XCTAssertEqual(SandboxConfiguration(pythonPath: ".venv/bin/python").pythonPath, cwd + "/.venv/bin/python")
        XCTAssertEqual(SandboxConfiguration(pythonPath: "/usr/bin/python3").pythonPath, "/usr/bin/python3")
        XCTAssertEqual(SandboxConfiguration(pythonPath: "python3").pythonPath, "python3", "a bare name stays a PATH lookup")
    }
}

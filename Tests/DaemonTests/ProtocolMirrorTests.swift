import Foundation
import XCTest
@testable import Daemon
import JSONRPC
import MathGrader
@testable import RL
import Sandbox
import Tensors
import TorlProtocol

/// TorlProtocol mirrors a few engine types on the wire (a trajectory, a sandbox result, a grade) because it imports
/// nothing of the engine. The daemon converts engine values into the mirrors; these tests hold the mirrors to the
/// engine's own encoding, so the wire is what it was when the engine types were sent as they are.
final class ProtocolMirrorTests: XCTestCase {
    private func engineJSON<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONParser.parse(try JSONEncoder().encode(value))
    }

    private func wireJSON<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONCoding.value(value)
    }

    func testEnumNamesAgreeWithTheEngine() {
        XCTAssertEqual(ExecutionStatus.allCases.map(\.rawValue), ExecutionStatusName.allCases.map(\.rawValue))
        XCTAssertEqual(PromptTemplate.allCases.map(\.rawValue), PromptTemplateName.allCases.map(\.rawValue))
        XCTAssertEqual(ToolTrigger.allCases.map(\.rawValue), ToolTriggerName.allCases.map(\.rawValue))
        XCTAssertEqual(WeightPrecision.allCases.map(\.rawValue), WeightPrecisionName.allCases.map(\.rawValue))
        for name in PromptTemplateName.allCases { XCTAssertEqual(PromptTemplate(name).rawValue, name.rawValue) }
        for name in ToolTriggerName.allCases { XCTAssertEqual(ToolTrigger(name).rawValue, name.rawValue) }
        for name in WeightPrecisionName.allCases { XCTAssertEqual(WeightPrecision(name).rawValue, name.rawValue) }
    }

    func testExecutionResultMirrorEncodesAsTheEngineType() throws {
        let results = [
            ExecutionResult(status: .ok, exitCode: 0, stdout: "4\n", wallMs: 12, cpuMs: 3.5, queueMs: 0.25, pid: 41),
            ExecutionResult(status: .outputLimit, signal: 9, stderr: "x", wallMs: 1.5, truncated: true, message: "cut"),
        ]
        for result in results {
            XCTAssertEqual(try wireJSON(ExecutionResultWire(result)), try engineJSON(result))
        }
        let limits = ExecutionLimits(wallTimeoutSeconds: 2.5, memoryBytes: 1 << 28)
        XCTAssertEqual(try wireJSON(SandboxLimits(limits)), try engineJSON(limits))
        XCTAssertEqual(try SandboxLimits(limits).executionLimits(field: "limits"), limits)
        XCTAssertEqual(try SandboxLimits(wall_timeout_seconds: 3).executionLimits(field: "limits"),
                       ExecutionLimits(wallTimeoutSeconds: 3), "absent limits keep their defaults")
        XCTAssertThrowsError(try SandboxLimits(cpu_seconds: 0).executionLimits(field: "limits")) { error in
            XCTAssertEqual((error as? RPCError)?.data?["field"], "limits")
        }
    }

    func testTrajectoryMirrorEncodesAsTheEngineType() throws {
        let grade = Grade(verdict: .correct, extracted: "42", rule: .identical, fellBack: false)
        let call = ToolCallRecord(code: "print(6*7)", status: .ok, observation: "\n```output\n42\n```\n", output: "42",
                                  wallMs: 7.25, tokenStart: 5, tokenCount: 3, truncated: false)
        var trajectory = Trajectory(problemID: "p", group: 1, sample: 2, text: "t", tokenIDs: [1, 2, 3, 4, 5, 6, 7, 8],
                                    promptLength: 2, logprobs: [0, 0, -0.1, -2.5, 0, 0, 0, -0.3],
                                    lossMask: [0, 0, 1, 1, 0, 0, 0, 1],
                                    segments: [TrajectorySegment(kind: .code, text: "c"), TrajectorySegment(kind: .output, text: "o")],
                                    toolCalls: [call], hasCode: true, codeExecuted: true, codeFailed: false,
                                    effectiveCode: true, answer: "42", grade: grade, reward: 1, finishReason: "eos")
        XCTAssertEqual(try wireJSON(TrajectoryWire(trajectory)), try engineJSON(trajectory))
        trajectory.answer = nil
        trajectory.grade = Grade(verdict: .noAnswer, extracted: nil, rule: .noAnswer, fellBack: true)
        XCTAssertEqual(try wireJSON(TrajectoryWire(trajectory)), try engineJSON(trajectory))
        XCTAssertEqual(try wireJSON(GradeWire(trajectory.grade)), try engineJSON(trajectory.grade))
    }
}

import Foundation
import RL
import Sandbox
import XCTest

final class ObservationFormatTests: XCTestCase {
    func testErrorKeepsOnlyTheLastLine() {
        let result = ExecutionResult(status: .error, exitCode: 1, stdout: "printed before\n",
                                     stderr: "Traceback (most recent call last):\n  File \"main.py\", line 1\nNameError: name 'a' is not defined\n")
        XCTAssertEqual(formatObservation(result), "```output\nNameError: name 'a' is not defined\n```\n")
    }

    func testOutputIsWrappedWithoutItsTrailingNewline() {
        XCTAssertEqual(formatObservation(ExecutionResult(status: .ok, stdout: "42\n")), "```output\n42\n```\n")
        XCTAssertEqual(formatObservation(ExecutionResult(status: .ok, stdout: "")), "```output\n\n```\n")
    }

    func testLongOutputKeepsHeadAndTail() {
        let short = String(repeating: "a", count: 255)
        XCTAssertEqual(observationText(ExecutionResult(status: .ok, stdout: short)), short)
        let long = String(repeating: "h", count: 128) + String(repeating: "m", count: 44) + String(repeating: "t", count: 128)
        let text = observationText(ExecutionResult(status: .ok, stdout: long))
        XCTAssertEqual(text, String(repeating: "h", count: 128) + "..." + String(repeating: "t", count: 128))
        let exactly256 = String(repeating: "b", count: 256)
        XCTAssertEqual(observationText(ExecutionResult(status: .ok, stdout: exactly256)).count, 259)
    }

    func testLengthsCountUnicodeScalarsLikePython() {
        let long = String(repeating: "é", count: 200) + String(repeating: "🎲", count: 200)
        let text = observationText(ExecutionResult(status: .ok, stdout: long))
        XCTAssertEqual(text, String(repeating: "é", count: 128) + "..." + String(repeating: "🎲", count: 128))
    }

    func testTimeoutWithoutOutputBecomesTheTimeoutMessage() {
        let silent = ExecutionResult(status: .timeout, signal: 9)
        XCTAssertEqual(observationText(silent), "TimeoutError: execution timed out")
        let partial = ExecutionResult(status: .timeout, signal: 9, stdout: "step 1\n")
        XCTAssertEqual(observationText(partial), "step 1")
    }

    func testConfigurableLengthsAndMessages() {
        let options = ObservationOptions(headCharacters: 2, tailCharacters: 3, truncateAtCharacters: 6,
                                         truncationMarker: "…", timeoutMessage: "slow")
        XCTAssertEqual(observationText(ExecutionResult(status: .ok, stdout: "abcde"), options: options), "abcde")
        XCTAssertEqual(observationText(ExecutionResult(status: .ok, stdout: "abcdefgh"), options: options), "ab…fgh")
        XCTAssertEqual(observationText(ExecutionResult(status: .timeout), options: options), "slow")
    }

    func testSignalDeathWithoutStderrNamesTheSignal() {
        let result = ExecutionResult(status: .killed, signal: 11, message: "killed by signal 11")
        XCTAssertEqual(observationText(result), "killed by signal 11")
    }
}

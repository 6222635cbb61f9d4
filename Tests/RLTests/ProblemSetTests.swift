import Foundation
import XCTest
@testable import RL

/// A seeded generator for the tests (SplitMix64), independent of the code under test.
private struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class ProblemSetTests: XCTestCase {
    private var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func testShippedProblemSetsLoad() throws {
        let expected = ["math500.jsonl": 500, "gsm8k_test.jsonl": 1319, "train.jsonl": 10993]
        for (file, count) in expected {
            let problems = try ProblemSet.load(path: packageRoot.appendingPathComponent("data/\(file)").path)
            XCTAssertEqual(problems.count, count, file)
            XCTAssertTrue(problems.allSatisfy { !$0.problem.isEmpty && !$0.answer.isEmpty }, file)
        }
        let math = try ProblemSet.load(path: packageRoot.appendingPathComponent("data/math500.jsonl").path, limit: 3)
        XCTAssertEqual(math.count, 3)
        XCTAssertEqual(math[0].id, "test/precalculus/807.json")
        XCTAssertEqual(math[0].answer, "\\left( 3, \\frac{\\pi}{2} \\right)")
    }

    func testBadLinesNameTheLineAndField() {
        func error(_ text: String) -> ProblemSetError? {
            do { _ = try ProblemSet.parse(Data(text.utf8), path: "p.jsonl"); return nil } catch { return error as? ProblemSetError }
        }
        XCTAssertEqual(error("{\"problem\":\"1+1\",\"answer\":\"2\"}\n{\"problem\":\"x\"}"),
                       .badLine(path: "p.jsonl", line: 2, reason: "field \"answer\" is missing"))
        XCTAssertEqual(error("{\"problem\": 3, \"answer\": \"2\"}"),
                       .badLine(path: "p.jsonl", line: 1, reason: "field \"problem\": Expected to decode String but found number instead."))
        XCTAssertEqual(error("{not json"), .badLine(path: "p.jsonl", line: 1, reason: "not valid JSON"))
        XCTAssertEqual(error("\n  \n"), .empty(path: "p.jsonl"))
        XCTAssertThrowsError(try ProblemSet.load(path: "/nonexistent/set.jsonl")) { error in
            guard case .cannotRead(path: "/nonexistent/set.jsonl", _)? = error as? ProblemSetError else {
                return XCTFail("unexpected \(error)")
            }
        }
    }

    func testNumericAnswersAndIdsBecomeText() throws {
        let problems = try ProblemSet.parse(Data("{\"id\": 7, \"problem\": \"p\", \"answer\": 18}\n{\"problem\": \"q\", \"answer\": 2.5}".utf8), path: "p")
        XCTAssertEqual(problems, [Problem(id: "7", problem: "p", answer: "18"), Problem(id: "2", problem: "q", answer: "2.5")])
    }

    func testSyntheticAnswersAreExact() throws {
        var rng = TestRNG(state: 42)
        let problems = SyntheticArithmetic(difficulty: 3).problems(count: 300, using: &rng)
        XCTAssertEqual(Set(problems.map(\.id)).count, 300)
        for p in problems {
            let numbers = p.problem.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            let answer = try XCTUnwrap(Int(p.answer), p.problem)
            if p.problem.hasPrefix("Compute $") && p.problem.contains("\\times") {
                XCTAssertEqual(answer, numbers[0] * numbers[1], p.problem)
            } else if p.problem.contains("remainder") {
                // Naive repeated multiplication, independent of square-and-multiply.
                let (base, exponent, modulus) = (numbers[0], numbers[1], numbers[2])
                var r = 1 % modulus
                for _ in 0..<exponent { r = r * base % modulus }
                XCTAssertEqual(answer, r, p.problem)
            } else if p.problem.contains("k^2") {
                let n = numbers[1]  // "sum_{k=1}^{n} k^2"
                XCTAssertEqual(answer, (1...n).reduce(0) { $0 + $1 * $1 }, p.problem)
            } else if p.problem.contains("^3") {
                let n = numbers[numbers.count - 2]  // "... + n^3"
                XCTAssertEqual(answer, (1...n).reduce(0) { $0 + $1 * $1 * $1 }, p.problem)
            } else {
                XCTAssertTrue(p.problem.contains("arithmetic sequence"), p.problem)
                let (n, first, second) = (numbers[0], numbers[1], numbers[2])
                XCTAssertEqual(answer, (0..<n).reduce(0) { $0 + first + $1 * (second - first) }, p.problem)
            }
        }
        XCTAssertEqual(Set(problems.map { $0.problem.contains("remainder") ? 0 : $0.problem.contains("times") ? 1 : 2 }).count, 3)
    }

    func testHandComputedCasesAndDeterminism() {
        XCTAssertEqual(SyntheticArithmetic.modularPower(3, 4, 5), 1)       // 81 mod 5
        XCTAssertEqual(SyntheticArithmetic.modularPower(2, 10, 1000), 24)  // 1024 mod 1000
        XCTAssertEqual(SyntheticArithmetic.modularPower(7, 0, 1), 0)
        var a = TestRNG(state: 9), b = TestRNG(state: 9), c = TestRNG(state: 10)
        let generator = SyntheticArithmetic(difficulty: 2)
        XCTAssertEqual(generator.problems(count: 20, using: &a), generator.problems(count: 20, using: &b))
        XCTAssertNotEqual(generator.problems(count: 20, using: &b), generator.problems(count: 20, using: &c))
    }
}

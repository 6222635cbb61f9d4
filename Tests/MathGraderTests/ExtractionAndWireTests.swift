import Foundation
import XCTest
@testable import MathGrader

final class ExtractionAndWireTests: XCTestCase {
    func testRewardGraderHasNoFallbackButEvaluationGraderDoes() {
        let reward = MathGrader()
        let evaluation = MathGrader(options: .evaluation)
        let response = "We compute 6 * 7.\nThe final answer is $42$. I hope it is correct."
        XCTAssertEqual(reward.grade(response: response, reference: "42").verdict, .noAnswer)
        let grade = evaluation.grade(response: response, reference: "42")
        XCTAssertEqual(grade.verdict, .correct)
        XCTAssertEqual(grade.extracted, "42")
        XCTAssertEqual(evaluation.extractAnswer(from: "Reasoning...\nAnswer: \\frac{1}{2}."), "\\frac{1}{2}")
        XCTAssertEqual(evaluation.extractAnswer(from: "So the answer is \\(3\\sqrt{2}\\)."), "3\\sqrt{2}")
        XCTAssertNil(evaluation.extractAnswer(from: "No conclusion here."))
    }

    func testEvaluatedNumbersOptionRejectsArithmeticThatRestatesTheQuestion() {
        let lenient = MathGrader()
        let strict = MathGrader(options: GraderOptions(requiresEvaluatedNumbers: true))
        // Equal in value: the default grader accepts them, the option does not.
        for restated in ["15 \\times 695", "15*695", "10000 + 425", "2^{10} \\cdot 10 + 185", "\\sqrt{108680625}",
                         "\\frac{20850}{2}", "x = 15 \\times 695"] {
            XCTAssertTrue(lenient.compare(answer: restated, reference: "10425").isEquivalent, restated)
            let outcome = strict.compare(answer: restated, reference: "10425")
            XCTAssertFalse(outcome.isEquivalent, restated)
            XCTAssertEqual(outcome.rule, .unevaluated, restated)
        }
        // Numbers as written still count, and wrong numbers stay wrong by value.
        for written in ["10425", "10,425", "10425.0", "1.0425 \\times 10^{4}", "x = 10425"] {
            XCTAssertTrue(strict.compare(answer: written, reference: "10425").isEquivalent, written)
        }
        XCTAssertEqual(strict.compare(answer: "10426", reference: "10425").rule, .exactRational)
        XCTAssertTrue(strict.compare(answer: "-\\frac{1}{2}", reference: "-0.5").isEquivalent)
        XCTAssertTrue(strict.compare(answer: "\\frac{-1}{2}", reference: "-0.5").isEquivalent)
        XCTAssertEqual(strict.compare(answer: "\\frac{30}{6}", reference: "5").rule, .unevaluated, "an unreduced fraction")
        // Only number references are affected: an expression reference still matches an equal expression.
        XCTAssertTrue(strict.compare(answer: "2\\sqrt{3}", reference: "\\sqrt{12}").isEquivalent)
        XCTAssertTrue(strict.compare(answer: "x+1", reference: "1+x").isEquivalent)
    }

    /// A mixed number is a number as written (5/2 for `2\frac{1}{2}`), not arithmetic: the option accepts it at
    /// its value and nowhere else. Values checked by hand: 2 1/2 = 5/2 = 2.5, -3 1/4 = -3.25, 12 3/8 = 12.375.
    func testEvaluatedNumbersOptionAcceptsMixedNumbers() {
        let strict = MathGrader(options: GraderOptions(requiresEvaluatedNumbers: true))
        let equal: [(String, String)] = [
            ("2\\frac{1}{2}", "2.5"), ("2\\frac{1}{2}", "\\frac{5}{2}"), ("2 \\frac12", "2.5"), ("2.5", "2\\frac{1}{2}"),
            ("-3\\frac{1}{4}", "-3.25"), ("12\\frac{3}{8}", "12.375"), ("x = 2\\frac{1}{2}", "2.5"),
        ]
        for (answer, reference) in equal {
            let outcome = strict.compare(answer: answer, reference: reference)
            XCTAssertTrue(outcome.isEquivalent, "\(answer) vs \(reference): \(outcome.rule)")
        }
        let wrong: [(String, String)] = [
            ("2\\frac{1}{2}", "3"), ("2\\frac{1}{2}", "1"), ("2\\frac{1}{2}", "2"), ("-3\\frac{1}{4}", "-2.75"),
            ("3\\frac{1}{4}", "-3.25"),
        ]
        for (answer, reference) in wrong {
            let outcome = strict.compare(answer: answer, reference: reference)
            XCTAssertFalse(outcome.isEquivalent, "\(answer) vs \(reference)")
            XCTAssertNotEqual(outcome.rule, .unevaluated, "\(answer) is evaluated; it is wrong by value")
        }
        // Arithmetic still restates the question: a product (`2 \times \frac{1}{2}` is 1), a written-out sum, and an
        // integer before an improper fraction (`3\frac{5}{4}` multiplies: 15/4).
        for (answer, reference) in [("2 \\times \\frac{1}{2}", "1"), ("2 + \\frac{1}{2}", "2.5"), ("3\\frac{5}{4}", "3.75")] {
            XCTAssertTrue(MathGrader().compare(answer: answer, reference: reference).isEquivalent, "\(answer) = \(reference)")
            let outcome = strict.compare(answer: answer, reference: reference)
            XCTAssertFalse(outcome.isEquivalent, answer)
            XCTAssertEqual(outcome.rule, .unevaluated, answer)
        }
    }

    func testBoxBeatsPhraseAndLastBoxWins() {
        let evaluation = MathGrader(options: .evaluation)
        XCTAssertEqual(evaluation.extractAnswer(from: "Answer: 5, but \\boxed{6} at the end"), "6")
        XCTAssertEqual(evaluation.extractAnswer(from: "\\boxed{1} then \\fbox{2} then \\boxed{3}"), "3")
        XCTAssertEqual(MathGrader().extractAnswer(from: "\\boxed{a{b{c}}d} tail"), "a{b{c}}d")
    }

    func testGradeEncodesSnakeCaseWithCorrectFlag() throws {
        let grade = MathGrader().grade(response: "\\boxed{\\mathbb{Q}}", reference: "\\mathbb{Q}")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(grade), as: UTF8.self)
        XCTAssertEqual(json, #"{"correct":true,"extracted":"\\mathbb{Q}","fell_back":true,"rule":"string_fallback","verdict":"correct"}"#)
        XCTAssertEqual(try JSONDecoder().decode(Grade.self, from: Data(json.utf8)), grade)

        let missing = MathGrader().grade(response: "no box", reference: "1")
        let missingJSON = String(decoding: try encoder.encode(missing), as: UTF8.self)
        XCTAssertEqual(missingJSON, #"{"correct":false,"extracted":null,"fell_back":false,"rule":"no_answer","verdict":"no_answer"}"#)
    }

    func testToleranceIsConfigurable() {
        let strict = MathGrader()
        let loose = MathGrader(options: GraderOptions(relativeTolerance: 1e-3))
        XCTAssertFalse(strict.compare(answer: "3.1416", reference: "\\pi").isEquivalent)
        XCTAssertTrue(loose.compare(answer: "3.1416", reference: "\\pi").isEquivalent)
        XCTAssertFalse(loose.compare(answer: "3.15", reference: "\\pi").isEquivalent)
    }
}

final class OptionsTests: XCTestCase {
    func testTooFewRandomPointsCannotMakeEverythingEqual() {
        let grader = MathGrader(options: GraderOptions(randomPoints: 0))
        XCTAssertFalse(grader.compare(answer: "2x", reference: "3x").isEquivalent)
        XCTAssertTrue(grader.compare(answer: "2x", reference: "x+x").isEquivalent)
    }
}

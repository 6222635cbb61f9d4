import Foundation
import XCTest
@testable import MathGrader

/// Every MATH500 reference answer graded against itself and against other problems' references.
final class Math500ReferenceTests: XCTestCase {
    private struct Reference: Decodable {
        let id: String
        let answer: String
    }

    private func loadReferences() throws -> [Reference] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/math500_answers.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            XCTFail("missing fixture \(url.path) (MATH500 reference answers)")
            return []
        }
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { try decoder.decode(Reference.self, from: Data($0.utf8)) }
    }

    func testEveryReferenceIsCorrectAgainstItself() throws {
        let references = try loadReferences()
        XCTAssertEqual(references.count, 500)
        let grader = MathGrader()
        var failures: [String] = []
        var fellBack = 0
        for reference in references {
            let grade = grader.grade(response: GraderCase.boxed(reference.answer), reference: reference.answer)
            if !grade.isCorrect { failures.append("\(reference.id): \(reference.answer) -> \(grade.rule.rawValue)") }
            if grade.fellBack { fellBack += 1 }
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
        // Every MATH500 reference parses: none needs the string fallback.
        XCTAssertEqual(fellBack, 0)
    }

    /// Answers of different MATH500 problems that denote the same value, checked by hand. Identical strings are
    /// coincidences too and need no entry. `40_9` and `40` share digits, which the base rule accepts.
    private static let sameValueClasses: [Set<String>] = [
        ["120", "120^\\circ"], ["30", "30^\\circ"], ["90", "90^\\circ"], ["36", "36^\\circ", "\\$36"],
        ["15", "15\\mbox{ cm}^2"], ["-2,1", "1,-2"], ["10,\\!080", "10080"], ["2 \\sqrt{5}", "2\\sqrt{5}"],
        ["40", "40_9"], ["5", "x=5"], ["\\frac14", "\\frac{1}{4}"],
    ]

    /// All 249,500 ordered pairs of different problems: correct exactly for the coincidences above.
    func testOtherProblemsReferencesAreIncorrectApartFromCoincidences() throws {
        let references = try loadReferences()
        let grader = MathGrader()
        func isCoincidence(_ first: String, _ second: String) -> Bool {
            first == second || Self.sameValueClasses.contains { $0.contains(first) && $0.contains(second) }
        }
        var falsePositives: [String] = []
        var falseNegatives: [String] = []
        var correct = 0
        for reference in references {
            for other in references where other.id != reference.id {
                let grade = grader.grade(response: GraderCase.boxed(other.answer), reference: reference.answer)
                let expected = isCoincidence(other.answer, reference.answer)
                if grade.isCorrect { correct += 1 }
                if grade.isCorrect && !expected { falsePositives.append("\(other.answer) == \(reference.answer)") }
                if !grade.isCorrect && expected { falseNegatives.append("\(other.answer) != \(reference.answer)") }
            }
        }
        XCTAssertTrue(falsePositives.isEmpty, "graded correct across problems:\n" + falsePositives.joined(separator: "\n"))
        XCTAssertTrue(falseNegatives.isEmpty, "same values graded incorrect:\n" + falseNegatives.joined(separator: "\n"))
        // 2,008 of 249,500 ordered pairs are coincidences (mostly small integers shared by several problems).
        XCTAssertEqual(correct, 2008)
    }
}

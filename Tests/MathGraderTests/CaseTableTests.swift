import XCTest
@testable import MathGrader

final class CaseTableTests: XCTestCase {
    func testTableIsLargeAndBalanced() {
        let cases = GraderCase.all
        let positives = cases.filter { $0.expected == .correct }.count
        let negatives = cases.filter { $0.expected == .incorrect }.count
        XCTAssertGreaterThanOrEqual(cases.count, 300)
        XCTAssertGreaterThanOrEqual(negatives, positives - 10, "as many true negatives as true positives")
    }

    func testEveryCaseGetsItsExpectedVerdictAndRule() {
        let grader = MathGrader()
        var failures: [String] = []
        for (index, item) in GraderCase.all.enumerated() {
            let grade = grader.grade(response: item.response, reference: item.reference)
            if grade.verdict != item.expected || (item.expectedRule.map { $0 != grade.rule } ?? false) {
                failures.append("#\(index) [\(item.topic)] \(grade.extracted ?? "nil") vs \(item.reference): "
                    + "got \(grade.verdict.rawValue)/\(grade.rule.rawValue), expected \(item.expected.rawValue)"
                    + (item.expectedRule.map { "/\($0.rawValue)" } ?? ""))
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) cases failed:\n" + failures.joined(separator: "\n"))
    }

    func testGradingIsSymmetricForTwoSidedRules() {
        // Whichever side is the reference, the verdict is the same. (Extraction cases hold responses, not answers.)
        let grader = MathGrader()
        // Solution references are extracted by `grade`; `compare` takes two bare answers.
        let oneSided: Set<String> = ["extraction", "solution-reference"]
        var failures: [String] = []
        for item in GraderCase.all where !oneSided.contains(item.topic) {
            guard let answer = grader.extractAnswer(from: item.response) else { continue }
            let forward = grader.compare(answer: answer, reference: item.reference)
            let backward = grader.compare(answer: item.reference, reference: answer)
            if forward.isEquivalent != backward.isEquivalent {
                failures.append("[\(item.topic)] \(answer) vs \(item.reference)")
            }
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }
}

import MathGrader
import XCTest
@testable import RL

/// pass@k, avg@k and maj@k against values computed by hand.
final class EvaluationMetricsTests: XCTestCase {
    /// n = 5, c = 2: pass@k = 1 − C(3, k)/C(5, k) = 1 − 3/5, 1 − 3/10, 1 − 1/10, 1, 1.
    func testUnbiasedPassAtKMatchesTheBinomialFormula() throws {
        let expected: [Double] = [0.4, 0.7, 0.9, 1, 1]
        for k in 1...5 {
            XCTAssertEqual(try XCTUnwrap(SampleMetrics.passAtK(samples: 5, correct: 2, k: k)), expected[k - 1],
                           accuracy: 1e-12, "k = \(k)")
        }
        XCTAssertEqual(SampleMetrics.passAtK(samples: 5, correct: 0, k: 3), 0)
        XCTAssertEqual(SampleMetrics.passAtK(samples: 5, correct: 5, k: 1), 1)
        // n = 10, c = 3, k = 4: 1 − C(7,4)/C(10,4) = 1 − 35/210.
        XCTAssertEqual(try XCTUnwrap(SampleMetrics.passAtK(samples: 10, correct: 3, k: 4)), 1 - 35.0 / 210,
                       accuracy: 1e-12)
        XCTAssertNil(SampleMetrics.passAtK(samples: 5, correct: 2, k: 6))
        XCTAssertNil(SampleMetrics.passAtK(samples: 5, correct: 2, k: 0))
        XCTAssertNil(SampleMetrics.passAtK(samples: 5, correct: 7, k: 1))
    }

    func testAverageAtK() {
        XCTAssertEqual(SampleMetrics.averageAtK(correct: [true, false, false, true, false]), 0.4)
        XCTAssertNil(SampleMetrics.averageAtK(correct: []))
    }

    func testMajorityVoteGroupsEquivalentAnswersAndBreaksTiesByFirstVote() {
        let vote = MajorityVote()
        // 1/2 and 0.5 are one candidate (2 votes) tied with 3 (2 votes): 1/2 voted first and wins.
        let tieFirstCorrect = vote.vote([("\\frac{1}{2}", true), ("3", false), ("0.5", true), ("3", false), (nil, false)])
        XCTAssertEqual(tieFirstCorrect, MajorityVote.Outcome(answer: "\\frac{1}{2}", votes: 2, isCorrect: true))
        let tieFirstWrong = vote.vote([("3", false), ("0.5", true), ("1/2", true), ("3", false)])
        XCTAssertEqual(tieFirstWrong, MajorityVote.Outcome(answer: "3", votes: 2, isCorrect: false))
        // A clear majority beats an earlier answer.
        let majority = vote.vote([("7", false), ("42", true), ("42", true), ("42", true), ("7", false)])
        XCTAssertEqual(majority, MajorityVote.Outcome(answer: "42", votes: 3, isCorrect: true))
        // No answers: no winner, not correct.
        XCTAssertEqual(vote.vote([(nil, false), (nil, false)]), MajorityVote.Outcome(answer: nil, votes: 0, isCorrect: false))
    }

    func testPassKsArePowersOfTwoAndK() {
        XCTAssertEqual(Evaluator.passKs(samples: 1), [1])
        XCTAssertEqual(Evaluator.passKs(samples: 5), [1, 2, 4, 5])
        XCTAssertEqual(Evaluator.passKs(samples: 8), [1, 2, 4, 8])
    }
}

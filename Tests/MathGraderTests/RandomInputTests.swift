import Foundation
import XCTest
@testable import MathGrader

/// Random splices of LaTeX fragments: the grader must return a verdict for each, quickly, and agree with itself
/// when an answer is compared with its own text.
final class RandomInputTests: XCTestCase {
    private static let fragments = [
        #"\frac"#, "(", ")", "[", "]", #"\{"#, #"\}"#, "1", "23", "0.5", ".", ",", #",\!"#, "x", "y", "e",
        "i", #"\pi"#, "^", "_", "!", "+", "-", #"\pm"#, "=", "<", #"\le"#, #"\in"#, #"\cup"#, #"\sqrt"#, #"\sqrt[3]"#,
        #"\sin"#, #"\log_2"#, #"\binom"#, #"\text{ cm}"#, #"\%"#, #"^\circ"#, "|", "&", #"\\"#,
        #"\begin{pmatrix}"#, #"\end{pmatrix}"#, #"\left("#, #"\right)"#, #"\infty"#, " ", "10^{10^{10}}", "99!",
        #"\cdot"#, "/", "é", "$", "{1}", "{{x}^{2}}",
    ]

    func testRandomSplicesNeverCrashAndStayBounded() {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ bound: Int) -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(bound))
        }
        let grader = MathGrader()
        var slowest = 0.0
        for _ in 0..<3000 {
            let first = (0..<(1 + next(12))).map { _ in Self.fragments[next(Self.fragments.count)] }.joined()
            let second = (0..<(1 + next(12))).map { _ in Self.fragments[next(Self.fragments.count)] }.joined()
            let start = Date()
            let grade = grader.grade(response: GraderCase.boxed(first), reference: second)
            // Fragments keep braces balanced, so the box always closes and holds an answer unless blank.
            XCTAssertTrue(grade.verdict != .noAnswer || first.trimmingSpaces.isEmpty, "box not extracted: \(first)")
            let selfComparison = grader.compare(answer: second, reference: second)
            slowest = max(slowest, Date().timeIntervalSince(start))
            XCTAssertTrue(selfComparison.isEquivalent, "an answer equals itself: \(second) (\(selfComparison.rule))")
        }
        XCTAssertLessThan(slowest, TimeLimit.perPairSeconds, "slowest random pair")
    }
}

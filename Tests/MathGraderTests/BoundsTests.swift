import Foundation
import XCTest
@testable import MathGrader

/// Hostile answers: each must be graded (never hang, never allocate without limit) within the time bound.
final class BoundsTests: XCTestCase {
    private let limitSeconds = TimeLimit.perPairSeconds

    func testHugeAndDeepInputsAreGradedQuickly() {
        let deepParentheses = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        var hostile: [(answer: String, reference: String, expected: Bool)] = [
            (#"10^{10^{10}}"#, #"10^{10^{10}}+1"#, false),
            (#"10^{10^{10^{10}}}"#, "1", false),
            (#"(10^{100})!"#, #"(10^{100})!+1"#, false),
            (#"\binom{10^{9}}{5 \cdot 10^{8}}"#, "0", false),
            (#"2^{2^{2^{2^{2^{2}}}}}"#, "2", false),
            (#"\sqrt[10^{9}]{2}"#, "2", false),
            (#"3000!"#, #"3000 \cdot 2999!"#, true),
            (#"\frac{3000!}{2999!}"#, "3000", true),
            (#"\frac{3000!+1}{2999!+3}"#, "3000", false),
            (#"\frac{3000!+1}{2999!+3} + \frac{2999!+7}{2998!+1}"#, "1", false),
            // Beyond the exact budget and beyond Double: undecidable, so graded incorrect (a documented limit).
            (#"5000!"#, #"5000 \cdot 4999!"#, false),
            (#"1.5e400"#, "0", false),
            (deepParentheses, "1", false),
            (String(repeating: "x+", count: 1500) + "x", "1501x", true),
            (String(repeating: "1,", count: 2000) + "1", "1", false),
            (String(repeating: #"\pm 1"#, count: 40), "0", false),
            (String(repeating: #"\sqrt"#, count: 800) + "2", "2", false),
            (String(repeating: #"\frac1"#, count: 600) + "1", "1", false),
            ("5" + String(repeating: "!", count: 3000), "5", false),
            ("x" + String(repeating: "'", count: 3000), "x", false),
            ("2" + String(repeating: "^2", count: 1500), "2", false),
            (Array(repeating: "3000!", count: 600).joined(separator: "+"), "0", false),
            (Array(repeating: #"\frac{3000!+1}{2999!+3}"#, count: 150).joined(separator: "+"), "0", false),
            // Issue 16's rules on hostile input: long ratios, groups, worded lists, labels and solved inequalities.
            (Array(repeating: "2", count: 1500).joined(separator: ":"), Array(repeating: "4", count: 1500).joined(separator: ":"), true),
            (Array(repeating: "p=1,q=2", count: 300).joined(separator: ";"), "(1,2)", false),
            (Array(repeating: "1", count: 1000).joined(separator: " or "), "1", false),
            (String(repeating: "x+", count: 1000) + "x<1", "x<1", false),
            ("|" + String(repeating: "x+", count: 1000) + "x|<1", "(-1,1)", false),
            (Array(repeating: "x", count: 1000).joined(separator: "=") + "=5", "5", true),
            ("0." + String(repeating: "3", count: 3000), #"\frac13"#, true),
        ]
        let grader = MathGrader()
        // 24 sets of 24 symbolic elements against the same sets in reverse order: quadratic matching on two levels.
        func nestedSets(reversed: Bool) -> String {
            let outer = (0..<24).map { block -> String in
                let elements = (0..<24).map { "x+\(block * 24 + $0)" }
                return #"\{"# + (reversed ? elements.reversed() : elements).joined(separator: ",") + #"\}"#
            }
            return #"\{"# + (reversed ? outer.reversed() : outer).joined(separator: ",") + #"\}"#
        }
        hostile.append((nestedSets(reversed: false), nestedSets(reversed: true), true))
        for item in hostile {
            let start = Date()
            let outcome = grader.compare(answer: item.answer, reference: item.reference)
            let elapsed = Date().timeIntervalSince(start)
            XCTAssertLessThan(elapsed, limitSeconds, "\(item.answer.prefix(40)) took \(elapsed) s")
            XCTAssertEqual(outcome.isEquivalent, item.expected, "\(item.answer.prefix(40)) vs \(item.reference): \(outcome.rule)")
        }
    }

    func testOverlongInputFallsBackInsteadOfParsing() {
        let long = String(repeating: "1+", count: 3000) + "1"
        let outcome = MathGrader().compare(answer: long, reference: "3001")
        XCTAssertTrue(outcome.fellBack)
        XCTAssertFalse(outcome.isEquivalent)
    }
}

/// The issue's bound is 100 ms a pair in an optimized build; the margin absorbs a loaded CI machine (helpers and
/// builds share two cores). Debug builds run the same code several times slower.
enum TimeLimit {
    #if DEBUG
    static let perPairSeconds = 1.5
    #else
    static let perPairSeconds = 0.25
    #endif
}

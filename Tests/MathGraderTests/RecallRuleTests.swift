import XCTest
@testable import MathGrader

/// The pieces behind issue 16's rules, checked directly: what the parser builds, the sets the solver computes,
/// the digits the rounded-decimal rule counts, and how a worked-solution reference is reduced to its answer.
final class RecallRuleTests: XCTestCase {
    func testRatiosSemicolonGroupsAndConnectiveWordsParse() throws {
        XCTAssertEqual(try parse("7:32"), .ratio([number(7), number(32)]))
        XCTAssertEqual(try parse("V_1:V_2=11:21"),
                       .relation([.ratio([.variable("V_1"), .variable("V_2")]), .ratio([number(11), number(21)])], [.equal]))
        XCTAssertThrowsError(try parse("4:05"), "a clock time is not a ratio")
        let pair = MathNode.list([.relation([.variable("p"), number(5)], [.equal]), .relation([.variable("q"), number(2)], [.equal])])
        XCTAssertEqual(try parse("p=5,q=2; p=5,q=2"), .list([pair, pair]))
        XCTAssertEqual(try parse("(1;2)"), .bracketed(open: .paren, close: .paren, [number(1), number(2)]))
        XCTAssertEqual(try parse("$21, 16$ or $11$"), .list([number(21), number(16), number(11)]))
        XCTAssertEqual(try parse("1, 2, and 3"), .list([number(1), number(2), number(3)]))
        // Inside a word, or not between two values, the letters stay letters.
        XCTAssertEqual(try parse("xor"), .product([.variable("x"), .variable("o"), .variable("r")]))
    }

    func testPercentWordsMarkThePercent() throws {
        for text in ["28 pct", "28 percentage", "28 per cent", #"28 \text{ pct}"#, "28 percent"] {
            let normalized = TokenNormalizer.normalize(try Lexer.tokenize(text))
            XCTAssertTrue(normalized.marks.isPercent, text)
            XCTAssertEqual(try Parser.parse(normalized.tokens), number(28), text)
        }
    }

    func testSolverComputesIntervalsAndUnions() throws {
        func solved(_ text: String) throws -> MathNode { Canonical.form(try parse(text)) }
        let infinity = MathNode.constant(.infinity)
        XCTAssertEqual(try solved("-x>-1"), .bracketed(open: .paren, close: .paren, [.negation(infinity), number(1)]))
        XCTAssertEqual(try solved(#"-1<2x+1\le3"#), .bracketed(open: .paren, close: .square, [.negation(number(1)), number(1)]))
        XCTAssertEqual(try solved("|x-1|<3"), .bracketed(open: .paren, close: .paren, [.negation(number(2)), number(4)]))
        XCTAssertEqual(try solved("|x|>2"), .union([
            .bracketed(open: .paren, close: .paren, [.negation(infinity), .negation(number(2))]),
            .bracketed(open: .paren, close: .paren, [number(2), infinity]),
        ]))
        XCTAssertEqual(try solved(#"1\le|x|<2"#), .union([
            .bracketed(open: .paren, close: .square, [.negation(number(2)), .negation(number(1))]),
            .bracketed(open: .square, close: .paren, [number(1), number(2)]),
        ]))
        // Not linear, or two variables: left as written.
        XCTAssertEqual(try solved("x^2<4"), try parse("x^2<4"))
        XCTAssertEqual(try solved("x+y<4"), try parse("x+y<4"))
        XCTAssertEqual(try solved("x(x-1)(x-2)+x<4"), try parse("x(x-1)(x-2)+x<4"), "cubic that is linear at 0, 1, 2")
    }

    func testDecimalDigitsCountPlacesAndSignificantDigits() {
        let digits = DecimalDigits(literal: "0.0833333333333333")
        XCTAssertEqual(digits?.places, 16)
        XCTAssertEqual(digits?.significant, 15)
        XCTAssertEqual(DecimalDigits(literal: "16386.1644029039")?.significant, 15)
        XCTAssertEqual(DecimalDigits(literal: "0.000000")?.significant, 0)
        XCTAssertNil(DecimalDigits(literal: "12"))
        XCTAssertNil(DecimalDigits(literal: "1.5e-3"))
        // The rule needs 12 significant digits: 11 are not enough, however well rounded.
        let grader = MathGrader()
        XCTAssertTrue(grader.compare(answer: "0.333333333333", reference: #"\frac13"#).isEquivalent)
        XCTAssertFalse(grader.compare(answer: "0.33333333333", reference: #"\frac13"#).isEquivalent)
        XCTAssertEqual(grader.compare(answer: "0.333333333333", reference: #"\frac13"#).rule, .roundedDecimal)
    }

    func testWorkedSolutionReferenceIsReducedToItsFinalAnswer() {
        let reward = MathGrader()
        let evaluation = MathGrader(options: .evaluation)
        XCTAssertEqual(reward.referenceAnswer(#"so $y = \boxed{5}$."#), "5")
        XCTAssertEqual(reward.referenceAnswer(#"\frac{1}{2}"#), #"\frac{1}{2}"#, "a bare reference stays as it is")
        XCTAssertEqual(reward.referenceAnswer("Thus the final answer is $7$."), "Thus the final answer is $7$.")
        XCTAssertEqual(evaluation.referenceAnswer("Thus the final answer is $7$."), "7")
        XCTAssertEqual(evaluation.grade(response: #"\boxed{7}"#, reference: "Thus the final answer is $7$.").verdict, .correct)
        XCTAssertEqual(reward.grade(response: #"\boxed{7}"#, reference: #"Truncated \boxed{7"#).verdict, .incorrect)
    }
}

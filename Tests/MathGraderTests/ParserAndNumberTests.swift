import BigInt
import XCTest
@testable import MathGrader

final class ParserAndNumberTests: XCTestCase {
    func testPrecedenceAndShorthands() throws {
        XCTAssertEqual(try parse(#"\frac12"#), .quotient(number(1), number(2)))
        XCTAssertEqual(try parse("-2^2"), .negation(.power(number(2), number(2))))
        XCTAssertEqual(try parse("2x^2"), .product([number(2), .power(.variable("x"), number(2))]))
        // A mixed number is one number, as a decimal would be.
        XCTAssertEqual(try parse(#"1\frac{1}{2}"#), .number(Rational(numerator: 3, denominator: 2)!))
        XCTAssertEqual(try parse(#"-12\frac38"#), .negation(.number(Rational(numerator: 99, denominator: 8)!)))
        XCTAssertEqual(try parse(#"2\frac{3}{2}"#), .product([number(2), .quotient(number(3), number(2))]))
        XCTAssertEqual(try parse(#"\sin^2 x"#), .power(.function(.sin, .variable("x")), number(2)))
        XCTAssertEqual(try parse(#"\sin^{-1} x"#), .function(.arcsin, .variable("x")))
        XCTAssertEqual(try parse("204_5"), .baseNumeral(digits: "204", base: "5"))
        XCTAssertEqual(try parse("(3,4]"), .bracketed(open: .paren, close: .square, [number(3), number(4)]))
        XCTAssertEqual(try parse("7,425,000"), number(7_425_000))
        XCTAssertEqual(try parse("(0,100)"), .bracketed(open: .paren, close: .paren, [number(0), number(100)]))
        XCTAssertEqual(try parse("1.5e-3"), .number(Rational(numerator: 3, denominator: 2000)!))
    }

    func testMarksRecordPercentAndDegrees() throws {
        let percent = TokenNormalizer.normalize(try Lexer.tokenize(#"12.5\%"#))
        XCTAssertTrue(percent.marks.isPercent)
        XCTAssertEqual(percent.tokens.map(\.kind), [.number("12.5")])
        let degrees = TokenNormalizer.normalize(try Lexer.tokenize(#"45^{\circ}"#))
        XCTAssertTrue(degrees.marks.isDegrees)
        XCTAssertEqual(degrees.tokens.map(\.kind), [.number("45")])
    }

    func testMalformedInputThrowsTypedErrors() {
        XCTAssertThrowsError(try parse("(1,2")) { XCTAssertEqual($0 as? MathParseError, .unbalanced("unclosed bracket")) }
        XCTAssertThrowsError(try parse(#"\foo{1}"#)) { XCTAssertEqual($0 as? MathParseError, .unknownCommand("foo")) }
        XCTAssertThrowsError(try parse("")) { XCTAssertEqual($0 as? MathParseError, .unexpectedEnd) }
        XCTAssertThrowsError(try parse(String(repeating: "(", count: 100) + "1" + String(repeating: ")", count: 100))) {
            XCTAssertEqual($0 as? MathParseError, .tooDeep(limit: Parser.maximumDepth))
        }
        XCTAssertThrowsError(try parse("1 # 2"))
    }

    func testRationalArithmeticIsExactAndBounded() {
        let third = Rational(numerator: 1, denominator: 3)!
        XCTAssertEqual(third + third + third, .one)
        XCTAssertEqual(Rational(numerator: 6, denominator: -4), Rational(numerator: -3, denominator: 2))
        XCTAssertNil(Rational(numerator: 1, denominator: 0))
        XCTAssertEqual(Rational(decimalLiteral: ".35625"), Rational(numerator: 57, denominator: 160))
        XCTAssertNil(Rational(decimalLiteral: "1e401"))
        XCTAssertNil(Rational(integer: 10).power(BigInt(1_000_000), bitBudget: 1 << 16))
        XCTAssertEqual(Rational(integer: -1).power(BigInt(10).power(30), bitBudget: 64), .one)
        XCTAssertEqual(Rational(integer: 27).exactRoot(3), Rational(integer: 3))
        XCTAssertNil(Rational(integer: 2).exactRoot(2))
        XCTAssertEqual(Rational.gcd(BigUInt(2006 * 2005), BigUInt(10).power(40) * 2006), BigUInt(2006 * 5))
    }

    func testDoubleValueOfHugeRatiosStaysFinite() {
        let evaluator = ExactEvaluator()
        let ratio = evaluator.value(of: .quotient(.factorial(.number(Rational(integer: 2006))),
                                                  .factorial(.number(Rational(integer: 2005)))))
        XCTAssertEqual(ratio, Rational(integer: 2006))
        let big = Rational(numerator: BigInt(10).power(400) * 3, denominator: BigInt(10).power(400))!
        XCTAssertEqual(big.doubleValue, 3, accuracy: 1e-12)
        let tiny = Rational(numerator: 1, denominator: BigInt(10).power(400))!
        XCTAssertEqual(tiny.doubleValue, 0)
    }
}

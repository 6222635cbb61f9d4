@testable import MathGrader

/// An answer through the grader's front end (lexer, token normalizer, parser), as the comparator receives it.
func parse(_ text: String) throws -> MathNode {
    try Parser.parse(TokenNormalizer.normalize(try Lexer.tokenize(text)).tokens)
}

func number(_ value: Int) -> MathNode { .number(Rational(integer: value)) }

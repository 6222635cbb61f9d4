/// One lexical unit of a LaTeX answer. Spacing commands, `\left`/`\right` and sizing commands never become
/// tokens: they carry no mathematics.
enum TokenKind: Equatable, Sendable {
    /// Digits with at most one decimal point: "12", "0.15", ".5".
    case number(String)
    /// A single ASCII letter: "x", "e", "B".
    case letter(Character)
    /// A control word without its backslash, aliases already folded: "frac", "sqrt", "pi", "le".
    case command(String)
    /// The verbatim content of `\text{}`, `\mbox{}`, `\textbf{}`, `\mathrm{}`, ...
    case text(String)
    case plus, minus, times, divide, caret, underscore, bang, comma, equals, less, greater, bar, ampersand
    case openParen, closeParen, openBracket, closeBracket, openBrace, closeBrace
    /// `\{` and `\}`: set delimiters.
    case openSet, closeSet
    /// `\\`: a matrix row break.
    case rowBreak
    /// `\%`, `%`.
    case percent
    /// `,\!`: the MATH dataset's thousands separator, which is never a list comma.
    case thousandsSeparator
}

struct Token: Equatable, Sendable {
    var kind: TokenKind
    /// Whitespace came right before this token; thousands detection needs "7,425" apart from "7, 425".
    var followsSpace: Bool
}

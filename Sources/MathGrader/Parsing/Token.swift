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
    /// `,\!` and `{,}`: thousands separators, never list commas.
    case thousandsSeparator
    /// `'`, as in `f'` or `x''`.
    case prime
    /// `:`, a ratio (`7:32`); a term with a leading zero (`4:05`) is a clock time and falls back to text.
    case colon
    /// `;`: like a comma inside brackets; at the top level it separates groups (`p=5,q=2; p=7,q=2`).
    case semicolon
}

struct Token: Equatable, Sendable {
    var kind: TokenKind
    /// Whitespace came right before this token; thousands detection needs "7,425" apart from "7, 425".
    var followsSpace: Bool
}

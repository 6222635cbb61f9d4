/// Splits a LaTeX answer into tokens, folding aliases (`\dfrac` → `frac`, `\leq` → `le`) and dropping what only
/// affects typesetting.
struct Lexer {
    static let maximumLength = 4096

    private static let aliases: [String: String] = [
        "dfrac": "frac", "tfrac": "frac", "cfrac": "frac",
        "dbinom": "binom", "tbinom": "binom",
        "cdot": "*", "times": "*", "ast": "*", "div": "/",
        "leq": "le", "leqslant": "le", "geq": "ge", "geqslant": "ge", "neq": "ne",
        "lbrace": "{", "rbrace": "}",
        "lvert": "|", "rvert": "|", "vert": "|", "mid": "|",
        "infin": "infty", "infinity": "infty",
        "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh",
        "varphi": "phi", "varepsilon": "epsilon", "vartheta": "theta",
    ]

    /// Commands that only change spacing or size.
    private static let ignored: Set<String> = [
        "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr",
        "displaystyle", "textstyle", "quad", "qquad", "!", ",", ";", ":", " ", "$", "limits", "nolimits",
        "hspace", "phantom",
    ]

    /// Commands whose brace argument is prose, kept verbatim.
    private static let textCommands: Set<String> = [
        "text", "mbox", "textbf", "textit", "textrm", "mathrm", "mathbf", "mathit", "textnormal", "emph",
        "textsf", "mathsf", "texttt", "operatorname",
    ]

    static func tokenize(_ source: String) throws -> [Token] {
        let bytes = Array(source.utf8)
        guard bytes.count <= maximumLength else { throw MathParseError.tooLong(limit: maximumLength) }
        var tokens: [Token] = []
        tokens.reserveCapacity(bytes.count)
        var index = 0
        var sawSpace = false

        func emit(_ kind: TokenKind) {
            tokens.append(Token(kind: kind, followsSpace: sawSpace))
            sawSpace = false
        }

        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "~"),
                 UInt8(ascii: "$"):
                sawSpace = true
                index += 1
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."):
                let start = index
                var sawPoint = false
                while index < bytes.count {
                    let current = bytes[index]
                    if current >= UInt8(ascii: "0") && current <= UInt8(ascii: "9") {
                        index += 1
                    } else if current == UInt8(ascii: "."), !sawPoint,
                              index + 1 < bytes.count, isDigit(bytes[index + 1]) {
                        sawPoint = true
                        index += 1
                    } else {
                        break
                    }
                }
                index = scanScientificExponent(bytes, mantissaStart: start, from: index)
                if index == start {
                    // A lone period (sentence end or "3." style) carries nothing.
                    index += 1
                    sawSpace = true
                } else {
                    emit(.number(String(decoding: bytes[start..<index], as: UTF8.self)))
                }
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                emit(.letter(Character(Unicode.Scalar(byte))))
                index += 1
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw MathParseError.unexpectedEnd }
                let start = index
                if isLetter(bytes[index]) {
                    while index < bytes.count && isLetter(bytes[index]) { index += 1 }
                } else {
                    index += 1
                }
                var name = String(decoding: bytes[start..<index], as: UTF8.self)
                if ignored.contains(name) {
                    if name == "hspace" || name == "phantom" { index = skipBraceGroup(bytes, from: index) }
                    sawSpace = true
                    continue
                }
                if textCommands.contains(name) {
                    let (content, next) = try readBraceGroup(bytes, from: index)
                    index = next
                    emit(classifyWrapped(content, command: name))
                    continue
                }
                name = aliases[name] ?? name
                switch name {
                case "{": emit(.openSet)
                case "}": emit(.closeSet)
                case "\\": emit(.rowBreak)
                case "%": emit(.percent)
                case "*": emit(.times)
                case "/": emit(.divide)
                case "|": emit(.bar)
                case "#", "&", "_": emit(.text(name))
                default: emit(.command(name))
                }
            case UInt8(ascii: "{") where index + 2 < bytes.count && bytes[index + 1] == UInt8(ascii: ",")
                && bytes[index + 2] == UInt8(ascii: "}"):
                // `1{,}000`: braces keep TeX from spacing the comma, so it is a thousands separator.
                emit(.thousandsSeparator)
                index += 3
            case UInt8(ascii: ","):
                index += 1
                let afterSpaces = skipSpaces(bytes, from: index)
                if afterSpaces + 1 < bytes.count, bytes[afterSpaces] == UInt8(ascii: "\\"),
                   bytes[afterSpaces + 1] == UInt8(ascii: "!") {
                    emit(.thousandsSeparator)
                    index = afterSpaces + 2
                } else {
                    emit(.comma)
                }
            default:
                if let kind = singleByteKinds[byte] {
                    emit(kind)
                    index += 1
                } else if byte >= 0x80 {
                    let (kind, length) = try unicodeToken(bytes, at: index)
                    if let kind { emit(kind) } else { sawSpace = true }
                    index += length
                } else {
                    throw MathParseError.unexpectedCharacter(String(Unicode.Scalar(byte)))
                }
            }
        }
        return tokens
    }

    /// `\mathrm{e}` is the constant, `\operatorname{sech}` a function name, `\text{cm}` prose.
    private static func classifyWrapped(_ content: String, command: String) -> TokenKind {
        let trimmed = content.trimmingSpaces
        let isMathRoman = command.hasPrefix("math") || command == "operatorname"
        guard isMathRoman, !trimmed.isEmpty, trimmed.utf8.allSatisfy(isLetter) else { return .text(content) }
        if trimmed.count == 1 { return .letter(trimmed.first!) }
        return .command(aliases[trimmed] ?? trimmed)
    }

    /// "1.5e-3", "2E5", "1e6": a mantissa written with a point or a capital E, or a bare exponent of digits.
    /// "2e" and "2e^{x}" stay products with Euler's number. Returns the index after what was consumed.
    private static func scanScientificExponent(_ bytes: [UInt8], mantissaStart: Int, from index: Int) -> Int {
        guard index > mantissaStart, index < bytes.count,
              bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") else { return index }
        let mantissaHasPoint = bytes[mantissaStart..<index].contains(UInt8(ascii: "."))
        var cursor = index + 1
        let hasSign = cursor < bytes.count && (bytes[cursor] == UInt8(ascii: "-") || bytes[cursor] == UInt8(ascii: "+"))
        if hasSign {
            guard mantissaHasPoint || bytes[index] == UInt8(ascii: "E") else { return index }
            cursor += 1
        }
        let digitsStart = cursor
        while cursor < bytes.count && isDigit(bytes[cursor]) { cursor += 1 }
        guard cursor > digitsStart, cursor - digitsStart <= 4 else { return index }
        // "2e3x" or "3e2y" read as products, not as exponents glued to a variable.
        if cursor < bytes.count && isLetter(bytes[cursor]) { return index }
        return cursor
    }

    private static let singleByteKinds: [UInt8: TokenKind] = [
        UInt8(ascii: "+"): .plus, UInt8(ascii: "-"): .minus, UInt8(ascii: "*"): .times, UInt8(ascii: "/"): .divide,
        UInt8(ascii: "^"): .caret, UInt8(ascii: "_"): .underscore, UInt8(ascii: "!"): .bang,
        UInt8(ascii: "="): .equals, UInt8(ascii: "<"): .less, UInt8(ascii: ">"): .greater, UInt8(ascii: "|"): .bar,
        UInt8(ascii: "&"): .ampersand, UInt8(ascii: "("): .openParen, UInt8(ascii: ")"): .closeParen,
        UInt8(ascii: "["): .openBracket, UInt8(ascii: "]"): .closeBracket, UInt8(ascii: "{"): .openBrace,
        UInt8(ascii: "}"): .closeBrace, UInt8(ascii: "%"): .percent, UInt8(ascii: ":"): .colon,
        UInt8(ascii: ";"): .semicolon, UInt8(ascii: "'"): .prime,
    ]

    /// Unicode mathematics that models write instead of LaTeX; nil kind means "spacing, skip".
    private static func unicodeToken(_ bytes: [UInt8], at index: Int) throws -> (TokenKind?, Int) {
        var end = index + 1
        while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }
        let character = String(decoding: bytes[index..<end], as: UTF8.self)
        let kind: TokenKind?
        switch character {
        case "π": kind = .command("pi")
        case "√": kind = .command("sqrt")
        case "·", "×", "⋅": kind = .times
        case "÷": kind = .divide
        case "−", "–": kind = .minus
        case "≤": kind = .command("le")
        case "≥": kind = .command("ge")
        case "≠": kind = .command("ne")
        case "∞": kind = .command("infty")
        case "°": kind = .command("circ")
        case "±": kind = .command("pm")
        case "∪": kind = .command("cup")
        case "\u{00A0}", "\u{2009}", "\u{202F}": kind = nil
        default: throw MathParseError.unexpectedCharacter(character)
        }
        return (kind, end - index)
    }

    private static func readBraceGroup(_ bytes: [UInt8], from start: Int) throws -> (String, Int) {
        let open = skipSpaces(bytes, from: start)
        guard open < bytes.count, bytes[open] == UInt8(ascii: "{") else {
            throw MathParseError.unbalanced("text command without a brace group")
        }
        let end = skipBraceGroup(bytes, from: open)
        guard end <= bytes.count, bytes[end - 1] == UInt8(ascii: "}") else {
            throw MathParseError.unbalanced("unclosed brace in text")
        }
        return (String(decoding: bytes[(open + 1)..<(end - 1)], as: UTF8.self), end)
    }

    /// The index just past the brace group that starts at or after `start`, or `start` when there is none.
    private static func skipBraceGroup(_ bytes: [UInt8], from start: Int) -> Int {
        let open = skipSpaces(bytes, from: start)
        guard open < bytes.count, bytes[open] == UInt8(ascii: "{") else { return start }
        var depth = 0
        var index = open
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\") { index += 2; continue }
            if bytes[index] == UInt8(ascii: "{") { depth += 1 }
            if bytes[index] == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0 { return index + 1 }
            }
            index += 1
        }
        return bytes.count
    }

    private static func skipSpaces(_ bytes: [UInt8], from start: Int) -> Int {
        var index = start
        while index < bytes.count && (bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\n")) {
            index += 1
        }
        return index
    }
}

@inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

@inline(__always) func isLetter(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
}

extension String {
    var trimmingSpaces: String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }
}

import BigInt

/// Recursive-descent parser from normalized tokens to a `MathNode`.
///
/// Precedence, loosest first: list `,` < relation (`=`, `<`, `\le`, `\in`) < `\cup` < sum (`+`, `-`, `\pm`)
/// < product (explicit and implicit) < unary minus < power < postfix (`!`, subscripts) < primary.
struct Parser {
    static let maximumDepth = 48

    private var tokens: [Token]
    private var position = 0
    private var depth = 0

    private static let greekLetters: Set<String> = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
        "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
        "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
    ]

    private static let functionNames: [String: MathFunction] = {
        var table: [String: MathFunction] = [:]
        for function in MathFunction.allCases { table[function.rawValue] = function }
        return table
    }()

    private static let implicitCommands: Set<String> = ["frac", "sqrt", "pi", "binom", "ln", "log", "lfloor", "lceil"]

    static func parse(_ tokens: [Token]) throws -> MathNode {
        guard !tokens.isEmpty else { throw MathParseError.unexpectedEnd }
        // Prose is an answer on its own (`\text{Evelyn}`, `(\text{B})`); mixed into mathematics that the
        // normalizer did not recognize as a unit it has no value, and the answer is compared as text.
        let content = tokens.filter { ![.openParen, .closeParen, .openBrace, .closeBrace].contains($0.kind) }
        if content.count > 1, content.contains(where: { if case .text = $0.kind { return true } else { return false } }) {
            throw MathParseError.unexpectedToken("prose inside an expression")
        }
        var parser = Parser(tokens: tokens)
        let node = try parser.parseList(groupsAtSemicolons: true)
        if let leftover = parser.peek { throw MathParseError.unexpectedToken("\(leftover)") }
        return node
    }

    private init(tokens: [Token]) {
        self.tokens = tokens
    }

    // MARK: - Token access

    private var peek: TokenKind? { position < tokens.count ? tokens[position].kind : nil }

    private func peek(_ offset: Int) -> TokenKind? {
        position + offset < tokens.count ? tokens[position + offset].kind : nil
    }

    private mutating func advance() { position += 1 }

    private mutating func expect(_ kind: TokenKind) throws {
        guard peek == kind else {
            if let found = peek { throw MathParseError.unexpectedToken("expected \(kind), found \(found)") }
            throw MathParseError.unexpectedEnd
        }
        advance()
    }

    private mutating func nested<T>(_ body: (inout Parser) throws -> T) throws -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Parser.maximumDepth else { throw MathParseError.tooDeep(limit: Parser.maximumDepth) }
        return try body(&self)
    }

    // MARK: - Levels

    /// A comma list. At the top level a semicolon closes a group (`p=5,q=2; p=7,q=2` is two groups of two);
    /// inside brackets it is a comma.
    private mutating func parseList(groupsAtSemicolons: Bool = false) throws -> MathNode {
        try nested { parser in
            var groups: [MathNode] = []
            var items = [try parser.parseRelation()]
            func closeGroup() {
                if !items.isEmpty { groups.append(items.count == 1 ? items[0] : .list(items)) }
                items = []
            }
            while let separator = parser.peek,
                  separator == .comma || separator == .thousandsSeparator || separator == .semicolon {
                parser.advance()
                if separator == .semicolon && groupsAtSemicolons { closeGroup() }
                if parser.isAtCloser { break }
                items.append(try parser.parseRelation())
            }
            guard !groups.isEmpty else { return items.count == 1 ? items[0] : .list(items) }
            closeGroup()
            return groups.count == 1 ? groups[0] : .list(groups)
        }
    }

    private var isAtCloser: Bool {
        switch peek {
        case nil, .closeParen?, .closeBracket?, .closeBrace?, .closeSet?, .command("rangle")?: return true
        default: return false
        }
    }

    private mutating func parseRelation() throws -> MathNode {
        var operands = [try parseRatio()]
        var operators: [RelationOperator] = []
        while let relation = try takeRelationOperator() {
            operators.append(relation)
            operands.append(try parseRatio())
        }
        return operators.isEmpty ? operands[0] : .relation(operands, operators)
    }

    /// `7:32`, `a:b:c`, `V_1:V_2`. A term written with a leading zero (`4:05`, `12:00`) makes it a clock time,
    /// which has no value to compare: the answer then compares as text.
    private mutating func parseRatio() throws -> MathNode {
        var terms = [try parseUnion()]
        while peek == .colon {
            advance()
            if case .number(let digits)? = peek, digits.count > 1, digits.hasPrefix("0") {
                throw MathParseError.unexpectedToken("clock time")
            }
            terms.append(try parseUnion())
        }
        return terms.count == 1 ? terms[0] : .ratio(terms)
    }

    private mutating func takeRelationOperator() throws -> RelationOperator? {
        let relation: RelationOperator
        switch peek {
        case .equals?: relation = .equal
        case .less?: relation = peek(1) == .equals ? .lessOrEqual : .less
        case .greater?: relation = peek(1) == .equals ? .greaterOrEqual : .greater
        case .bang? where peek(1) == .equals: relation = .notEqual
        case .command("le")?: relation = .lessOrEqual
        case .command("ge")?: relation = .greaterOrEqual
        case .command("lt")?: relation = .less
        case .command("gt")?: relation = .greater
        case .command("ne")?: relation = .notEqual
        case .command("in")?: relation = .member
        default: return nil
        }
        let isTwoCharacter = (peek == .less || peek == .greater || peek == .bang) && peek(1) == .equals
        position += isTwoCharacter ? 2 : 1
        return relation
    }

    private mutating func parseUnion() throws -> MathNode {
        var parts = [try parseSum()]
        while peek == .command("cup") {
            advance()
            parts.append(try parseSum())
        }
        return parts.count == 1 ? parts[0] : .union(parts)
    }

    private mutating func parseSum() throws -> MathNode {
        var terms: [MathNode] = []
        switch peek {
        case .plus?:
            advance()
            terms.append(try parseProduct())
        case .minus?:
            advance()
            terms.append(.negation(try parseProduct()))
        case .command("pm")?, .command("mp")?:
            advance()
            terms.append(.plusMinus(.number(.zero), try parseProduct()))
        default:
            terms.append(try parseProduct())
        }
        while true {
            switch peek {
            case .plus?:
                advance()
                terms.append(try parseProduct())
            case .minus?:
                advance()
                terms.append(.negation(try parseProduct()))
            case .command("pm")?, .command("mp")?:
                advance()
                let left = terms.count == 1 ? terms[0] : MathNode.sum(terms)
                terms = [.plusMinus(left, try parseProduct())]
            default:
                return terms.count == 1 ? terms[0] : .sum(terms)
            }
        }
    }

    private mutating func parseProduct() throws -> MathNode {
        try nested { parser in
            var current = try parser.parseFactor()
            while true {
                switch parser.peek {
                case .times?:
                    parser.advance()
                    current = multiply(current, try parser.parseFactor())
                case .divide?:
                    parser.advance()
                    current = .quotient(current, try parser.parseFactor())
                case let next? where parser.startsImplicitFactor(next):
                    if case .number = next, case .number = current {
                        throw MathParseError.unexpectedToken("two numbers side by side")
                    }
                    current = multiply(current, try parser.parseFactor())
                default:
                    return current
                }
            }
        }
    }

    private func startsImplicitFactor(_ kind: TokenKind) -> Bool {
        switch kind {
        case .number, .letter, .openParen, .openBrace: return true
        case .command(let name):
            return Parser.implicitCommands.contains(name) || Parser.functionNames[name] != nil
                || Parser.greekLetters.contains(name)
        default: return false
        }
    }

    private mutating func parseFactor() throws -> MathNode {
        try nested { parser in
            switch parser.peek {
            case .minus?:
                parser.advance()
                return .negation(try parser.parseFactor())
            case .plus?:
                parser.advance()
                return try parser.parseFactor()
            default:
                return try parser.parsePower()
            }
        }
    }

    private mutating func parsePower() throws -> MathNode {
        var node = try parsePostfix()
        var applications = 0
        while peek == .caret {
            applications += 1
            guard depth + applications <= Parser.maximumDepth else {
                throw MathParseError.tooDeep(limit: Parser.maximumDepth)
            }
            advance()
            node = .power(node, try parseScriptArgument())
            while peek == .bang {
                advance()
                node = .factorial(node)
            }
        }
        return node
    }

    /// What follows `^` or `_`: a brace group, or one signed token.
    private mutating func parseScriptArgument() throws -> MathNode {
        try nested { parser in
            switch parser.peek {
            case .openBrace?:
                parser.advance()
                let inner = try parser.parseList()
                try parser.expect(.closeBrace)
                return inner
            case .minus?:
                parser.advance()
                return .negation(try parser.parseScriptArgument())
            case .plus?:
                parser.advance()
                return try parser.parseScriptArgument()
            default:
                return try parser.parsePrimary()
            }
        }
    }

    private mutating func parsePostfix() throws -> MathNode {
        var node = try parsePrimary()
        // `5!!!!...` nests the tree without nesting the parser: count it against the same depth limit, since
        // evaluation and comparison recurse over the tree.
        var applications = 0
        while true {
            applications += 1
            guard depth + applications <= Parser.maximumDepth else {
                throw MathParseError.tooDeep(limit: Parser.maximumDepth)
            }
            switch peek {
            case .bang? where peek(1) != .equals:
                advance()
                node = .factorial(node)
            case .underscore?:
                advance()
                node = try attachSubscript(to: node)
            case .prime?:
                advance()
                guard case .variable(let name) = node else { throw MathParseError.unexpectedToken("prime") }
                node = .variable(name + "'")
            default:
                return node
            }
        }
    }

    private mutating func attachSubscript(to node: MathNode) throws -> MathNode {
        let subscriptText = try readSubscriptText()
        switch node {
        case .number(let value) where value.isInteger && !value.isNegative:
            return .baseNumeral(digits: String(value.numerator), base: subscriptText)
        case .variable(let name):
            return .variable(name + "_" + subscriptText)
        default:
            throw MathParseError.unexpectedToken("subscript on \(node)")
        }
    }

    /// Subscripts name things (`x_1`, `204_5`, `x_{n+1}`), so they are kept as text.
    private mutating func readSubscriptText() throws -> String {
        func describe(_ kind: TokenKind) -> String {
            switch kind {
            case .number(let digits): return digits
            case .letter(let letter): return String(letter)
            case .command(let name): return name
            case .plus: return "+"
            case .minus: return "-"
            default: return "?"
            }
        }
        guard let first = peek else { throw MathParseError.unexpectedEnd }
        advance()
        guard first == .openBrace else { return describe(first) }
        var text = ""
        while let kind = peek, kind != .closeBrace {
            text += describe(kind)
            advance()
        }
        try expect(.closeBrace)
        return text
    }

    // MARK: - Primaries

    private mutating func parsePrimary() throws -> MathNode {
        guard let kind = peek else { throw MathParseError.unexpectedEnd }
        switch kind {
        case .number(let digits):
            advance()
            guard let value = Rational(decimalLiteral: Substring(digits)) else {
                throw MathParseError.unexpectedToken("number \(digits)")
            }
            if peek == .command("overline") {
                return .number(try repeatingDecimal(digits))
            }
            if value.isInteger, let fraction = takeProperFraction() {
                // One number as written, like a decimal: `2\frac{1}{2}` is 5/2, not the sum `2 + \frac{1}{2}`
                // (which restates arithmetic), so it counts as an evaluated answer.
                return .number(value + fraction)
            }
            return .number(value)
        case .letter(let letter):
            advance()
            switch letter {
            case "e": return .constant(.e)
            case "i": return .constant(.i)
            default: return .variable(String(letter))
            }
        case .openParen, .openBracket:
            return try parseBracketed()
        case .openBrace:
            advance()
            let inner = try parseList()
            try expect(.closeBrace)
            return inner
        case .openSet:
            advance()
            if peek == .closeSet {
                advance()
                return .set([])
            }
            let inner = try parseList()
            try expect(.closeSet)
            if case .list(let items) = inner { return .set(items) }
            return .set([inner])
        case .bar:
            advance()
            let inner = try parseSum()
            try expect(.bar)
            return .function(.abs, inner)
        case .text(let content):
            advance()
            return .text(content)
        case .command(let name):
            return try parseCommand(name)
        default:
            throw MathParseError.unexpectedToken("\(kind)")
        }
    }

    /// The fractional part of a mixed number `137 \frac{1}{2}`: a proper fraction of two integer literals right
    /// after an integer. Any other `\frac` after an integer multiplies it. Matched on tokens alone: trying a full
    /// parse here and retrying on failure would be exponential in `\frac1\frac1\frac1...`.
    private mutating func takeProperFraction() -> Rational? {
        guard peek == .command("frac") else { return nil }
        var cursor = position + 1
        func integerArgument() -> Rational? {
            guard cursor < tokens.count else { return nil }
            if case .number(let digits) = tokens[cursor].kind, digits.count == 1 {
                cursor += 1
                return Rational(decimalLiteral: Substring(digits))
            }
            guard tokens[cursor].kind == .openBrace, cursor + 2 < tokens.count,
                  case .number(let digits) = tokens[cursor + 1].kind, tokens[cursor + 2].kind == .closeBrace,
                  let value = Rational(decimalLiteral: Substring(digits)), value.isInteger else { return nil }
            cursor += 3
            return value
        }
        // `\frac12`: one two-digit token holds both single-digit arguments.
        if cursor < tokens.count, case .number(let digits) = tokens[cursor].kind, digits.count == 2,
           digits.allSatisfy(\.isNumber),
           let top = Rational(decimalLiteral: digits.prefix(1)), let bottom = Rational(decimalLiteral: digits.suffix(1)),
           !top.isZero, top.numerator < bottom.numerator, let fraction = top.divided(by: bottom) {
            position = cursor + 1
            return fraction
        }
        guard let top = integerArgument(), let bottom = integerArgument(), !top.isZero,
              top.numerator < bottom.numerator, let fraction = top.divided(by: bottom) else { return nil }
        position = cursor
        return fraction
    }

    /// `0.\overline{3}` = 1/3, `1.2\overline{45}`: the written digits plus the repeating block over
    /// 10^(written decimals) · (10^(block length) - 1).
    private mutating func repeatingDecimal(_ written: String) throws -> Rational {
        advance()
        try expect(.openBrace)
        guard case .number(let block)? = peek, !block.contains("."), !block.contains("e"), !block.contains("E"),
              block.count <= 30, let blockValue = BigInt(block) else {
            throw MathParseError.unexpectedToken("\\overline needs a block of digits")
        }
        advance()
        try expect(.closeBrace)
        guard let prefix = Rational(decimalLiteral: Substring(written)) else {
            throw MathParseError.unexpectedToken("number \(written)")
        }
        let writtenDecimals = written.split(separator: ".", omittingEmptySubsequences: false).dropFirst().first?.count ?? 0
        let scale = BigInt(10).power(writtenDecimals) * (BigInt(10).power(block.count) - 1)
        return prefix + Rational(numerator: blockValue, denominator: scale)!
    }

    private mutating func parseBracketed() throws -> MathNode {
        let open: Bracket = peek == .openParen ? .paren : .square
        advance()
        if peek == .closeParen || peek == .closeBracket {
            let close: Bracket = peek == .closeParen ? .paren : .square
            advance()
            return .bracketed(open: open, close: close, [])
        }
        let inner = try parseList()
        let close: Bracket
        switch peek {
        case .closeParen?: close = .paren
        case .closeBracket?: close = .square
        case let other?: throw MathParseError.unbalanced("expected a closing bracket, found \(other)")
        case nil: throw MathParseError.unbalanced("unclosed bracket")
        }
        advance()
        if case .list(let items) = inner { return .bracketed(open: open, close: close, items) }
        guard open == close else { throw MathParseError.unbalanced("mismatched brackets around one item") }
        return inner
    }

    /// `\frac{a}{b}`, `\frac12` (one digit or letter each), `\frac\pi2`.
    private mutating func parseMacroArgument() throws -> MathNode {
        try nested { parser in
            guard let kind = parser.peek else { throw MathParseError.unexpectedEnd }
            switch kind {
            case .openBrace:
                parser.advance()
                let inner = try parser.parseList()
                try parser.expect(.closeBrace)
                return inner
            case .number(let digits) where digits.count > 1:
                let first = String(digits.prefix(1))
                parser.tokens[parser.position].kind = .number(String(digits.dropFirst()))
                guard let value = Rational(decimalLiteral: Substring(first)) else {
                    throw MathParseError.unexpectedToken("number \(digits)")
                }
                return .number(value)
            default:
                return try parser.parsePrimary()
            }
        }
    }

    private mutating func parseCommand(_ name: String) throws -> MathNode {
        advance()
        switch name {
        case "frac":
            let numerator = try parseMacroArgument()
            let denominator = try parseMacroArgument()
            return .quotient(numerator, denominator)
        case "sqrt":
            var index = MathNode.number(Rational(integer: 2))
            if peek == .openBracket {
                advance()
                index = try parseList()
                try expect(.closeBracket)
            }
            return .root(index: index, radicand: try parseMacroArgument())
        case "binom":
            let top = try parseMacroArgument()
            let bottom = try parseMacroArgument()
            return .binomial(top, bottom)
        case "pi": return .constant(.pi)
        case "infty": return .constant(.infinity)
        case "emptyset", "varnothing": return .set([])
        case "ln", "log", "lg":
            return try parseLogarithm(name)
        case "langle":
            let inner = try parseList()
            try expect(.command("rangle"))
            if case .list(let items) = inner { return .bracketed(open: .angle, close: .angle, items) }
            return .bracketed(open: .angle, close: .angle, [inner])
        case "lfloor", "lceil":
            let inner = try parseSum()
            try expect(.command(name == "lfloor" ? "rfloor" : "rceil"))
            return .function(name == "lfloor" ? .floor : .ceil, inner)
        case "begin":
            return try parseEnvironment()
        default:
            if let function = Parser.functionNames[name] { return try parseFunction(function) }
            if Parser.greekLetters.contains(name) { return .variable(name) }
            throw MathParseError.unknownCommand(name)
        }
    }

    private mutating func parseLogarithm(_ name: String) throws -> MathNode {
        var base: MathNode? = name == "lg" ? .number(Rational(integer: 10)) : nil
        var exponent: MathNode?
        if name == "log" && peek == .underscore {
            advance()
            base = try parseScriptArgument()
        }
        if peek == .caret {
            advance()
            exponent = try parseScriptArgument()
        }
        let argument = try parseFunctionArgument()
        let node = MathNode.logarithm(base: base, argument)
        return exponent.map { .power(node, $0) } ?? node
    }

    private mutating func parseFunction(_ function: MathFunction) throws -> MathNode {
        var exponent: MathNode?
        if peek == .caret {
            advance()
            exponent = try parseScriptArgument()
        }
        let argument = try parseFunctionArgument()
        if exponent == .negation(.number(.one)), let inverse = function.inverse {
            return .function(inverse, argument)
        }
        let node = MathNode.function(function, argument)
        return exponent.map { .power(node, $0) } ?? node
    }

    /// `\sin(x)`, `\sin{x}`, or `\sin 2x`: without delimiters the argument runs over implicit factors.
    private mutating func parseFunctionArgument() throws -> MathNode {
        try nested { parser in
            if parser.peek == .openParen || parser.peek == .openBrace { return try parser.parsePrimary() }
            var argument = try parser.parsePower()
            while let next = parser.peek, parser.startsImplicitFactor(next), next != .openParen {
                if case .command(let name) = next, Parser.functionNames[name] != nil || name == "ln" || name == "log" {
                    break
                }
                argument = multiply(argument, try parser.parsePower())
            }
            return argument
        }
    }

    private mutating func parseEnvironment() throws -> MathNode {
        let name = try readEnvironmentName()
        let matrixKinds: Set<String> = ["pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "matrix", "smallmatrix", "array"]
        guard matrixKinds.contains(name) else { throw MathParseError.unknownCommand("begin{\(name)}") }
        if name == "array" {
            // Column alignment spec `{cc}` carries no values.
            try expect(.openBrace)
            while let kind = peek, kind != .closeBrace { _ = kind; advance() }
            try expect(.closeBrace)
        }
        var rows: [[MathNode]] = []
        var row: [MathNode] = []
        skipRowSpacing()
        while true {
            if peek == .command("end") {
                advance()
                _ = try readEnvironmentName()
                if !row.isEmpty { rows.append(row) }
                break
            }
            row.append(try parseSum())
            switch peek {
            case .ampersand?:
                advance()
            case .rowBreak?:
                advance()
                skipRowSpacing()
                rows.append(row)
                row = []
            case .command("end")?:
                continue
            case let other?:
                throw MathParseError.unexpectedToken("in matrix: \(other)")
            case nil:
                throw MathParseError.unbalanced("matrix without \\end")
            }
        }
        guard let width = rows.first?.count, rows.allSatisfy({ $0.count == width }) else {
            throw MathParseError.unbalanced("matrix rows of different lengths")
        }
        return .matrix(rows)
    }

    /// `\\[4pt]` and `\hline` after a row break only space the rows out.
    private mutating func skipRowSpacing() {
        // `[2pt]`, `[-1.5ex]`: a few tokens at most, so a stray `[` costs no scan of the whole answer.
        let window = tokens[position..<min(tokens.count, position + 8)]
        if peek == .openBracket, let close = window.firstIndex(where: { $0.kind == .closeBracket }),
           tokens[position..<close].allSatisfy({ token in
               switch token.kind {
               case .openBracket, .number, .letter: return true
               default: return false
               }
           }) {
            position = close + 1
        }
        while peek == .command("hline") { advance() }
    }

    private mutating func readEnvironmentName() throws -> String {
        try expect(.openBrace)
        var name = ""
        while case .letter(let letter)? = peek {
            name.append(letter)
            advance()
        }
        if peek == .times { advance() }
        try expect(.closeBrace)
        return name
    }
}

/// Products stay flat so that `2 \cdot 3x` and `6x` compare by value, not by tree shape.
func multiply(_ left: MathNode, _ right: MathNode) -> MathNode {
    switch (left, right) {
    case (.product(let a), .product(let b)): return .product(a + b)
    case (.product(let a), _): return .product(a + [right])
    case (_, .product(let b)): return .product([left] + b)
    default: return .product([left, right])
    }
}

extension MathFunction {
    /// `\sin^{-1}` means arcsine.
    var inverse: MathFunction? {
        switch self {
        case .sin: return .arcsin
        case .cos: return .arccos
        case .tan: return .arctan
        case .cot: return .arccot
        case .sec: return .arcsec
        case .csc: return .arccsc
        default: return nil
        }
    }
}

/// An answer string after lexing, token normalization and parsing. A parse failure is kept, not thrown: the
/// comparison then falls back to normalized text.
struct ParsedAnswer: Sendable {
    let raw: String
    let node: MathNode?
    let marks: AnswerMarks
    let parseError: MathParseError?
    /// The decimal literals as written (`0.083333` has 6 places), for the rounded-decimal rule.
    let writtenDecimals: [Rational: DecimalDigits]

    init(_ raw: String) {
        self.raw = raw
        var marks = AnswerMarks()
        var node: MathNode?
        var parseError: MathParseError?
        var writtenDecimals: [Rational: DecimalDigits] = [:]
        do {
            let normalized = TokenNormalizer.normalize(try Lexer.tokenize(raw))
            marks = normalized.marks
            for token in normalized.tokens {
                guard case .number(let digits) = token.kind, let written = DecimalDigits(literal: digits),
                      let value = Rational(decimalLiteral: Substring(digits)) else { continue }
                writtenDecimals[value] = written
            }
            node = try Parser.parse(normalized.tokens)
        } catch let error as MathParseError {
            parseError = error
        } catch {
            parseError = .unexpectedToken("\(error)")
        }
        self.marks = marks
        self.node = node
        self.parseError = parseError
        self.writtenDecimals = writtenDecimals
    }
}

/// Compares answers by shape: collections, tuples and intervals, matrices, equations, inequalities, then scalars.
struct AnswerComparator: Sendable {
    var scalars: ScalarComparator
    let requiresEvaluatedNumbers: Bool

    /// Sets larger than this are compared as text: pairwise matching is quadratic.
    static let maximumCollectionSize = 64

    init(options: GraderOptions) {
        scalars = ScalarComparator(options: options)
        requiresEvaluatedNumbers = options.requiresEvaluatedNumbers
    }

    func compare(answer: ParsedAnswer, reference: ParsedAnswer) -> Equivalence {
        guard answer.writtenDecimals.isEmpty && reference.writtenDecimals.isEmpty else {
            var comparator = self
            comparator.scalars.writtenDecimals = answer.writtenDecimals.merging(reference.writtenDecimals) { first, _ in first }
            return comparator.compareParsed(answer: answer, reference: reference)
        }
        return compareParsed(answer: answer, reference: reference)
    }

    private func compareParsed(answer: ParsedAnswer, reference: ParsedAnswer) -> Equivalence {
        guard let answerNode = answer.node, let referenceNode = reference.node else {
            return Equivalence(isEquivalent: TextKey.make(answer.raw) == TextKey.make(reference.raw),
                               rule: .stringFallback, fellBack: true)
        }
        if answerNode.isText || referenceNode.isText {
            return Equivalence(isEquivalent: TextKey.make(answer.raw) == TextKey.make(reference.raw),
                               rule: .text, fellBack: false)
        }
        if requiresEvaluatedNumbers && referenceNode.isNumberLiteral {
            // `x = 15 \times 695` states the same unevaluated value as `15 \times 695`.
            var value = answerNode
            if case let .relation(sides, ops) = answerNode, ops == [.equal], sides.count == 2, case .variable = sides[0] {
                value = sides[1]
            }
            if !value.isNumberLiteral && value.isArithmeticOnNumbers {
                return Equivalence(isEquivalent: false, rule: .unevaluated, fellBack: false)
            }
        }
        let direct = compare(answerNode, referenceNode)
        if direct.equal { return Equivalence(isEquivalent: true, rule: direct.rule, fellBack: false) }
        // A percent sign makes a side mean either its number ("what percent?" answered `50` for `50\%`) or that
        // number over 100 (`0.5` for `50\%`, `50\%` for `0.5`). A side without one means only its number, so
        // `0.5` never matches `50`.
        let answerReadings = percentReadings(answerNode, answer.marks)
        let referenceReadings = percentReadings(referenceNode, reference.marks)
        if answerReadings.count + referenceReadings.count > 2 {
            for answerValue in answerReadings {
                for referenceValue in referenceReadings where compare(answerValue, referenceValue).equal {
                    return Equivalence(isEquivalent: true, rule: .percent, fellBack: false)
                }
            }
        }
        return Equivalence(isEquivalent: false, rule: direct.rule, fellBack: false)
    }

    private func percentReadings(_ node: MathNode, _ marks: AnswerMarks) -> [MathNode] {
        guard marks.isPercent, node.isScalar else { return [node] }
        return [node, .quotient(node, .number(Rational(integer: 100)))]
    }

    func compare(_ first: MathNode, _ second: MathNode) -> (equal: Bool, rule: GradeRule) {
        if let named = compareNamedValues(first, second) { return named }
        let a = Canonical.form(first)
        let b = Canonical.form(second)
        let solved = Canonical.isSolvedBySolver(first) || Canonical.isSolvedBySolver(second)
        if a == b { return (true, solved ? .solutionSet : .identical) }
        let outcome = compareCanonical(a, b)
        return solved ? (outcome.equal, .solutionSet) : outcome
    }

    private func compareCanonical(_ a: MathNode, _ b: MathNode) -> (equal: Bool, rule: GradeRule) {
        switch (a, b) {
        case (.text(let x), .text(let y)):
            return (TextKey.make(x) == TextKey.make(y), .text)
        case (.list(let x), .list(let y)), (.set(let x), .set(let y)), (.list(let x), .set(let y)),
             (.set(let x), .list(let y)):
            return (matchUnordered(x, y), .set)
        case (.union(let x), .union(let y)):
            return (matchUnordered(x, y), .union)
        case let (.bracketed(openA, closeA, x), .bracketed(openB, closeB, y)):
            guard openA.matches(openB), closeA.matches(closeB), x.count == y.count else { return (false, .tuple) }
            return (zip(x, y).allSatisfy { compare($0, $1).equal }, .tuple)
        case (.matrix(let x), .matrix(let y)):
            guard x.count == y.count, zip(x, y).allSatisfy({ $0.count == $1.count }) else { return (false, .matrix) }
            return (zip(x, y).allSatisfy { rowA, rowB in zip(rowA, rowB).allSatisfy { compare($0, $1).equal } }, .matrix)
        case let (.relation(x, opsX), .relation(y, opsY)):
            return compareRelations(x, opsX, y, opsY)
        case let (.relation(sides, ops), other), let (other, .relation(sides, ops)):
            // `y = 2x + 1` against `2x + 1`, `x = 5` against `5`; a label names the answer: `AB = 4`,
            // `(p,q) = (3,2)`, `V_1:V_2 = 11:21`.
            guard let value = Canonical.labelledValue(.relation(sides, ops)) else { return (false, .shapeMismatch) }
            if case .variable = sides[0], other.isScalar { return (compare(value, other).equal, .equation) }
            return (compare(value, other).equal, .label)
        case let (.ratio(x), .ratio(y)):
            return (areProportional(x, y), .ratio)
        case let (.ratio(terms), other) where terms.count == 2 && other.isScalar,
             let (other, .ratio(terms)) where terms.count == 2 && other.isScalar:
            // A two-term ratio is the fraction of its terms: `7:32` is `\frac{7}{32}`.
            return (compare(.quotient(terms[0], terms[1]), other).equal, .ratio)
        default:
            guard a.isScalar, b.isScalar else { return (false, .shapeMismatch) }
            return scalars.compare(a, b)
        }
    }

    /// `a:b:c` and `d:e:f` name the same ratio when a·e = b·d and a·f = c·d (`7:32` = `14:64`, not `32:7`).
    private func areProportional(_ x: [MathNode], _ y: [MathNode]) -> Bool {
        guard x.count == y.count, x.allSatisfy(\.isScalar), y.allSatisfy(\.isScalar) else { return false }
        let zero = MathNode.number(.zero)
        guard !compare(x[0], zero).equal, !compare(y[0], zero).equal else { return false }
        return (1..<x.count).allSatisfy { index in
            compare(.product([x[index], y[0]]), .product([y[index], x[0]])).equal
        }
    }

    /// `p=5, q=2` against `(p,q) = (5,2)` or `q=2, p=5` (values by name), or against the tuple `(5,2)` (in the
    /// order written). Nil when neither side names its values.
    private func compareNamedValues(_ first: MathNode, _ second: MathNode) -> (equal: Bool, rule: GradeRule)? {
        let namedFirst = first.namedValues
        let namedSecond = second.namedValues
        switch (namedFirst, namedSecond) {
        case let (x?, y?):
            let valuesY = Dictionary(y, uniquingKeysWith: { value, _ in value })
            guard x.count == y.count else { return (false, .label) }
            return (x.allSatisfy { name, value in valuesY[name].map { compare(value, $0).equal } ?? false }, .label)
        case let (named?, nil), let (nil, named?):
            let other = namedFirst == nil ? first : second
            guard case .bracketed(let open, let close, let items) = other, open.matches(.paren), close.matches(.paren),
                  items.count == named.count else { return nil }
            return (zip(named, items).allSatisfy { compare($0.1, $1).equal }, .label)
        default:
            return nil
        }
    }

    private func compareRelations(_ x: [MathNode], _ opsX: [RelationOperator], _ y: [MathNode],
                                  _ opsY: [RelationOperator]) -> (equal: Bool, rule: GradeRule) {
        if opsX == [.equal] && opsY == [.equal] {
            if case .variable(let nameX) = x[0], case .variable(let nameY) = y[0], nameX == nameY {
                return (compare(x[1], y[1]).equal, .equation)
            }
            let differenceX = MathNode.sum([x[0], .negation(x[1])])
            let differenceY = MathNode.sum([y[0], .negation(y[1])])
            return (scalars.areProportional(differenceX, differenceY), .equation)
        }
        guard opsX.count == opsY.count else { return (false, .inequality) }
        let sameOrder = opsX == opsY && zip(x, y).allSatisfy { compare($0, $1).equal }
        if sameOrder { return (true, .inequality) }
        let flippedOperators = opsY.reversed().map(\.flipped)
        let flipped = opsX == flippedOperators && zip(x, y.reversed()).allSatisfy { compare($0, $1).equal }
        return (flipped, .inequality)
    }

    /// Multiset equality under `compare`: every item pairs with a distinct equivalent item. Items written
    /// identically pair off first in linear time; only the rest need the quadratic search.
    private func matchUnordered(_ x: [MathNode], _ y: [MathNode]) -> Bool {
        guard x.count == y.count, x.count <= AnswerComparator.maximumCollectionSize else { return false }
        var identicalCounts: [MathNode: Int] = [:]
        for item in y { identicalCounts[item, default: 0] += 1 }
        var remainingX: [MathNode] = []
        for item in x {
            if let count = identicalCounts[item], count > 0 {
                identicalCounts[item] = count - 1
            } else {
                remainingX.append(item)
            }
        }
        var remainingY: [MathNode] = []
        for item in y {
            if let count = identicalCounts[item], count > 0 {
                identicalCounts[item] = count - 1
                remainingY.append(item)
            }
        }
        var unused = Array(remainingY.indices)
        let y = remainingY
        for item in remainingX {
            guard let position = unused.firstIndex(where: { compare(item, y[$0]).equal }) else { return false }
            unused.remove(at: position)
        }
        return true
    }
}

extension MathNode {
    /// `p = 5, q = 2` or `(p, q) = (5, 2)`: values under distinct variable names, in the order written.
    var namedValues: [(String, MathNode)]? {
        var pairs: [(String, MathNode)] = []
        switch self {
        case .list(let items) where items.count >= 2:
            for item in items {
                guard case .relation(let sides, let operators) = item, operators == [.equal], sides.count == 2,
                      case .variable(let name) = sides[0], !sides[1].isRelation else { return nil }
                pairs.append((name, sides[1]))
            }
        case .relation(let sides, let operators) where operators == [.equal] && sides.count == 2:
            guard case .bracketed(let open, _, let names) = sides[0], open != .square,
                  case .bracketed(_, _, let values) = sides[1], names.count == values.count else { return nil }
            for (label, value) in zip(names, values) {
                guard case .variable(let name) = label else { return nil }
                pairs.append((name, value))
            }
        default:
            return nil
        }
        return Set(pairs.map(\.0)).count == pairs.count ? pairs : nil
    }

    var isText: Bool {
        if case .text = self { return true }
        return false
    }
}

extension Bracket {
    /// Angle-bracket vectors and parenthesised tuples are the same object written two ways.
    func matches(_ other: Bracket) -> Bool {
        self == other || (self != .square && other != .square)
    }
}

extension RelationOperator {
    var flipped: RelationOperator {
        switch self {
        case .less: return .greater
        case .lessOrEqual: return .greaterOrEqual
        case .greater: return .less
        case .greaterOrEqual: return .lessOrEqual
        case .equal, .notEqual, .member: return self
        }
    }
}

extension MathNode {
    /// A number as one writes a value: `42`, `-3`, `0.25`, `\frac{1}{2}` and `\frac{-1}{2}` (reduced: `\frac{30}{6}`
    /// is still arithmetic), `1.5 \times 10^{4}`, `10^{6}`.
    var isNumberLiteral: Bool {
        switch self {
        case .number: return true
        case .negation(let inner): return inner.isNumberLiteral
        case let .quotient(numerator, .number(denominator)):
            guard let top = numerator.signedNumber, top.isInteger, denominator.isInteger else { return false }
            let bottom = denominator.numerator.magnitude
            return bottom > 1 && Rational.gcd(top.numerator.magnitude, bottom) == 1
        case .power: return isPowerOfTen
        case let .product(factors):
            // Scientific notation: a number times a power of ten.
            guard factors.count == 2, case .number = factors[0] else { return false }
            return factors[1].isPowerOfTen
        default: return false
        }
    }

    /// `n` or `-n` for a number n.
    private var signedNumber: Rational? {
        switch self {
        case .number(let value): return value
        case .negation(.number(let value)): return -value
        default: return nil
        }
    }

    /// `10^{k}` for an integer k.
    private var isPowerOfTen: Bool {
        guard case let .power(.number(base), exponent) = self else { return false }
        return base == Rational(integer: 10) && exponent.signedNumber?.isInteger == true
    }

    /// Built from numbers by arithmetic only (no variables, constants, functions or relations).
    var isArithmeticOnNumbers: Bool {
        switch self {
        case .number: return true
        case .negation(let inner), .factorial(let inner): return inner.isArithmeticOnNumbers
        case .sum(let terms), .product(let terms): return terms.allSatisfy(\.isArithmeticOnNumbers)
        case let .quotient(a, b), let .power(a, b), let .binomial(a, b):
            return a.isArithmeticOnNumbers && b.isArithmeticOnNumbers
        case let .root(index, radicand): return index.isArithmeticOnNumbers && radicand.isArithmeticOnNumbers
        default: return false
        }
    }
}

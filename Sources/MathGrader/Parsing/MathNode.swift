/// The parsed form of an answer: scalar expressions plus the composite shapes answers take (tuples, intervals,
/// sets, matrices, equations, lists).
indirect enum MathNode: Hashable, Sendable {
    /// An integer or decimal literal, kept exact.
    case number(Rational)
    /// A numeral with a base subscript (`204_5`), kept as written: the question asked for that base.
    case baseNumeral(digits: String, base: String)
    case variable(String)
    case constant(MathConstant)
    case sum([MathNode])
    case product([MathNode])
    case quotient(MathNode, MathNode)
    case negation(MathNode)
    case power(MathNode, MathNode)
    case root(index: MathNode, radicand: MathNode)
    case function(MathFunction, MathNode)
    case logarithm(base: MathNode?, MathNode)
    case factorial(MathNode)
    case binomial(MathNode, MathNode)
    /// `a \pm b`; a unary `\pm b` has `a = 0`.
    case plusMinus(MathNode, MathNode)

    /// Parenthesised or bracketed comma lists: tuples, points, vectors and intervals (`(3,4]`).
    case bracketed(open: Bracket, close: Bracket, [MathNode])
    /// `\{ ... \}`
    case set([MathNode])
    /// `A \cup B \cup ...`
    case union([MathNode])
    case matrix([[MathNode]])
    /// A chain `a op b op c` (`x = 5`, `-2 \le x \le 7`, `x \in [1,2]`).
    case relation([MathNode], [RelationOperator])
    /// A bare top-level comma list: several answers, compared as a set.
    case list([MathNode])
    /// `a : b` (`7:32`, `V_1:V_2`), two or more terms.
    case ratio([MathNode])
    /// Prose (`\text{Evelyn}`, `\text{(B)}`).
    case text(String)
}

enum Bracket: Hashable, Sendable {
    case paren, square, angle

    var symbolOpen: String {
        switch self {
        case .paren: return "("
        case .square: return "["
        case .angle: return "<"
        }
    }

    var symbolClose: String {
        switch self {
        case .paren: return ")"
        case .square: return "]"
        case .angle: return ">"
        }
    }
}

enum MathConstant: String, Hashable, Sendable {
    case pi, e, i, infinity
}

enum MathFunction: String, Hashable, Sendable, CaseIterable {
    case sin, cos, tan, cot, sec, csc
    case arcsin, arccos, arctan, arccot, arcsec, arccsc
    case sinh, cosh, tanh, asinh, acosh, atanh
    case exp, abs, floor, ceil
}

enum RelationOperator: String, Hashable, Sendable {
    case equal = "="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case member = "in"

    var isInequality: Bool {
        switch self {
        case .less, .lessOrEqual, .greater, .greaterOrEqual: return true
        case .equal, .notEqual, .member: return false
        }
    }
}

extension MathNode {
    /// Scalars evaluate to one number; composites are compared by shape.
    var isScalar: Bool {
        switch self {
        case .bracketed, .set, .union, .matrix, .relation, .list, .ratio, .text: return false
        case .plusMinus: return false
        default: return true
        }
    }

    var containsPlusMinus: Bool {
        switch self {
        case .plusMinus: return true
        case .number, .baseNumeral, .variable, .constant, .text: return false
        case .sum(let items), .product(let items), .bracketed(_, _, let items), .set(let items), .union(let items),
             .list(let items), .relation(let items, _), .ratio(let items):
            return items.contains { $0.containsPlusMinus }
        case .matrix(let rows): return rows.contains { $0.contains { $0.containsPlusMinus } }
        case .quotient(let a, let b), .power(let a, let b), .root(let a, let b), .binomial(let a, let b):
            return a.containsPlusMinus || b.containsPlusMinus
        case .negation(let a), .function(_, let a), .factorial(let a): return a.containsPlusMinus
        case .logarithm(let base, let a): return (base?.containsPlusMinus ?? false) || a.containsPlusMinus
        }
    }

    /// The free variables, sorted, for random-point evaluation.
    func collectVariables(into names: inout Set<String>) {
        switch self {
        case .variable(let name): names.insert(name)
        case .number, .baseNumeral, .constant, .text: break
        case .sum(let items), .product(let items), .bracketed(_, _, let items), .set(let items), .union(let items),
             .list(let items), .relation(let items, _), .ratio(let items):
            for item in items { item.collectVariables(into: &names) }
        case .matrix(let rows): for row in rows { for item in row { item.collectVariables(into: &names) } }
        case .quotient(let a, let b), .power(let a, let b), .root(let a, let b), .binomial(let a, let b),
             .plusMinus(let a, let b):
            a.collectVariables(into: &names)
            b.collectVariables(into: &names)
        case .negation(let a), .function(_, let a), .factorial(let a): a.collectVariables(into: &names)
        case .logarithm(let base, let a):
            base?.collectVariables(into: &names)
            a.collectVariables(into: &names)
        }
    }
}

/// Solution sets of one-variable inequalities that are not already `variable op bound`: linear sides
/// (`-x > -1` is `(-\infty, 1)`, `-1 < 2x + 1 \le 3` is `(-1, 1]`) and absolute values of linear expressions
/// (`1 \le |x| \le \frac32` is `[-\frac32, -1] \cup [1, \frac32]`). Only exact rational coefficients and bounds
/// are solved, so the endpoints are exact; anything else keeps its relation form.
enum SolutionSets {
    /// An endpoint of an interval on the real line.
    private enum Endpoint {
        case finite(Rational)
        case minusInfinity, plusInfinity

        var node: MathNode {
            switch self {
            case .finite(let value):
                return value.isNegative ? .negation(.number(-value)) : .number(value)
            case .minusInfinity: return .negation(.constant(.infinity))
            case .plusInfinity: return .constant(.infinity)
            }
        }

        /// The endpoint of x when h = a·x + b takes this value.
        func solved(slope: Rational, intercept: Rational) -> Endpoint {
            switch self {
            case .finite(let value): return .finite((value - intercept).divided(by: slope)!)
            case .minusInfinity: return slope.isNegative ? .plusInfinity : .minusInfinity
            case .plusInfinity: return slope.isNegative ? .minusInfinity : .plusInfinity
            }
        }
    }

    /// An interval of the line; `closedLow`/`closedHigh` say whether the endpoints belong to it.
    private struct Interval {
        var low: Endpoint
        var high: Endpoint
        var closedLow: Bool
        var closedHigh: Bool

        /// The x with a·x + b in this interval.
        func solved(slope: Rational, intercept: Rational) -> Interval {
            let first = low.solved(slope: slope, intercept: intercept)
            let second = high.solved(slope: slope, intercept: intercept)
            if slope.isNegative {
                return Interval(low: second, high: first, closedLow: closedHigh, closedHigh: closedLow)
            }
            return Interval(low: first, high: second, closedLow: closedLow, closedHigh: closedHigh)
        }

        var node: MathNode {
            .bracketed(open: closedLow ? .square : .paren, close: closedHigh ? .square : .paren, [low.node, high.node])
        }
    }

    /// `h = slope·x + intercept` with exact rationals, checked at five points so that no polynomial of degree
    /// four or less (and no absolute value) passes for linear.
    private struct Linear {
        var slope: Rational
        var intercept: Rational
    }

    private static let probes: [Rational] = [
        .zero, .one, Rational(numerator: 1, denominator: 2)!, Rational(numerator: -3, denominator: 7)!,
        Rational(numerator: 5, denominator: 3)!,
    ]

    private static func linear(_ node: MathNode, in variable: String) -> Linear? {
        let exact = ExactEvaluator()
        var values: [Rational] = []
        for probe in probes {
            guard let value = exact.value(of: node.substituting(variable, with: .number(probe))) else { return nil }
            values.append(value)
        }
        let intercept = values[0]
        let slope = values[1] - intercept
        guard !slope.isZero else { return nil }
        for (probe, value) in zip(probes, values) where value != intercept + slope * probe { return nil }
        return Linear(slope: slope, intercept: intercept)
    }

    /// The set of the relation as an interval or a union, or nil when it is not a solvable one-variable form.
    static func solve(_ sides: [MathNode], _ operators: [RelationOperator]) -> MathNode? {
        guard operators.allSatisfy(\.isInequality), sides.count == 2 || sides.count == 3 else { return nil }
        var names = Set<String>()
        for side in sides { side.collectVariables(into: &names) }
        guard names.count == 1, let variable = names.first else { return nil }
        let exact = ExactEvaluator()
        // Read every chain as ascending: `a > h > b` is `b < h < a`.
        var sides = sides
        var operators = operators
        if operators.allSatisfy({ $0 == .greater || $0 == .greaterOrEqual }) {
            sides.reverse()
            operators = operators.reversed().map(\.flipped)
        }
        guard operators.allSatisfy({ $0 == .less || $0 == .lessOrEqual }) else { return nil }
        let middleIndex: Int
        var bounds: (low: Endpoint, high: Endpoint, closedLow: Bool, closedHigh: Bool)
        if sides.count == 3 {
            guard !sides[0].hasVariables, !sides[2].hasVariables, let low = exact.value(of: sides[0]),
                  let high = exact.value(of: sides[2]) else { return nil }
            middleIndex = 1
            bounds = (.finite(low), .finite(high), operators[0] == .lessOrEqual, operators[1] == .lessOrEqual)
        } else if !sides[1].hasVariables, let high = exact.value(of: sides[1]) {
            middleIndex = 0
            bounds = (.minusInfinity, .finite(high), false, operators[0] == .lessOrEqual)
        } else if !sides[0].hasVariables, let low = exact.value(of: sides[0]) {
            middleIndex = 1
            bounds = (.finite(low), .plusInfinity, operators[0] == .lessOrEqual, false)
        } else {
            // Variables on both sides: `L < R` is `L - R < 0` when the difference is linear.
            guard let difference = linear(.sum([sides[0], .negation(sides[1])]), in: variable) else { return nil }
            let set = Interval(low: .minusInfinity, high: .finite(.zero), closedLow: false,
                               closedHigh: operators[0] == .lessOrEqual)
            return set.solved(slope: difference.slope, intercept: difference.intercept).node
        }
        let target = Interval(low: bounds.low, high: bounds.high, closedLow: bounds.closedLow,
                              closedHigh: bounds.closedHigh)
        let middle = sides[middleIndex]
        if case .function(.abs, let inner) = middle, let line = linear(inner, in: variable) {
            return absoluteValueSet(target).map { pieces in
                let solved = pieces.map { $0.solved(slope: line.slope, intercept: line.intercept).node }
                return solved.count == 1 ? solved[0] : .union(solved)
            }
        }
        guard let line = linear(middle, in: variable) else { return nil }
        return target.solved(slope: line.slope, intercept: line.intercept).node
    }

    /// The values h with |h| in `target`, as one or two intervals; nil for an empty or degenerate set.
    private static func absoluteValueSet(_ target: Interval) -> [Interval]? {
        guard case .finite(let high) = target.high, !high.isNegative, !high.isZero else {
            // `|h| > c` (no upper bound): both tails.
            guard case .finite(let low) = target.low, !low.isNegative, !low.isZero else { return nil }
            return [Interval(low: .minusInfinity, high: .finite(-low), closedLow: false, closedHigh: target.closedLow),
                    Interval(low: .finite(low), high: .plusInfinity, closedLow: target.closedLow, closedHigh: false)]
        }
        let lowValue: Rational? = { if case .finite(let low) = target.low { return low } else { return nil } }()
        // No positive lower bound (or `0 \le |h|`): one interval around 0.
        if lowValue == nil || lowValue!.isNegative || (lowValue!.isZero && target.closedLow) {
            return [Interval(low: .finite(-high), high: .finite(high), closedLow: target.closedHigh,
                             closedHigh: target.closedHigh)]
        }
        let low = lowValue!
        guard (low - high).isNegative else { return nil }
        return [Interval(low: .finite(-high), high: .finite(-low), closedLow: target.closedHigh, closedHigh: target.closedLow),
                Interval(low: .finite(low), high: .finite(high), closedLow: target.closedLow, closedHigh: target.closedHigh)]
    }
}

extension MathNode {
    /// The tree with every occurrence of the variable `name` replaced.
    func substituting(_ name: String, with value: MathNode) -> MathNode {
        func map(_ items: [MathNode]) -> [MathNode] { items.map { $0.substituting(name, with: value) } }
        switch self {
        case .variable(let current): return current == name ? value : self
        case .number, .baseNumeral, .constant, .text: return self
        case .sum(let items): return .sum(map(items))
        case .product(let items): return .product(map(items))
        case .quotient(let a, let b): return .quotient(a.substituting(name, with: value), b.substituting(name, with: value))
        case .negation(let a): return .negation(a.substituting(name, with: value))
        case .power(let a, let b): return .power(a.substituting(name, with: value), b.substituting(name, with: value))
        case .root(let index, let radicand):
            return .root(index: index.substituting(name, with: value), radicand: radicand.substituting(name, with: value))
        case .function(let function, let a): return .function(function, a.substituting(name, with: value))
        case .logarithm(let base, let a):
            return .logarithm(base: base?.substituting(name, with: value), a.substituting(name, with: value))
        case .factorial(let a): return .factorial(a.substituting(name, with: value))
        case .binomial(let a, let b): return .binomial(a.substituting(name, with: value), b.substituting(name, with: value))
        case .plusMinus(let a, let b): return .plusMinus(a.substituting(name, with: value), b.substituting(name, with: value))
        case .bracketed(let open, let close, let items): return .bracketed(open: open, close: close, map(items))
        case .set(let items): return .set(map(items))
        case .union(let items): return .union(map(items))
        case .matrix(let rows): return .matrix(rows.map(map))
        case .relation(let items, let operators): return .relation(map(items), operators)
        case .list(let items): return .list(map(items))
        case .ratio(let items): return .ratio(map(items))
        }
    }

    /// A name for a quantity rather than a value: a variable, letters multiplied (`AB`, `f(x)`), their quotient,
    /// power or absolute value (`\frac{PQ}{QR}`, `|AB|`), a tuple of names (`(p,q)`) or a ratio of names
    /// (`V_1:V_2`). `AB = 4` labels 4; sums are not labels, so `x + y = 5` stays an equation.
    var isLabel: Bool {
        switch self {
        case .variable: return true
        case .product(let factors):
            // Words such as `area` hold the letters e and i, which parse as constants.
            return factors.contains { if case .variable = $0 { return true } else { return false } }
                && factors.allSatisfy { factor in
                    if case .constant(let constant) = factor { return constant == .e || constant == .i }
                    return factor.isLabel
                }
        case .quotient(let a, let b): return a.isLabel && b.isLabel
        case .function(.abs, let inner): return inner.isLabel
        case .power(let base, .number): return base.isLabel
        case .bracketed(let open, _, let items):
            return open != .square && items.count >= 2 && items.allSatisfy { if case .variable = $0 { return true } else { return false } }
        case .ratio(let terms): return terms.allSatisfy(\.isLabel)
        default: return false
        }
    }

    /// A name that an interval can bound in place of a variable: `0 < f(x) < 1`.
    var isIntervalLabel: Bool {
        switch self {
        case .variable: return true
        case .product(let factors):
            return factors.allSatisfy { if case .variable = $0 { return true } else { return false } }
        default: return false
        }
    }
}

/// Rewrites that make equal answers look alike before comparison: `x \in S` is `S`, one-variable inequalities are
/// intervals, `\pm` expands to both values, `5 = x` is `x = 5`, and `x = 1, x = 2` lists their values.
enum Canonical {
    /// At most this many `\pm` signs are expanded (2^n values).
    static let maximumPlusMinusSigns = 4

    static func form(_ node: MathNode) -> MathNode {
        switch node {
        case .relation(let sides, let operators):
            return relationForm(sides, operators)
        case .list(let items):
            return .list(expandedItems(items))
        case .set(let items):
            return .set(expandedItems(items))
        default:
            guard node.containsPlusMinus else { return node }
            if case .plusMinus = node {} else if !node.isScalar { return node }
            let values = expandPlusMinus(node, budget: maximumPlusMinusSigns)
            return values.count == 1 ? values[0] : .list(values)
        }
    }

    private static func expandedItems(_ items: [MathNode]) -> [MathNode] {
        items.flatMap { item -> [MathNode] in
            var value = labelledValue(item) ?? item
            if case .list(let group) = value {
                // A group closed by a semicolon (`p=5,q=2; p=7,q=2`) is one ordered answer.
                value = .bracketed(open: .paren, close: .paren, group.map { labelledValue($0) ?? $0 })
            }
            return value.containsPlusMinus ? expandPlusMinus(value, budget: maximumPlusMinusSigns) : [value]
        }
    }

    /// The value of `label = value` or `value = label` (`x = 5`, `AB = 4`, `5 = x`), nil for anything else.
    /// Beyond a single variable, the value may use only the label's own variables (`f(x) = x^2 + 1`), so that
    /// `y^2 = 4x` stays an equation.
    static func labelledValue(_ node: MathNode) -> MathNode? {
        guard case .relation(let sides, let operators) = node, operators == [.equal], sides.count == 2 else { return nil }
        func value(labelled label: MathNode, _ value: MathNode) -> MathNode? {
            guard label.isLabel, !value.isRelation else { return nil }
            if case .variable = label { return value }
            var labelNames = Set<String>()
            var valueNames = Set<String>()
            label.collectVariables(into: &labelNames)
            value.collectVariables(into: &valueNames)
            return valueNames.isSubset(of: labelNames) ? value : nil
        }
        return value(labelled: sides[0], sides[1]) ?? value(labelled: sides[1], sides[0])
    }

    private static func relationForm(_ sides: [MathNode], _ operators: [RelationOperator]) -> MathNode {
        // `x = 5 + 5 + 1 = 11` assigns its last value to its label (Math-Verify reads assignment chains so).
        if operators.count > 1, operators.allSatisfy({ $0 == .equal }), sides[0].isLabel {
            return relationForm([sides[0], sides[sides.count - 1]], [.equal])
        }
        if operators == [.member], sides[0].isIntervalLabel { return form(sides[1]) }
        if operators == [.equal], sides.count == 2, sides[1].isLabel {
            if sides[0].isLabel { return .relation(sides, operators) }
            return .relation([sides[1], sides[0]], operators)
        }
        if operators == [.equal], sides.count == 2, case .variable = sides[0], sides[1].containsPlusMinus {
            return .list(expandPlusMinus(sides[1], budget: maximumPlusMinusSigns))
        }
        return interval(sides, operators) ?? SolutionSets.solve(sides, operators) ?? .relation(sides, operators)
    }

    /// Whether `form` turns this relation into a set only by solving it (`-x > -1`, `1 \le |x| \le 2`).
    static func isSolvedBySolver(_ node: MathNode) -> Bool {
        guard case .relation(let sides, let operators) = node, interval(sides, operators) == nil else { return false }
        return SolutionSets.solve(sides, operators) != nil
    }

    /// `x > 3` → `(3, \infty)`, `-2 \le x < 7` → `[-2, 7)`, `5 \ge x` → `(-\infty, 5]`.
    private static func interval(_ sides: [MathNode], _ operators: [RelationOperator]) -> MathNode? {
        guard operators.allSatisfy(\.isInequality) else { return nil }
        let infinity = MathNode.constant(.infinity)
        let negativeInfinity = MathNode.negation(infinity)
        func bracket(_ relation: RelationOperator) -> Bracket {
            relation == .lessOrEqual || relation == .greaterOrEqual ? .square : .paren
        }
        if sides.count == 2 {
            // Read as `variable relation bound`, mirroring `bound relation variable`.
            let (bound, relation): (MathNode, RelationOperator)
            if sides[0].isIntervalLabel, !sides[1].hasVariables {
                (bound, relation) = (sides[1], operators[0])
            } else if sides[1].isIntervalLabel, !sides[0].hasVariables {
                (bound, relation) = (sides[0], operators[0].flipped)
            } else {
                return nil
            }
            switch relation {
            case .less, .lessOrEqual:
                return .bracketed(open: .paren, close: bracket(relation), [negativeInfinity, bound])
            default:
                return .bracketed(open: bracket(relation), close: .paren, [bound, infinity])
            }
        }
        guard sides.count == 3, sides[1].isIntervalLabel, !sides[0].hasVariables, !sides[2].hasVariables else {
            return nil
        }
        let ascending = operators.allSatisfy { $0 == .less || $0 == .lessOrEqual }
        let descending = operators.allSatisfy { $0 == .greater || $0 == .greaterOrEqual }
        if ascending {
            return .bracketed(open: bracket(operators[0]), close: bracket(operators[1]), [sides[0], sides[2]])
        }
        if descending {
            return .bracketed(open: bracket(operators[1]), close: bracket(operators[0]), [sides[2], sides[0]])
        }
        return nil
    }

    /// Every sign choice of the `\pm` in `node`, plus first then minus.
    static func expandPlusMinus(_ node: MathNode, budget: Int) -> [MathNode] {
        guard budget > 0 else { return [node] }
        switch node {
        case .plusMinus(let left, let right):
            let lefts = expandPlusMinus(left, budget: budget - 1)
            let rights = expandPlusMinus(right, budget: budget - 1)
            var values: [MathNode] = []
            for l in lefts {
                for r in rights {
                    let isZero = l == .number(.zero)
                    values.append(isZero ? r : .sum([l, r]))
                    values.append(isZero ? .negation(r) : .sum([l, .negation(r)]))
                }
            }
            return values
        case .sum(let terms):
            return expandTerms(terms, budget: budget).map { .sum($0) }
        case .product(let factors):
            return expandTerms(factors, budget: budget).map { .product($0) }
        case .quotient(let top, let bottom):
            return expandTerms([top, bottom], budget: budget).map { .quotient($0[0], $0[1]) }
        case .negation(let inner):
            return expandPlusMinus(inner, budget: budget).map { .negation($0) }
        default:
            return [node]
        }
    }

    private static func expandTerms(_ terms: [MathNode], budget: Int) -> [[MathNode]] {
        var combinations: [[MathNode]] = [[]]
        for term in terms {
            let options = term.containsPlusMinus ? expandPlusMinus(term, budget: budget) : [term]
            combinations = combinations.flatMap { prefix in options.map { prefix + [$0] } }
            if combinations.count > 1 << maximumPlusMinusSigns { return [terms] }
        }
        return combinations
    }
}

extension MathNode {
    var isRelation: Bool {
        if case .relation = self { return true }
        return false
    }

    var hasVariables: Bool {
        var names = Set<String>()
        collectVariables(into: &names)
        return !names.isEmpty
    }
}

import BigInt

/// Evaluates rational-valued expressions exactly, refusing (nil) anything irrational, symbolic, or larger than
/// the bit budget. Exactness is what tells `1/2004!` from `1/2006!`, which no floating-point test can.
struct ExactEvaluator: Sendable {
    /// Largest numerator-plus-denominator size, in bits, of any value (about 9,900 digits; 2006! has 5,700).
    /// Reducing fractions costs Euclid's algorithm, quadratic in this size: it bounds the time of a pair.
    var bitBudget = 1 << 15
    /// Largest n for which n! and binomials with min(k, n-k) = n are multiplied out.
    var factorialLimit = 3000

    func value(of node: MathNode) -> Rational? {
        switch node {
        case .number(let value):
            return value
        case .sum(let terms):
            var total = Rational.zero
            for term in terms {
                guard let part = value(of: term), total.bitSize <= bitBudget, part.bitSize <= bitBudget else { return nil }
                total = total + part
            }
            return total.bitSize <= bitBudget ? total : nil
        case .product(let factors):
            var total = Rational.one
            for factor in factors {
                guard let part = value(of: factor), total.bitSize <= bitBudget, part.bitSize <= bitBudget else { return nil }
                total = total * part
            }
            return total.bitSize <= bitBudget ? total : nil
        case .quotient(let top, let bottom):
            guard let numerator = value(of: top), let denominator = value(of: bottom),
                  numerator.bitSize <= bitBudget, denominator.bitSize <= bitBudget,
                  let quotient = numerator.divided(by: denominator), quotient.bitSize <= bitBudget else { return nil }
            return quotient
        case .negation(let inner):
            return value(of: inner).map { -$0 }
        case .power(let base, let exponent):
            guard let exponentValue = value(of: exponent), let baseValue = value(of: base) else { return nil }
            return power(baseValue, exponentValue)
        case .root(let index, let radicand):
            guard let indexValue = value(of: index), indexValue.isInteger,
                  indexValue.numerator.magnitude.bitWidth < 8, let radicandValue = value(of: radicand) else { return nil }
            return radicandValue.exactRoot(Int(indexValue.numerator))
        case .factorial(let inner):
            guard let argument = value(of: inner), argument.isInteger, !argument.isNegative,
                  argument.numerator <= BigInt(factorialLimit) else { return nil }
            return fallingProduct(from: BigInt(1), count: Int(argument.numerator)).map { Rational(integer: $0) }
        case .binomial(let top, let bottom):
            return binomial(top, bottom)
        case .function(.abs, let inner):
            return value(of: inner).map { $0.isNegative ? -$0 : $0 }
        case .function(.floor, let inner), .function(.ceil, let inner):
            guard let argument = value(of: inner) else { return nil }
            let (quotient, remainder) = argument.numerator.quotientAndRemainder(dividingBy: argument.denominator)
            // Truncating division rounds toward zero; adjust to the floor, then to the ceiling.
            let floor = remainder.isZero || remainder.sign == .plus ? quotient : quotient - 1
            if case .function(.floor, _) = node { return Rational(integer: floor) }
            return Rational(integer: remainder.isZero ? floor : floor + 1)
        default:
            return nil
        }
    }

    /// Integer powers, and p/q powers of perfect q-th powers (`8^{2/3} = 4`).
    private func power(_ base: Rational, _ exponent: Rational) -> Rational? {
        if exponent.isInteger { return base.power(exponent.numerator, bitBudget: bitBudget) }
        guard exponent.denominator.magnitude.bitWidth < 8,
              let root = base.exactRoot(Int(exponent.denominator)) else { return nil }
        return root.power(exponent.numerator, bitBudget: bitBudget)
    }

    private func binomial(_ top: MathNode, _ bottom: MathNode) -> Rational? {
        guard let n = value(of: top), let k = value(of: bottom), n.isInteger, k.isInteger,
              !n.isNegative else { return nil }
        if k.isNegative || k.numerator > n.numerator { return .zero }
        let smaller = min(k.numerator, n.numerator - k.numerator)
        guard smaller <= BigInt(factorialLimit) else { return nil }
        let count = Int(smaller)
        guard let numerator = fallingProduct(from: n.numerator - smaller + 1, count: count),
              let denominator = fallingProduct(from: 1, count: count) else { return nil }
        return Rational(numerator: numerator, denominator: denominator)
    }

    /// start · (start+1) · ... · (start+count-1), or nil past the bit budget. Multiplied as a balanced tree so
    /// the big multiplications are few and of equal sizes.
    private func fallingProduct(from start: BigInt, count: Int) -> BigInt? {
        guard count > 0 else { return 1 }
        // An upper bound on the result's size before doing any work: count factors of at most `last` each.
        let last = start + BigInt(count - 1)
        guard last.magnitude.bitWidth.multipliedReportingOverflow(by: count).partialValue <= bitBudget * 2 else {
            return nil
        }
        let product = productTree(packedFactors(from: start, count: count))
        return product.magnitude.bitWidth > bitBudget ? nil : product
    }

    /// The factors multiplied together in machine words while they fit, so the big-number work starts from a
    /// few dense words instead of thousands of small factors.
    private func packedFactors(from start: BigInt, count: Int) -> [BigInt] {
        guard start.sign == .plus || start.isZero, start.magnitude.bitWidth <= 62,
              let first = UInt64(exactly: start.magnitude) else {
            return (0..<count).map { start + BigInt($0) }
        }
        var words: [BigInt] = []
        var accumulator: UInt64 = 1
        for offset in 0..<UInt64(count) {
            let factor = first + offset
            let (product, overflow) = accumulator.multipliedReportingOverflow(by: factor)
            if overflow {
                words.append(BigInt(accumulator))
                accumulator = factor
            } else {
                accumulator = product
            }
        }
        words.append(BigInt(accumulator))
        return words
    }

    private func productTree(_ factors: [BigInt]) -> BigInt {
        productTree(factors[...])
    }

    private func productTree(_ factors: ArraySlice<BigInt>) -> BigInt {
        switch factors.count {
        case 0: return 1
        case 1: return factors[factors.startIndex]
        default:
            let middle = factors.startIndex + factors.count / 2
            return productTree(factors[..<middle]) * productTree(factors[middle...])
        }
    }
}

import BigInt

/// Decides whether two scalar expressions are equal: structurally, then exactly over the rationals, then in
/// floating point (constants) or at random points (free variables).
struct ScalarComparator: Sendable {
    let options: GraderOptions
    let exact = ExactEvaluator()
    /// The decimal literals written in the two answers being compared, by value.
    var writtenDecimals: [Rational: DecimalDigits] = [:]

    /// A decimal stands for the exact rational it rounds only when it shows at least this many significant
    /// digits: a machine printout (Python's repr gives 16-17, SymPy's `N` 15), not a hand rounding. Ten digits
    /// of 1/3 are not 1/3; Math-Verify, which rounds both sides to 6 places, would accept them.
    static let roundedDecimalSignificantDigits = 12
    /// Floating point cannot tell values apart beyond this magnitude (or below its inverse).
    static let numericRange = 1e250
    /// Fewer agreeing points than this prove nothing, whatever the options ask for.
    static let minimumUsablePoints = 3

    private var pointCount: Int { max(ScalarComparator.minimumUsablePoints, options.randomPoints) }

    func compare(_ a: MathNode, _ b: MathNode) -> (equal: Bool, rule: GradeRule) {
        if a == b { return (true, .identical) }
        if let decided = compareBaseNumerals(a, b) { return decided }
        let exactA = exact.value(of: a)
        let exactB = exact.value(of: b)
        if let exactA, let exactB {
            if exactA == exactB { return (true, .exactRational) }
            if roundsTo(a, exactB) || roundsTo(b, exactA) { return (true, .roundedDecimal) }
            return (false, .exactRational)
        }

        // Absolute tolerance absorbs rounding noise around an exact zero (`\sin\pi` against `0`). Between two
        // values that are merely small it would call `10^{-15}\pi` equal to `2 \cdot 10^{-15}\pi`.
        let nearZeroAllowed = exactA?.isZero == true || exactB?.isZero == true
        var names = Set<String>()
        a.collectVariables(into: &names)
        b.collectVariables(into: &names)
        if names.isEmpty {
            let evaluator = NumericEvaluator(variables: [:])
            guard let valueA = evaluator.value(of: a), let valueB = evaluator.value(of: b) else {
                return (false, .undecidable)
            }
            if !isInNumericRange(valueA, exact: exactA) || !isInNumericRange(valueB, exact: exactB) {
                return (false, .outOfNumericRange)
            }
            return (isClose(valueA, valueB, nearZeroAllowed: nearZeroAllowed), .numericTolerance)
        }
        return compareAtRandomPoints(a, b, variables: names.sorted(), nearZeroAllowed: nearZeroAllowed)
    }

    /// The written decimal `literal` and the value it would round, or nil when `node` is not one.
    private func writtenDecimal(_ node: MathNode) -> (value: Rational, digits: DecimalDigits)? {
        switch node {
        case .number(let value): return writtenDecimals[value].map { (value, $0) }
        case .negation(.number(let value)): return writtenDecimals[value].map { (-value, $0) }
        default: return nil
        }
    }

    /// Whether `decimal` is a decimal literal of at least 12 significant digits within one unit of its last
    /// place of `exactValue` (|decimal − value| ≤ 10^-places: the value rounded or truncated to the places shown,
    /// or printed from a binary double, `0.6666666666666666` for 2/3), or within 10^-12 of it relatively (the
    /// last bits of double arithmetic, `0.30000000000000004` for 0.3).
    private func roundsTo(_ decimal: MathNode, _ exactValue: Rational) -> Bool {
        guard let (value, digits) = writtenDecimal(decimal),
              digits.significant >= ScalarComparator.roundedDecimalSignificantDigits else { return false }
        func magnitude(_ x: Rational) -> Rational { x.isNegative ? -x : x }
        let error = magnitude(value - exactValue)
        let unit = Rational(numerator: 1, denominator: BigInt(10).power(digits.places))!
        let relative = magnitude(exactValue) * ScalarComparator.doubleArithmeticError
        return !(unit - error).isNegative || !(relative - error).isNegative
    }

    private static let doubleArithmeticError = Rational(numerator: 1, denominator: BigInt(10).power(12))!

    /// Values agree at every sample point where both are defined; at least three points must be usable.
    private func compareAtRandomPoints(_ a: MathNode, _ b: MathNode, variables: [String],
                                       nearZeroAllowed: Bool) -> (equal: Bool, rule: GradeRule) {
        var usable = 0
        for assignment in SamplePoints.assignments(for: variables, count: pointCount) {
            let evaluator = NumericEvaluator(variables: assignment)
            guard let valueA = evaluator.value(of: a), let valueB = evaluator.value(of: b) else {
                return (false, .undecidable)
            }
            guard valueA.isFinite, valueB.isFinite else { continue }
            if !isClose(valueA, valueB, nearZeroAllowed: nearZeroAllowed) { return (false, .randomPoints) }
            usable += 1
        }
        return usable >= ScalarComparator.minimumUsablePoints ? (true, .randomPoints) : (false, .undecidable)
    }

    /// Whether `a = 0` and `b = 0` describe the same set: `a / b` is one nonzero constant at every sample point.
    func areProportional(_ a: MathNode, _ b: MathNode) -> Bool {
        var names = Set<String>()
        a.collectVariables(into: &names)
        b.collectVariables(into: &names)
        guard !names.isEmpty else { return false }
        var ratio: Complex?
        var usable = 0
        for assignment in SamplePoints.assignments(for: names.sorted(), count: pointCount) {
            let evaluator = NumericEvaluator(variables: assignment)
            guard let valueA = evaluator.value(of: a), let valueB = evaluator.value(of: b) else { return false }
            guard valueA.isFinite, valueB.isFinite, valueB.magnitude > options.absoluteTolerance else { continue }
            let current = valueA / valueB
            guard current.magnitude > options.absoluteTolerance else { return false }
            if let ratio, !isClose(ratio, current, nearZeroAllowed: false) { return false }
            ratio = current
            usable += 1
        }
        return usable >= ScalarComparator.minimumUsablePoints
    }

    func isClose(_ a: Complex, _ b: Complex, nearZeroAllowed: Bool) -> Bool {
        if a == b { return true }
        let difference = (a - b).magnitude
        let scale = max(a.magnitude, b.magnitude)
        return difference <= (nearZeroAllowed ? options.absoluteTolerance : 0) + options.relativeTolerance * scale
    }

    /// A nonzero value that underflows, overflows, or is infinite only because doubles are too small to hold it
    /// cannot be compared numerically: `1/2004!` and `1/2006!` are both 0.0.
    private func isInNumericRange(_ value: Complex, exact: Rational?) -> Bool {
        guard value.isFinite else { return false }
        let magnitude = value.magnitude
        if magnitude > ScalarComparator.numericRange { return false }
        if magnitude == 0 { return exact.map { $0.isZero } ?? true }
        return magnitude > 1 / ScalarComparator.numericRange
    }

    /// `204_5` against `204_5` or `204`; values in another base (`54`) are not the requested form.
    private func compareBaseNumerals(_ a: MathNode, _ b: MathNode) -> (equal: Bool, rule: GradeRule)? {
        func stripped(_ digits: String) -> Substring {
            let view = digits.drop { $0 == "0" }
            return view.isEmpty ? "0" : view
        }
        switch (a, b) {
        case let (.baseNumeral(digitsA, baseA), .baseNumeral(digitsB, baseB)):
            return (baseA == baseB && stripped(digitsA) == stripped(digitsB), .baseNumeral)
        case let (.baseNumeral(digits, _), .number(value)), let (.number(value), .baseNumeral(digits, _)):
            return (value.isInteger && !value.isNegative && String(value.numerator) == String(stripped(digits)),
                    .baseNumeral)
        case (.baseNumeral, _), (_, .baseNumeral):
            return (false, .baseNumeral)
        default:
            return nil
        }
    }
}

/// How a decimal literal was written: digits after the point, and significant digits (from the first nonzero one).
struct DecimalDigits: Sendable, Equatable {
    let places: Int
    let significant: Int

    /// Nil for integers and scientific literals (`1.5e-3`), which show no rounding position of their own.
    init?(literal: String) {
        guard !literal.contains("e"), !literal.contains("E"),
              let point = literal.firstIndex(of: ".") else { return nil }
        places = literal.distance(from: point, to: literal.endIndex) - 1
        let digits = literal.filter { $0 != "." }.drop { $0 == "0" }
        significant = digits.count
    }
}

/// Deterministic sample points (SplitMix64 with a fixed seed) so a grade never changes between runs. Reals in
/// [0.5, 2.5]: positive, away from 0 and 1 where many identities degenerate, small enough not to overflow.
enum SamplePoints {
    static func assignments(for variables: [String], count: Int) -> [[String: Complex]] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Double(z >> 11) / Double(1 << 53)
        }
        var points: [[String: Complex]] = []
        points.reserveCapacity(count)
        for _ in 0..<count {
            var assignment: [String: Complex] = [:]
            for name in variables { assignment[name] = Complex(0.5 + 2 * next()) }
            points.append(assignment)
        }
        return points
    }
}

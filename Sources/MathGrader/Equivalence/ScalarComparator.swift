/// Decides whether two scalar expressions are equal: structurally, then exactly over the rationals, then in
/// floating point (constants) or at random points (free variables).
struct ScalarComparator: Sendable {
    let options: GraderOptions
    let exact = ExactEvaluator()

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
        if let exactA, let exactB { return (exactA == exactB, .exactRational) }

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

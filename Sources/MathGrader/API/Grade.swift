/// The outcome of grading one response.
public enum Verdict: String, Codable, Sendable, Equatable {
    case correct
    case incorrect
    /// The response holds no extractable answer (no `\boxed{}` and no enabled fallback phrase).
    case noAnswer = "no_answer"
}

/// Which rule decided a verdict, so rollouts and evaluations can show why.
public enum GradeRule: String, Codable, Sendable, Equatable, CaseIterable {
    /// No answer was extracted.
    case noAnswer = "no_answer"
    /// Both answers parsed to the same tree.
    case identical
    /// Both sides are rational numbers, compared exactly.
    case exactRational = "exact_rational"
    /// Constant expressions compared in floating point with relative and absolute tolerance.
    case numericTolerance = "numeric_tolerance"
    /// Expressions with free variables compared at random points.
    case randomPoints = "random_points"
    /// A value beyond the range where floating point can tell numbers apart (`10^{10^{10}}`).
    case outOfNumericRange = "out_of_numeric_range"
    /// Numerals with a base subscript (`204_5`).
    case baseNumeral = "base_numeral"
    /// A percentage on one side matched through its value over 100.
    case percent
    /// Unordered collections: `\{...\}` sets, bare comma lists, `\pm` expansions.
    case set
    /// Ordered bracketed lists: tuples, points, vectors, intervals (bracket kinds must match).
    case tuple
    /// Unions of intervals.
    case union
    case matrix
    /// Equations, compared by right-hand side or as proportional zero sets.
    case equation
    /// Inequality chains, compared as intervals or operator by operator.
    case inequality
    /// A one-variable inequality solved into its interval or union (`-x > -1`, `1 \le |x| \le \frac32`).
    case solutionSet = "solution_set"
    /// A label named the answer (`AB = 4`, `(p,q) = (3,2)`, `p=5, q=2`) and the values decided.
    case label
    /// Ratios: proportional terms (`7:32` = `14:64`), or a two-term ratio as the fraction of its terms.
    case ratio
    /// A decimal of 12 or more significant digits that is the exact rational rounded, truncated or printed from a
    /// double to the places it shows (`0.0833333333333333` for `\frac{1}{12}`).
    case roundedDecimal = "rounded_decimal"
    /// Prose answers (`\text{Evelyn}`, `(B)`) compared as normalized text.
    case text
    /// At least one side could not be parsed: normalized strings were compared.
    case stringFallback = "string_fallback"
    /// The answers have different shapes (a tuple against a number, sizes that differ, ...).
    case shapeMismatch = "shape_mismatch"
    /// With `requiresEvaluatedNumbers`: the reference is a number and the answer is still arithmetic on numbers
    /// (`15 \times 695` for `10425`), equal in value but not evaluated, so not a final answer.
    case unevaluated
    /// Neither exact nor numeric comparison could decide (e.g. functions undefined at every sample point).
    case undecidable
}

/// A verdict with its evidence. On the wire: `{"verdict", "correct", "extracted", "rule", "fell_back"}`.
public struct Grade: Codable, Sendable, Equatable {
    public var verdict: Verdict
    /// The answer text taken from the response, before normalization; nil when there was none.
    public var extracted: String?
    public var rule: GradeRule
    /// True when at least one side could not be parsed and normalized strings decided.
    public var fellBack: Bool

    public var isCorrect: Bool { verdict == .correct }

    public init(verdict: Verdict, extracted: String?, rule: GradeRule, fellBack: Bool) {
        self.verdict = verdict
        self.extracted = extracted
        self.rule = rule
        self.fellBack = fellBack
    }

    private enum CodingKeys: String, CodingKey {
        case verdict, correct, extracted, rule
        case fellBack = "fell_back"
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        verdict = try container.decode(Verdict.self, forKey: .verdict)
        extracted = try container.decodeIfPresent(String.self, forKey: .extracted)
        rule = try container.decode(GradeRule.self, forKey: .rule)
        fellBack = try container.decode(Bool.self, forKey: .fellBack)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(verdict, forKey: .verdict)
        try container.encode(isCorrect, forKey: .correct)
        try container.encode(extracted, forKey: .extracted)
        try container.encode(rule, forKey: .rule)
        try container.encode(fellBack, forKey: .fellBack)
    }
}

/// The outcome of comparing two answer strings directly.
public struct Equivalence: Sendable, Equatable {
    public var isEquivalent: Bool
    public var rule: GradeRule
    public var fellBack: Bool
}

/// Knobs of the grader; the defaults are the reward's.
public struct GraderOptions: Sendable, Equatable {
    /// Phrases after which an answer is taken when the response has no box, in priority order, matched
    /// case-insensitively at their last occurrence. Empty for the RL reward ("no box means no answer").
    public var fallbackPhrases: [String]
    /// Relative tolerance for floating-point comparisons.
    public var relativeTolerance: Double
    /// Absolute tolerance, applied only when one side is exactly zero (`\sin\pi` against `0`).
    public var absoluteTolerance: Double
    /// Sample points for expressions with free variables (at least 3 are used whatever this says).
    public var randomPoints: Int
    /// When the reference is a number, accept only a number as written, not arithmetic that evaluates to it
    /// (`15 \times 695` for `10425`): for "compute" tasks, where restating the question must not score.
    public var requiresEvaluatedNumbers: Bool

    public init(fallbackPhrases: [String] = [], relativeTolerance: Double = 1e-8,
                absoluteTolerance: Double = 1e-12, randomPoints: Int = 6, requiresEvaluatedNumbers: Bool = false) {
        self.fallbackPhrases = fallbackPhrases
        self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance
        self.randomPoints = randomPoints
        self.requiresEvaluatedNumbers = requiresEvaluatedNumbers
    }

    /// For evaluating models that do not box their answers.
    public static let evaluation = GraderOptions(fallbackPhrases: ["final answer is", "answer is", "answer:"])
}

/// Grades model responses against reference answers: extraction of the final answer, then mathematical
/// equivalence. A value type without shared state: safe to use from any thread.
///
/// ```swift
/// let grader = MathGrader()
/// let grade = grader.grade(response: "... so the answer is $\\boxed{\\frac{1}{2}}$.", reference: "0.5")
/// grade.verdict  // .correct, grade.rule == .exactRational
/// ```
public struct MathGrader: Sendable {
    public let options: GraderOptions
    private let extractor: AnswerExtractor
    private let comparator: AnswerComparator

    public init(options: GraderOptions = GraderOptions()) {
        self.options = options
        extractor = AnswerExtractor(fallbackPhrases: options.fallbackPhrases)
        comparator = AnswerComparator(options: options)
    }

    /// The final answer of `response` as written (the last box's content), or nil when there is none.
    public func extractAnswer(from response: String) -> String? {
        extractor.extract(from: response)
    }

    /// Extracts the final answer of `response` and compares it with `reference`: a bare answer, or a whole
    /// worked solution (some data sets ship those), whose final answer is then taken as a response's is.
    public func grade(response: String, reference: String) -> Grade {
        guard let extracted = extractAnswer(from: response) else {
            return Grade(verdict: .noAnswer, extracted: nil, rule: .noAnswer, fellBack: false)
        }
        let outcome = compare(answer: extracted, reference: referenceAnswer(reference))
        return Grade(verdict: outcome.isEquivalent ? .correct : .incorrect, extracted: extracted,
                     rule: outcome.rule, fellBack: outcome.fellBack)
    }

    /// The final answer of a reference: the last box's content when it has a box (a worked solution), else the
    /// configured fallback phrases' answer, else the reference itself.
    public func referenceAnswer(_ reference: String) -> String {
        extractor.extract(from: reference) ?? reference
    }

    /// Compares two bare answers.
    public func compare(answer: String, reference: String) -> Equivalence {
        comparator.compare(answer: ParsedAnswer(answer), reference: ParsedAnswer(reference))
    }
}

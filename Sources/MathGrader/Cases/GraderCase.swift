/// One labelled grading case: the table that the tests check and `torl bench grader` times.
public struct GraderCase: Sendable {
    public let response: String
    public let reference: String
    public let expected: Verdict
    /// What the case exercises, for reports ("extraction", "percent", "regression", ...).
    public let topic: String
    /// The rule that must decide, where the case is about the rule itself.
    public let expectedRule: GradeRule?

    public init(response: String, reference: String, expected: Verdict, topic: String, expectedRule: GradeRule? = nil) {
        self.response = response
        self.reference = reference
        self.expected = expected
        self.topic = topic
        self.expectedRule = expectedRule
    }

    /// A response whose final answer is `answer`, boxed the way the policy writes it.
    static func boxed(_ answer: String) -> String {
        "We work it out step by step, check it with code, and conclude that the answer is $\\boxed{\(answer)}$."
    }

    static func equal(_ answer: String, _ reference: String, _ topic: String, rule: GradeRule? = nil) -> GraderCase {
        GraderCase(response: boxed(answer), reference: reference, expected: .correct, topic: topic, expectedRule: rule)
    }

    static func unequal(_ answer: String, _ reference: String, _ topic: String, rule: GradeRule? = nil) -> GraderCase {
        GraderCase(response: boxed(answer), reference: reference, expected: .incorrect, topic: topic, expectedRule: rule)
    }
}

import ArgumentParser

/// Prompt and answer-reading options shared by `torl solve`, `torl eval` and `torl train`.
struct PromptOptions: ParsableArguments {
    @Option(help: "Instruction placed before the problem in either template (default: the published one).")
    var instruction: String?
    @Flag(help: "Also accept answers written as \"the answer is X\" when no \\boxed{} is present (default: box only, as published).")
    var acceptUnboxedAnswers = false
    @Flag(help: "When the reference is a number, count only a number as written, not arithmetic equal to it (15*695 for 10425).")
    var requireEvaluatedAnswers = false
    @Option(help: "End a response when it writes this text (repeatable; the text stays in the response). For base models that go on past their answer, e.g. --stop $'\\nUser:' with the torl template.")
    var stop: [String] = []
}

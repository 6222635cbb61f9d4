import ArgumentParser
import Foundation
import MathGrader

/// `torl grade`: JSON lines `{"response": ..., "reference": ...}` on stdin, one verdict per line on stdout.
struct GradeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grade",
        abstract: "Grade responses against reference answers: JSON lines in, one JSON verdict per line out.",
        discussion: """
            Input lines: {"response": "...", "reference": "..."}. Output lines: {"verdict", "correct", \
            "extracted", "rule", "fell_back"}. A line that is not such an object yields {"error": "..."} so \
            output lines stay aligned with input lines.
            """)

    @Flag(help: "Also take answers after 'final answer is' / 'Answer:' when a response has no \\boxed{}.")
    var fallbackPhrases = false

    @Option(help: "Relative tolerance for floating-point comparisons.")
    var relativeTolerance = GraderOptions().relativeTolerance

    @Flag(help: "When the reference is a number, count only a number as written, not arithmetic equal to it (15*695 for 10425).")
    var requireEvaluatedNumbers = false

    private struct Pair: Decodable {
        let response: String
        let reference: String
    }

    func run() throws {
        var options = fallbackPhrases ? GraderOptions.evaluation : GraderOptions()
        options.relativeTolerance = relativeTolerance
        options.requiresEvaluatedNumbers = requireEvaluatedNumbers
        let grader = MathGrader(options: options)
        let decoder = JSONDecoder()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var failures = 0
        while let line = readLine(strippingNewline: true) {
            if line.allSatisfy(\.isWhitespace) { continue }
            let output: Data
            do {
                let pair = try decoder.decode(Pair.self, from: Data(line.utf8))
                output = try encoder.encode(grader.grade(response: pair.response, reference: pair.reference))
            } catch {
                failures += 1
                output = try encoder.encode(["error": "line is not {\"response\": string, \"reference\": string}: \(error)"])
            }
            FileHandle.standardOutput.write(output + Data("\n".utf8))
        }
        if failures > 0 { throw ExitCode(2) }
    }
}

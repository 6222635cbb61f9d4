import ArgumentParser
import Foundation
import RL

/// `torl synthetic`: writes a set of generated arithmetic problems as JSONL (`id`, `problem`, `answer`), e.g. a
/// held-out evaluation set whose seed differs from the training run's.
struct SyntheticCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synthetic",
        abstract: "Write generated arithmetic problems with exact answers as JSONL (id, problem, answer).")

    @OptionGroup var generator: SyntheticOptions
    @Option(help: "Seed of the generator (use one the training run does not use for a held-out set).")
    var seed: UInt64 = 1
    @Option(help: "Id prefix of the problems.")
    var idPrefix = "synthetic"
    @Option(help: "Write to this file instead of standard output.")
    var output: String?

    func run() throws {
        let problems = try generator.problems(seed: seed, idPrefix: idPrefix)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for problem in problems {
            data.append(try encoder.encode(problem))
            data.append(UInt8(ascii: "\n"))
        }
        if let output {
            do { try data.write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                throw ValidationError("cannot write \(output): \(error.localizedDescription)")
            }
        } else {
            FileHandle.standardOutput.write(data)
        }
    }
}

import ArgumentParser
import Foundation
import RL
import Tensors

/// What the synthetic arithmetic generator makes, shared by `torl synthetic` and `torl train --synthetic`.
struct SyntheticOptions: ParsableArguments {
    @Option(help: "Difficulty of the synthetic problems, 1 (easiest) ... 5.")
    var difficulty = 3
    @Option(help: "Number of synthetic problems.")
    var count = 256
    @Option(help: "Comma-separated problem families: product, sequence_sum, modular_power (default: all).")
    var families: String?

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be >= 1") }
        guard (1...5).contains(difficulty) else { throw ValidationError("--difficulty must be 1...5") }
        _ = try parsedFamilies()
    }

    func parsedFamilies() throws -> [SyntheticArithmetic.Family] {
        guard let families else { return SyntheticArithmetic.Family.allCases }
        return try families.split(separator: ",").map { name in
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let family = SyntheticArithmetic.Family(rawValue: trimmed) else {
                let known = SyntheticArithmetic.Family.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError("unknown problem family '\(trimmed)' in --families (known: \(known))")
            }
            return family
        }
    }

    func problems(seed: UInt64, idPrefix: String = "synthetic") throws -> [Problem] {
        var generator = SeededGenerator(seed: seed)
        return SyntheticArithmetic(difficulty: difficulty, families: try parsedFamilies())
            .problems(count: count, idPrefix: idPrefix, using: &generator)
    }
}

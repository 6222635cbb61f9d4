import ArgumentParser
import Tensors

// OpenBLAS reads OPENBLAS_CORETYPE when it loads: set it and re-exec before anything else runs.
BLASEnvironment.reexecIfNeeded()

struct Torl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torl",
        abstract: "Tool-integrated reinforcement learning: inference engine, Python sandbox, grader and trainer in one daemon.",
        subcommands: [
            BenchCommand.self,
        ])
}
Torl.main()

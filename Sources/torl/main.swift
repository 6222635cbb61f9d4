import ArgumentParser
import Tensors

// OpenBLAS reads OPENBLAS_CORETYPE when it loads, before main: set it from the CPU and re-exec when unset.
BLASEnvironment.reexecIfNeeded()

struct Torl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torl",
        abstract: "Tool-integrated reinforcement learning: inference engine, Python sandbox, grader and trainer in one daemon.",
        subcommands: [ServeCommand.self, SolveCommand.self, StatusCommand.self, GenerateCommand.self, TokenizeCommand.self, ExecCommand.self,
                      GradeCommand.self, EvalCommand.self, TrainCommand.self, BenchCommand.self])
}
await Torl.main()

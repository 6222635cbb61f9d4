import ArgumentParser

struct Torl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torl",
        abstract: "Tool-integrated reinforcement learning: inference engine, Python sandbox, grader and trainer in one daemon.",
        subcommands: [
            GenerateCommand.self,
            ExecCommand.self,
            SandboxBenchGroup.self,
            GradeCommand.self,
            BenchCommand.self,
            EvalCommand.self,
        ])
}
Torl.main()

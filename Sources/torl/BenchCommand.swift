import ArgumentParser

/// `torl bench ...`: measured figures, printed as JSON. Each area adds its own subcommand here.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure and print figures as JSON.",
        subcommands: [SandboxBenchCommand.self, GraderBenchCommand.self, RPCBenchCommand.self])
}

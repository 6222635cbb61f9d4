import ArgumentParser

/// `torl bench [model|sandbox|grader|rpc|train]`: measured figures, printed as JSON. Without a subcommand it
/// measures the inference engine (`model`).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput and latency of torl's parts; prints JSON.",
        subcommands: [ModelBenchCommand.self, SandboxBenchCommand.self, GraderBenchCommand.self, RPCBenchCommand.self,
                      TrainBenchCommand.self],
        defaultSubcommand: ModelBenchCommand.self)
}

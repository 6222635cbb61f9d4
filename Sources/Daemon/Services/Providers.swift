import Generation
import RL
import Sandbox
import Tensors

/// Where the daemon's models come from: files (`FileModelProvider`) when serving; anything with the same contract
/// in tests, so that scheduling, batching and cancellation are tested against a tiny model in seconds.
public protocol ModelProvider: Sendable {
    /// The model at `path` with its tokenizer, in `precision`, with the PEFT adapters at `adapter` applied.
    func load(path: String, precision: WeightPrecision, adapter: String?) throws -> LoadedModel
}

/// Models from GGUF files and Hugging Face folders.
public struct FileModelProvider: ModelProvider {
    public init() {}

    public func load(path: String, precision: WeightPrecision, adapter: String?) throws -> LoadedModel {
        try LoadedModel.load(path: path, precision: precision, adapter: adapter)
    }
}

/// The daemon's code executor with its life cycle and health: the sandbox pool when serving; a stand-in in tests.
public protocol DaemonSandbox: CodeExecutor {
    func waitUntilReady() async throws
    func status() async -> SandboxMetrics
    func shutdown() async
}

extension SandboxPool: DaemonSandbox {}

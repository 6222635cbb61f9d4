import Foundation
import Generation
import JSONRPC
import Sandbox
import SystemSupport
import Tensors
import TorlProtocol

/// What `torl serve` starts with.
public struct DaemonConfiguration: Sendable {
    /// GGUF file or Hugging Face folder loaded at start; nil starts without a model (`model/load` later).
    public var modelPath: String?
    public var weights: WeightPrecision
    /// A PEFT LoRA folder applied on top of `modelPath` (the trainer then trains these adapters).
    public var adapterPath: String?
    public var sandbox: SandboxConfiguration

    public init(modelPath: String? = nil, weights: WeightPrecision = .f32, adapterPath: String? = nil,
                sandbox: SandboxConfiguration = SandboxConfiguration()) {
        self.modelPath = modelPath
        self.adapterPath = adapterPath
        self.weights = weights
        self.sandbox = sandbox
    }
}

/// The daemon's services behind the JSON-RPC router: the model (owned by one compute thread), the sandbox pool,
/// and the method handlers that use them. The transport (`RPCServer`) is the caller's; `register(on:)` plugs
/// the handlers into its router.
public final class Daemon: @unchecked Sendable {
    let configuration: DaemonConfiguration
    let compute = ComputeThread(name: "torl.compute")
    let sandbox: any DaemonSandbox
    let modelProvider: any ModelProvider
    let models: ModelSlot
    let scheduler: ModelScheduler
    let rollouts = RolloutStore()
    let training = TrainingSlot()
    let cluster = ClusterSlot()
    let started = Date()

    /// Starts the sandbox pool and loads the configured model (both before the first request, so no request
    /// pays their start-up cost). Throws when either cannot start.
    public convenience init(configuration: DaemonConfiguration) async throws {
        try await self.init(configuration: configuration, sandbox: try SandboxPool(configuration: configuration.sandbox),
                            modelProvider: FileModelProvider())
    }

    /// A daemon over the given sandbox and model source (tests give stand-ins; `configuration.sandbox` is then
    /// only what `initialize` reports).
    public init(configuration: DaemonConfiguration, sandbox: any DaemonSandbox,
                modelProvider: any ModelProvider) async throws {
        self.configuration = configuration
        self.sandbox = sandbox
        self.modelProvider = modelProvider
        models = ModelSlot()
        scheduler = ModelScheduler(compute: compute)
        do {
            try await sandbox.waitUntilReady()
            if let path = configuration.modelPath {
                try await loadModel(path: path, weights: configuration.weights, adapter: configuration.adapterPath)
            }
        } catch {
            await sandbox.shutdown()
            compute.stop()
            throw error
        }
    }

    /// Registers every method on `router`.
    public func register(on router: Router) {
        registerLifecycle(on: router)
        registerModel(on: router)
        registerSandbox(on: router)
        registerSolve(on: router)
        registerRollout(on: router)
        registerEvaluate(on: router)
        registerTraining(on: router)
        registerCluster(on: router)
    }

    /// Stops the sandbox (no process left behind) and the compute thread after its current job.
    public func shutdown() async {
        await sandbox.shutdown()
        compute.stop()
    }

    @discardableResult
    func loadModel(path: String, weights: WeightPrecision, adapter: String? = nil) async throws -> ModelInfo {
        // Reported absolute, so a client in another directory can tell whether this is the model it wants.
        let path = URL(fileURLWithPath: path).standardizedFileURL.path
        let adapter = adapter.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let provider = modelProvider
        let loaded = try await compute.run { try provider.load(path: path, precision: weights, adapter: adapter) }
        return models.install(loaded, precision: weights)
    }
}

/// The loaded model, swapped whole by `model/load`. Readers take a snapshot; the compute thread is the only
/// one that runs the model.
final class ModelSlot: @unchecked Sendable {
    struct Current {
        var loaded: LoadedModel
        var info: ModelInfo
    }

    private let state = Locked<Current?>(nil)

    var current: Current? { state.withLock { $0 } }
    var info: ModelInfo? { current?.info }

    func require() throws -> Current {
        guard let current else { throw DaemonError.noModel }
        return current
    }

    func install(_ loaded: LoadedModel, precision: WeightPrecision) -> ModelInfo {
        let info = ModelInfo(loaded, precision: precision)
        state.withLock { $0 = Current(loaded: loaded, info: info) }
        return info
    }
}

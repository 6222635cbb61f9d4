import Foundation
import JSONRPC
import RL
import Sandbox
import SystemSupport
import Tensors

/// Lenient on purpose, unlike other methods: LSP-style clients send fields of their own (processId, rootUri, ...)
/// in `initialize`, and refusing the handshake over them would help nobody.
struct InitializeParams: Decodable {
    var client_name: String?
    var client_version: String?
    var token: String?
}

/// The daemon's half of the `initialize` result; the transport adds protocol facts (schemas/initialize.json).
struct InitializeResult: Encodable {
    struct Capabilities: Encodable {
        var methods: [String]
        var streaming: Bool
        var cancellation: Bool
        var progress: [String: String]
    }
    struct Limits: Encodable {
        var context_length: Int?
        var sandbox: ExecutionLimits
        var sandbox_pool_size: Int
    }
    var server: [String: String]
    @EncodesNull var model: ModelInfo?
    var capabilities: Capabilities
    var limits: Limits
}

struct StatusResult: Encodable {
    struct Memory: Encodable { var rss_bytes: Int }
    struct Queue: Encodable {
        var sandbox_waiting: Int
        var sandbox_busy_workers: Int
        /// The model's scheduler: running job, waiting work, solve batching.
        var model: ModelScheduler.Snapshot
    }
    struct Training: Encodable {
        var step: Int
        var running: Bool
        /// Updates since the last checkpoint/save, checkpoint/restore or model/export: what a model/load would lose.
        var unsaved_steps: Int
        /// The LoRA being trained, null for full training (or before the first training method).
        @EncodesNull var lora: LoRA?
    }
    struct LoRA: Encodable {
        var rank: Int
        var alpha: Double
        var targets: [String]
        var use_rslora: Bool
        var parameters: Int
        /// f32 adapter values (the optimizer keeps two more buffers of this size).
        var bytes: Int
    }
    @EncodesNull var model: ModelInfo?
    var sandbox: SandboxMetrics
    var queue: Queue
    var training: Training
    var memory: Memory
    var uptime_s: Double
    /// The kernel path in use and its optional instructions (KernelInfo.summary).
    var kernels: String
    /// The data-parallel process group this daemon is a rank of (cluster/join), or null.
    @EncodesNull var cluster: ClusterMembership?
}

enum DaemonVersion {
    static let current = "0.1.0"
}

extension Daemon {
    func registerLifecycle(on router: Router) {
        router.register("initialize") { [self] (_: InitializeParams, _) -> InitializeResult in
            InitializeResult(
                server: ["name": "torl", "version": DaemonVersion.current],
                model: models.info,
                capabilities: .init(methods: router.methods.filter { !$0.hasPrefix("$/") } + ["shutdown", "exit"],
                                    streaming: true, cancellation: true,
                                    progress: ["notification": "$/progress", "token": "params.progress_token"]),
                limits: .init(context_length: models.info?.context_length,
                              sandbox: configuration.sandbox.defaultLimits,
                              sandbox_pool_size: configuration.sandbox.poolSize))
        }
        router.register("status") { [self] (_: EmptyParams, _) -> StatusResult in
            let metrics = await sandbox.status()
            return StatusResult(
                model: models.info,
                sandbox: metrics,
                queue: .init(sandbox_waiting: metrics.queueDepth, sandbox_busy_workers: metrics.workersBusy,
                             model: await scheduler.snapshot()),
                training: training.state.withLock {
                    StatusResult.Training(step: $0.step, running: $0.running, unsaved_steps: $0.unsavedSteps,
                                          lora: training.lora.withLock { $0.map {
                                              StatusResult.LoRA(rank: $0.configuration.rank, alpha: $0.configuration.alpha,
                                                                targets: $0.configuration.targets.map(\.rawValue),
                                                                use_rslora: $0.configuration.useRSLoRA,
                                                                parameters: $0.parameters, bytes: 4 * $0.parameters)
                                          } })
                },
                memory: .init(rss_bytes: Self.residentBytes() ?? 0),
                uptime_s: Date().timeIntervalSince(started), kernels: KernelInfo.summary,
                cluster: cluster.current.map(ClusterMembership.init))
        }
    }

    /// Resident set size from /proc/self/statm (Linux).
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

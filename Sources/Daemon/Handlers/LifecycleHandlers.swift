import Foundation
import JSONRPC
import RL
import Sandbox
import SystemSupport
import Tensors
import TorlProtocol

enum DaemonVersion {
    static let current = "0.1.0"
}

extension Daemon {
    func registerLifecycle(on router: Router) {
        router.register(InitializeRequest.self) { [self] _, _ in
            InitializeResult(
                server: ["name": "torl", "version": DaemonVersion.current],
                model: models.info,
                capabilities: .init(methods: router.methods.filter { !$0.hasPrefix("$/") } + ["shutdown", "exit"],
                                    streaming: true, cancellation: true,
                                    progress: ["notification": "$/progress", "token": "params.progress_token"]),
                limits: .init(context_length: models.info?.context_length,
                              sandbox: SandboxLimits(configuration.sandbox.defaultLimits),
                              sandbox_pool_size: configuration.sandbox.poolSize))
        }
        router.register(StatusRequest.self) { [self] _, _ in
            let metrics = await sandbox.status()
            return StatusResult(
                model: models.info,
                sandbox: SandboxMetricsWire(metrics),
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

import Cluster
import Foundation
import JSONRPC
import RL
import SystemSupport
import TorlProtocol

extension ClusterJoinParams {
    /// Checked before anything blocks, each error naming its field.
    func validated() throws -> (store: RendezvousStore, timeout: Double) {
        guard world_size >= 1 else { throw RPCError.invalidParams(field: "world_size", reason: "must be >= 1") }
        guard (0..<world_size).contains(rank) else {
            throw RPCError.invalidParams(field: "rank", reason: "must be in 0..<world_size (\(world_size))")
        }
        guard !prefix.isEmpty, !prefix.contains(where: \.isWhitespace) else {
            throw RPCError.invalidParams(field: "prefix", reason: "must be non-empty without whitespace")
        }
        let timeout = timeout_seconds ?? 60
        guard timeout > 0, timeout <= 3600 else {
            throw RPCError.invalidParams(field: "timeout_seconds", reason: "must be in (0, 3600]")
        }
        switch (store.file, store.tcp) {
        case (let folder?, nil) where !folder.isEmpty: return (.folder(folder), timeout)
        case (nil, let address?) where !address.isEmpty: return (.tcp(address), timeout)
        default: throw RPCError.invalidParams(field: "store", reason: "give exactly one of file (a folder) or tcp (host:port)")
        }
    }
}

/// The daemon's process group: set by `cluster/join`, dropped by `cluster/leave` or by a failed collective (after
/// which Gloo's connections are unusable; the driver re-forms the group under a new prefix).
final class ClusterSlot: @unchecked Sendable {
    private let group = Locked<ProcessGroup?>(nil)

    var current: ProcessGroup? { group.withLock { $0 } }

    func replace(with new: ProcessGroup?) { group.withLock { $0 = new } }

    /// Drops `used` if it is still the current group.
    func drop(_ used: ProcessGroup) { group.withLock { if $0 === used { $0 = nil } } }
}

extension Daemon {
    func registerCluster(on router: Router) {
        router.register(ClusterJoinRequest.self) { [self] params, _ in
            let (store, timeout) = try params.validated()
            // The old group's connections close first, so its peers see this rank leave.
            cluster.replace(with: nil)
            // Forming blocks until every rank has joined: on the compute thread, like the steps that use it.
            let group = try await scheduler.exclusive("cluster/join") {
                try ProcessGroup(store: store, prefix: params.prefix, rank: params.rank, worldSize: params.world_size,
                                 hostname: params.hostname ?? "127.0.0.1", timeoutSeconds: timeout)
            }
            cluster.replace(with: group)
            return ClusterMembership(group)
        }

        router.register(ClusterLeaveRequest.self) { [self] _, _ in
            cluster.replace(with: nil)
            return ClusterLeaveResult()
        }

        router.register(ClusterTrainStepRequest.self) { [self] params, _ in
            let hyperParameters = try params.hyperParameters.trainingHyperParameters()
            let batches = try storedRollouts(params.rollout_ids)
            guard let group = cluster.current else { throw DaemonError.notInProcessGroup(method: "cluster/train_step") }
            // A rank without rollouts runs no pass: the temperature and budget only shape the loss of tokens it
            // does not have.
            let temperature = batches.first.map { Double($0.settings.sampling.temperature) } ?? 1
            let budget = batches.first?.settings.maxResponseTokens ?? rolloutDefaults().maxResponseTokens
            let (metrics, checksum, traffic) = try await scheduler.exclusive("cluster/train_step") {
                [self] () async throws -> (StepMetrics, UInt64, ProcessGroup.Traffic) in
                let loop = try trainingLoop()
                let before = group.traffic
                do {
                    let metrics = try await training.running(loop) {
                        try loop.update(on: batches.map(\.trajectories), samplingTemperature: temperature,
                                        responseBudget: budget, hyperParameters: hyperParameters,
                                        dataParallel: group)
                    }
                    return (metrics, loop.parameterChecksum ?? 0, group.traffic - before)
                } catch let error as ProcessGroupError {
                    cluster.drop(group)
                    throw error
                } catch let error as DataParallelError {
                    cluster.drop(group)
                    throw error
                }
            }
            return ClusterTrainStepResult(step: metrics.step, metrics: try metrics.snakeCaseFields(),
                                          parameter_checksum: ParameterChecksum.hex(checksum), rank: group.rank,
                                          world_size: group.worldSize, all_reduce_seconds: traffic.seconds,
                                          all_reduce_bytes: traffic.bytes)
        }
    }
}

import Foundation
import JSONRPC
import RL
import SystemSupport
import TorlProtocol

/// `problem_indices` of `rollout` and `evaluate`: each problem's place in the whole run that this request is a share
/// of. Problem j's samples draw random streams problem_indices[j]·G + i, so a request holding part of a run's
/// problems samples exactly what the whole run samples for them (the cluster driver splits work this way).
enum ProblemIndices {
    static func randomStreams(_ indices: [Int]?, problemCount: Int, groupSize: Int) throws -> [UInt64]? {
        guard let indices else { return nil }
        guard indices.count == problemCount else {
            throw RPCError.invalidParams(field: "problem_indices", reason: "has \(indices.count) entries for \(problemCount) problems")
        }
        guard indices.allSatisfy({ $0 >= 0 && $0 <= Int(Int32.max) }) else {
            throw RPCError.invalidParams(field: "problem_indices", reason: "entries must be in 0...\(Int32.max)")
        }
        return indices.map { UInt64($0) &* UInt64(groupSize) }
    }
}

/// Recent rollouts by id, so that `train_step` can learn from trajectories a script inspected first.
/// Bounded: the oldest are forgotten.
final class RolloutStore: @unchecked Sendable {
    struct Entry: Sendable {
        var id: String
        var problems: [Problem]
        /// The settings they were sampled with: training needs their temperature.
        var settings: RolloutSettings
        var trajectories: [Trajectory]
    }
    private let entries = Locked<[Entry]>([])
    private let counter = Locked(0)
    let capacity: Int

    init(capacity: Int = 32) { self.capacity = capacity }

    func add(problems: [Problem], settings: RolloutSettings, trajectories: [Trajectory]) -> String {
        let id = "r\(counter.withLock { $0 += 1; return $0 })"
        entries.withLock {
            $0.append(Entry(id: id, problems: problems, settings: settings, trajectories: trajectories))
            if $0.count > capacity { $0.removeFirst($0.count - capacity) }
        }
        return id
    }

    func entry(_ id: String) -> Entry? {
        entries.withLock { $0.first { $0.id == id } }
    }
}

extension Daemon {
    /// Training-style defaults (the published setup): temperature 1, top-p 1, the plain-text template.
    func rolloutDefaults() -> RolloutSettings {
        var settings = RolloutSettings()
        settings.groupSize = 8
        return settings
    }

    func registerRollout(on router: Router) {
        router.register(RolloutRequest.self) { [self] params, context in
            guard !params.problems.isEmpty else { throw RPCError.invalidParams(field: "problems", reason: "must not be empty") }
            var settings = try params.options.settings(over: rolloutDefaults())
            if let group = params.group_size {
                guard group >= 1 else { throw RPCError.invalidParams(field: "group_size", reason: "must be >= 1") }
                settings.groupSize = group
            }
            let runSettings = settings
            let problems = params.problems.enumerated().map { $1.problem(at: $0) }
            let streams = try ProblemIndices.randomStreams(params.problem_indices, problemCount: problems.count,
                                                           groupSize: settings.groupSize)
            let total = problems.count * settings.groupSize
            let token = params.progress_token
            let trajectories = try await scheduler.exclusive("rollout") { [self] in
                let engine = try makeEngine()
                var finished = 0
                return try await engine.run(problems: problems, settings: runSettings, randomStreams: streams) { event in
                    guard case .finished = event else { return }
                    finished += 1
                    context.progress(ProgressReport(message: "trajectories", done: finished, total: total), token: token)
                }
            }
            let id = rollouts.add(problems: problems, settings: settings, trajectories: trajectories)
            return RolloutResult(rollout_id: id, trajectories: trajectories.map(TrajectoryWire.init),
                                 metrics: RolloutMetrics.summarize(trajectories))
        }
    }
}

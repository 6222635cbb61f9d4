/// Identifies a trajectory of a rollout batch: problem `group`, sample `sample` within it.
public struct TrajectoryKey: Hashable, Sendable, Comparable {
    public var group: Int
    public var sample: Int
    public init(group: Int, sample: Int) {
        self.group = group
        self.sample = sample
    }
    public static func < (lhs: TrajectoryKey, rhs: TrajectoryKey) -> Bool {
        (lhs.group, lhs.sample) < (rhs.group, rhs.sample)
    }
}

/// What a rollout reports while it runs (streaming `solve`, progress bars). Delivered on the rollout's task,
/// in order for each trajectory.
public enum RolloutEvent: Sendable {
    /// New response text; `inserted` for the system's observation text. Joined in order, a trajectory's deltas
    /// give its final text.
    case text(TrajectoryKey, delta: String, inserted: Bool)
    /// Code was sent to the sandbox (call `index`, from 0).
    case toolCall(TrajectoryKey, index: Int, code: String)
    /// A call's result, as inserted.
    case toolResult(TrajectoryKey, index: Int, call: ToolCallRecord)
    case finished(TrajectoryKey, Trajectory)
}

/// How a group's rewards become per-response advantages.
public enum AdvantageEstimator: String, Sendable, Codable {
    /// A_i = (R_i − mean(R)) / (std(R) + 1e-6), std unbiased (N − 1): GRPO as in TORL.
    case groupNormalized
    /// A_i = R_i − mean(R): Dr. GRPO, which drops the std division.
    case drGRPO

    public static let standardDeviationEpsilon = 1e-6

    /// Advantages of each reward within its group (groups given by id, in any order). Single-response and
    /// all-equal groups give 0.
    public func advantages(rewards: [Double], groups: [Int]) -> [Double] {
        var members: [Int: [Int]] = [:]
        for (index, group) in groups.enumerated() { members[group, default: []].append(index) }
        var result = [Double](repeating: 0, count: rewards.count)
        for indices in members.values {
            let n = Double(indices.count)
            let mean = indices.reduce(0) { $0 + rewards[$1] } / n
            let standardDeviation = indices.count > 1
                ? (indices.reduce(0) { $0 + (rewards[$1] - mean) * (rewards[$1] - mean) } / (n - 1)).squareRoot()
                : 0
            // Exactly zero for all-equal groups, whatever the rounding of the mean.
            if indices.allSatisfy({ rewards[$0] == rewards[indices[0]] }) { continue }
            for i in indices {
                let centred = rewards[i] - mean
                switch self {
                case .groupNormalized: result[i] = centred / (standardDeviation + Self.standardDeviationEpsilon)
                case .drGRPO: result[i] = centred
                }
            }
        }
        return result
    }
}

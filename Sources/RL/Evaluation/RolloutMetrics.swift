/// Figures of a batch of trajectories: answers, rewards and code behaviour (the published training curves:
/// share of responses with code, share of code that executes, share of effective code). Shares are over all
/// trajectories unless named otherwise; nil when the denominator is 0.
public enum RolloutMetrics {
    public static func summarize(_ trajectories: [Trajectory]) -> [String: Double?] {
        let count = trajectories.count
        func share(_ numerator: Int, of denominator: Int) -> Double? {
            denominator == 0 ? nil : Double(numerator) / Double(denominator)
        }
        func number(where predicate: (Trajectory) -> Bool) -> Int { trajectories.filter(predicate).count }
        let withCalls = trajectories.filter { !$0.toolCalls.isEmpty }
        let calls = trajectories.flatMap(\.toolCalls)
        var metrics: [String: Double?] = [
            "trajectories": Double(count),
            "correct_share": share(number { $0.grade.isCorrect }, of: count),
            "no_answer_share": share(number { $0.answer == nil }, of: count),
            "reward_mean": count == 0 ? nil : trajectories.map(\.reward).reduce(0, +) / Double(count),
            "code_share": share(number { $0.hasCode }, of: count),
            "tool_call_share": share(withCalls.count, of: count),
            "code_executed_share": share(withCalls.filter(\.codeExecuted).count, of: withCalls.count),
            "code_failed_share": share(withCalls.filter(\.codeFailed).count, of: withCalls.count),
            "effective_code_share": share(number { $0.effectiveCode }, of: count),
            "tool_calls_mean": count == 0 ? nil : Double(calls.count) / Double(count),
            "tool_call_ok_share": share(calls.filter { $0.status == .ok }.count, of: calls.count),
            "tool_call_wall_ms_mean": calls.isEmpty ? nil : calls.map(\.wallMs).reduce(0, +) / Double(calls.count),
            "response_tokens_mean": count == 0 ? nil
                : Double(trajectories.map(\.responseLength).reduce(0, +)) / Double(count),
            "sampled_tokens": Double(trajectories.map { $0.lossMask.reduce(0) { $0 + Int($1) } }.reduce(0, +)),
        ]
        for call in calls {
            let key = "calls_\(call.status.rawValue)"
            metrics[key] = ((metrics[key] ?? 0) ?? 0) + 1
        }
        for trajectory in trajectories {
            let key = "finish_\(trajectory.finishReason)"
            metrics[key] = ((metrics[key] ?? 0) ?? 0) + 1
        }
        return metrics
    }
}

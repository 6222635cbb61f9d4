import Foundation
import MathGrader

/// The responses to one benchmark problem, as written to the user's JSONL file.
public struct EvaluationRecord: Codable, Sendable, Equatable {
    public struct Response: Codable, Sendable, Equatable {
        public var text: String
        public var answer: String?
        public var grade: Grade
        public var reward: Double
        public var toolCalls: [ToolCallRecord]
        public var codeExecuted: Bool
        public var finishReason: String
        public var responseTokens: Int

        enum CodingKeys: String, CodingKey {
            case text, answer, grade, reward
            case toolCalls = "tool_calls"
            case codeExecuted = "code_executed"
            case finishReason = "finish_reason"
            case responseTokens = "response_tokens"
        }
    }

    public var problemID: String
    public var problem: String
    public var reference: String
    public var responses: [Response]
    /// Correct responses among `responses`.
    public var correct: Int
    public var majorityAnswer: String?
    public var majorityCorrect: Bool

    enum CodingKeys: String, CodingKey {
        case problem, reference, responses, correct
        case problemID = "problem_id"
        case majorityAnswer = "majority_answer"
        case majorityCorrect = "majority_correct"
    }
}

/// The figures of a benchmark run; `metrics` is what `torl eval --json` prints.
public struct EvaluationSummary: Sendable {
    public var problems: Int
    public var samples: Int
    /// accuracy (first sample correct: greedy pass@1 when decoding is greedy), avg@k, pass@j for j = 1, 2, 4,
    /// ... and k, maj@k, then the `RolloutMetrics` of every response.
    public var metrics: [String: Double?]
}

/// Runs a benchmark: k samples per problem through the rollout engine, graded per problem as they finish.
public final class Evaluator {
    public let engine: RolloutEngine
    private let majority: MajorityVote

    public init(engine: RolloutEngine) {
        self.engine = engine
        majority = MajorityVote(grader: engine.grader)
    }

    /// `settings.groupSize` is the k of the metrics. `onRecord` receives each problem's record when its last
    /// sample finishes (its first error stops nothing but is rethrown at the end); `onProgress` the number
    /// of finished responses out of the total. `randomStreams` as in `RolloutEngine.run`.
    public func run(problems: [Problem], settings: RolloutSettings, randomStreams: [UInt64]? = nil,
                    onRecord: ((EvaluationRecord) throws -> Void)? = nil,
                    onProgress: ((_ finished: Int, _ total: Int) -> Void)? = nil) async throws -> EvaluationSummary {
        let samples = settings.groupSize
        var pendingGroups: [Int: [Trajectory]] = [:]
        var records: [Int: EvaluationRecord] = [:]
        var finishedCount = 0
        var recordError: Error?
        let total = problems.count * samples
        let trajectories = try await engine.run(problems: problems, settings: settings,
                                                randomStreams: randomStreams) { event in
            guard case .finished(let key, let trajectory) = event else { return }
            finishedCount += 1
            pendingGroups[key.group, default: []].append(trajectory)
            if pendingGroups[key.group]!.count == samples {
                let record = self.record(for: problems[key.group],
                                         pendingGroups.removeValue(forKey: key.group)!.sorted { $0.sample < $1.sample })
                records[key.group] = record
                if recordError == nil {
                    do { try onRecord?(record) } catch { recordError = error }
                }
            }
            onProgress?(finishedCount, total)
        }
        if let recordError { throw recordError }
        return summarize(records: problems.indices.compactMap { records[$0] }, trajectories: trajectories,
                         samples: samples)
    }

    func record(for problem: Problem, _ trajectories: [Trajectory]) -> EvaluationRecord {
        let vote = majority.vote(trajectories.map { ($0.answer, $0.grade.isCorrect) })
        return EvaluationRecord(
            problemID: problem.id, problem: problem.problem, reference: problem.answer,
            responses: trajectories.map {
                EvaluationRecord.Response(text: $0.text, answer: $0.answer, grade: $0.grade, reward: $0.reward,
                                          toolCalls: $0.toolCalls, codeExecuted: $0.codeExecuted,
                                          finishReason: $0.finishReason, responseTokens: $0.responseLength)
            },
            correct: trajectories.filter(\.grade.isCorrect).count, majorityAnswer: vote.answer,
            majorityCorrect: vote.isCorrect)
    }

    func summarize(records: [EvaluationRecord], trajectories: [Trajectory], samples: Int) -> EvaluationSummary {
        var metrics = RolloutMetrics.summarize(trajectories)
        let count = Double(max(records.count, 1))
        func mean(_ values: [Double]) -> Double? { records.isEmpty ? nil : values.reduce(0, +) / count }
        metrics["problems"] = Double(records.count)
        metrics["samples"] = Double(samples)
        metrics["accuracy"] = mean(records.map { $0.responses.first?.grade.isCorrect == true ? 1 : 0 })
        metrics["avg@\(samples)"] = mean(records.map { SampleMetrics.averageAtK(correct: $0.responses.map(\.grade.isCorrect)) ?? 0 })
        for k in Self.passKs(samples: samples) {
            metrics["pass@\(k)"] = mean(records.map {
                SampleMetrics.passAtK(samples: $0.responses.count, correct: $0.correct, k: k) ?? 0
            })
        }
        metrics["maj@\(samples)"] = mean(records.map { $0.majorityCorrect ? 1 : 0 })
        return EvaluationSummary(problems: records.count, samples: samples, metrics: metrics)
    }

    /// 1, 2, 4, ... up to k, and k itself.
    static func passKs(samples: Int) -> [Int] {
        var ks: [Int] = []
        var k = 1
        while k < samples { ks.append(k); k *= 2 }
        ks.append(samples)
        return ks
    }
}

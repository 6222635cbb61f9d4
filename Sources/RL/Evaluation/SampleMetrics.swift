import MathGrader

/// Per-problem estimators over n samples of which c are correct.
public enum SampleMetrics {
    /// Unbiased pass@k (Chen et al., 2021): the probability that at least one of k samples drawn without
    /// replacement from the n is correct, 1 − C(n−c, k) / C(n, k), computed as a product to stay exact in range.
    /// nil when k is not in 1...n.
    public static func passAtK(samples n: Int, correct c: Int, k: Int) -> Double? {
        guard n >= 1, (1...n).contains(k), (0...n).contains(c) else { return nil }
        if c == 0 { return 0 }
        if n - c < k { return 1 }
        // C(n−c, k)/C(n, k) = Π_{i=n−c+1}^{n} (1 − k/i)
        var allWrong = 1.0
        for i in (n - c + 1)...n { allWrong *= 1 - Double(k) / Double(i) }
        return 1 - allWrong
    }

    /// avg@k: the share of the samples that are correct.
    public static func averageAtK(correct: [Bool]) -> Double? {
        guard !correct.isEmpty else { return nil }
        return Double(correct.filter { $0 }.count) / Double(correct.count)
    }
}

/// maj@k: the answer given by most samples wins; it is correct when its samples were graded correct.
public struct MajorityVote: Sendable {
    public let grader: MathGrader

    public init(grader: MathGrader = MathGrader()) { self.grader = grader }

    public struct Outcome: Sendable, Equatable {
        /// The winning answer as its first voter wrote it; nil when no sample had an answer.
        public var answer: String?
        public var votes: Int
        public var isCorrect: Bool
    }

    /// Votes are the extracted answers with their grades, in sample order; samples without an answer do not
    /// vote. Answers join one candidate when the grader finds them equivalent (`1/2` and `0.5`). A tie goes to
    /// the candidate whose first vote came earliest, so the result does not depend on hashing.
    public func vote(_ ballots: [(answer: String?, isCorrect: Bool)]) -> Outcome {
        var candidates: [(answer: String, votes: Int, isCorrect: Bool)] = []
        for ballot in ballots {
            guard let answer = ballot.answer else { continue }
            if let index = candidates.firstIndex(where: {
                $0.answer == answer || grader.compare(answer: answer, reference: $0.answer).isEquivalent
            }) {
                candidates[index].votes += 1
            } else {
                candidates.append((answer, 1, ballot.isCorrect))
            }
        }
        var winner: (answer: String, votes: Int, isCorrect: Bool)?
        for candidate in candidates where candidate.votes > (winner?.votes ?? 0) { winner = candidate }
        guard let winner else { return Outcome(answer: nil, votes: 0, isCorrect: false) }
        return Outcome(answer: winner.answer, votes: winner.votes, isCorrect: winner.isCorrect)
    }
}

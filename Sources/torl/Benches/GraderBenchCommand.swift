import ArgumentParser
import Dispatch
import MathGrader

/// `torl bench grader`: graded pairs per second over the grader's case table, on the calling thread (one core).
struct GraderBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grader",
        abstract: "Grade the grader's case table repeatedly; report pairs per second and the slowest pair.")

    @Option(help: "Passes over the case table.")
    var rounds = 20

    @Option(help: "Also list this many costliest cases, by their fastest time over the rounds (robust to preemption).")
    var costliest = 0

    func run() throws {
        guard rounds > 0 else { throw ValidationError("--rounds must be positive") }
        let grader = MathGrader()
        let cases = GraderCase.all
        var agreeing = 0
        for item in cases where grader.grade(response: item.response, reference: item.reference).verdict == item.expected {
            agreeing += 1
        }
        var slowestNanoseconds: UInt64 = 0
        var slowestIndex = 0
        var fastestPerCase = [UInt64](repeating: .max, count: cases.count)
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<rounds {
            for (index, item) in cases.enumerated() {
                let pairStart = DispatchTime.now().uptimeNanoseconds
                _ = grader.grade(response: item.response, reference: item.reference)
                let elapsed = DispatchTime.now().uptimeNanoseconds - pairStart
                fastestPerCase[index] = min(fastestPerCase[index], elapsed)
                if elapsed > slowestNanoseconds {
                    slowestNanoseconds = elapsed
                    slowestIndex = index
                }
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let pairs = rounds * cases.count
        print("cases: \(cases.count), verdicts matching the table: \(agreeing)/\(cases.count)")
        print("graded \(pairs) pairs in \(format(seconds, 3)) s: \(Int(Double(pairs) / seconds)) pairs/s on one thread")
        print("mean \(format(seconds / Double(pairs) * 1e6, 1)) µs/pair; slowest pair \(format(Double(slowestNanoseconds) / 1e6, 3)) ms "
              + "(case \(slowestIndex), topic \(cases[slowestIndex].topic))")
        let ranked = fastestPerCase.indices.sorted { fastestPerCase[$0] > fastestPerCase[$1] }
        for index in ranked.prefix(max(0, costliest)) {
            let answer = grader.extractAnswer(from: cases[index].response) ?? "(none)"
            print("  case \(index) [\(cases[index].topic)] \(format(Double(fastestPerCase[index]) / 1e6, 3)) ms: "
                  + "\(answer.prefix(50)) vs \(cases[index].reference.prefix(50))")
        }
    }

    private func format(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        return "\(rounded)"
    }
}

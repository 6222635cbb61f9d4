import ArgumentParser
import Dispatch
import MathGrader

/// `torl bench`: throughput figures. The coordinator merges other benches into this group.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput of torl's components.",
        subcommands: [GraderBenchCommand.self])
}

/// `torl bench grader`: graded pairs per second over the grader's case table, on the calling thread (one core).
struct GraderBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grader",
        abstract: "Grade the grader's case table repeatedly; report pairs per second and the slowest pair.")

    @Option(help: "Passes over the case table.")
    var rounds = 20

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
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<rounds {
            for (index, item) in cases.enumerated() {
                let pairStart = DispatchTime.now().uptimeNanoseconds
                _ = grader.grade(response: item.response, reference: item.reference)
                let elapsed = DispatchTime.now().uptimeNanoseconds - pairStart
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
    }

    private func format(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        return "\(rounded)"
    }
}

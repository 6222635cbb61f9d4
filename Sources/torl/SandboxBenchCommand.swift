import ArgumentParser
import Foundation
import Sandbox

/// `torl bench` group as far as the sandbox is concerned; other benchmarks join it as subcommands.
struct SandboxBenchGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure parts of torl and print JSON.",
        subcommands: [SandboxBenchCommand.self])
}

/// `torl bench sandbox`: latency of trivial and sympy runs and saturated throughput of the pool.
struct SandboxBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Latency (p50, p99) of trivial and sympy runs, and runs/s with the pool saturated, as JSON.")

    @Option(help: "Sequential runs measured for each latency figure.")
    var runs: Int = 200

    @Option(help: "Runs submitted at once for the throughput figure.")
    var saturatedRuns: Int = 600

    @Option(help: "Workers in the pool (default: the number of cores, at least 2).")
    var poolSize: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)

    static let trivialCode = "print(1+1)"
    static let sympyCode = "import sympy\nx = sympy.Symbol('x')\nprint(sympy.factor(x**4 - 1))"

    func validate() throws {
        guard runs >= 10 else { throw ValidationError("--runs must be at least 10") }
        guard saturatedRuns >= poolSize else { throw ValidationError("--saturated-runs must be at least the pool size") }
    }

    func run() throws {
        let configuration = SandboxConfiguration(poolSize: poolSize, queueCapacity: saturatedRuns)
        let pool = try SandboxPool(configuration: configuration)
        let (runs, saturatedRuns) = (runs, saturatedRuns)
        let report = try ExecCommand.wait { () async -> Result<BenchReport, Error> in
            do {
                let startedAt = Date()
                try await pool.waitUntilReady()
                let startup = Date().timeIntervalSince(startedAt)
                _ = try await Self.latencies(pool, code: Self.trivialCode, runs: 20)
                let trivial = try await Self.latencies(pool, code: Self.trivialCode, runs: runs)
                let sympy = try await Self.latencies(pool, code: Self.sympyCode, runs: runs)
                let saturated = try await Self.throughput(pool, runs: saturatedRuns)
                let status = await pool.status()
                await pool.shutdown()
                return .success(BenchReport(machine: .current(), poolSize: status.poolSize,
                                            isolation: status.isolation?.mode ?? "unknown",
                                            startupSeconds: startup, trivial: trivial, sympy: sympy,
                                            saturated: saturated))
            } catch {
                await pool.shutdown()
                return .failure(error)
            }
        }.get()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(report))
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    /// Latency seen by the caller of `execute` (queueing, pipes, fork, run, reap), one run at a time.
    static func latencies(_ pool: SandboxPool, code: String, runs: Int) async throws -> LatencyFigures {
        var samples = [Double]()
        samples.reserveCapacity(runs)
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            let result = await pool.execute(code)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            guard result.status == .ok else { throw BenchFailure(result: result) }
        }
        return LatencyFigures(samples: samples)
    }

    static func throughput(_ pool: SandboxPool, runs: Int) async throws -> ThroughputFigures {
        let start = DispatchTime.now().uptimeNanoseconds
        let results = await withTaskGroup(of: ExecutionResult.self) { group in
            for _ in 0..<runs { group.addTask { await pool.execute(trivialCode) } }
            return await group.reduce(into: [ExecutionResult]()) { $0.append($1) }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if let failed = results.first(where: { $0.status != .ok }) { throw BenchFailure(result: failed) }
        return ThroughputFigures(runs: runs, seconds: seconds, runsPerSecond: Double(runs) / seconds)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let result: ExecutionResult
    var description: String {
        "a benchmark run failed with status \(result.status.rawValue): \(result.message ?? result.stderr)"
    }
}

struct LatencyFigures: Encodable {
    let runs: Int
    let p50Ms: Double
    let p99Ms: Double
    let meanMs: Double
    let minMs: Double

    init(samples: [Double]) {
        let sorted = samples.sorted()
        runs = sorted.count
        p50Ms = Self.percentile(sorted, 0.50)
        p99Ms = Self.percentile(sorted, 0.99)
        meanMs = sorted.reduce(0, +) / Double(sorted.count)
        minMs = sorted.first ?? 0
    }

    /// Nearest-rank percentile of sorted samples.
    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }

    enum CodingKeys: String, CodingKey {
        case runs
        case p50Ms = "p50_ms"
        case p99Ms = "p99_ms"
        case meanMs = "mean_ms"
        case minMs = "min_ms"
    }
}

struct ThroughputFigures: Encodable {
    let runs: Int
    let seconds: Double
    let runsPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case runs, seconds
        case runsPerSecond = "runs_per_second"
    }
}

struct BenchMachine: Encodable {
    let cores: Int
    let cpuModel: String
    let loadAverage1m: Double?

    static func current() -> BenchMachine {
        let cpuInfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuInfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
            .split(separator: " ").first.flatMap { Double($0) }
        return BenchMachine(cores: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model, loadAverage1m: load)
    }

    enum CodingKeys: String, CodingKey {
        case cores
        case cpuModel = "cpu_model"
        case loadAverage1m = "load_average_1m"
    }
}

struct BenchReport: Encodable {
    let machine: BenchMachine
    let poolSize: Int
    let isolation: String
    let startupSeconds: Double
    let trivial: LatencyFigures
    let sympy: LatencyFigures
    let saturated: ThroughputFigures

    enum CodingKeys: String, CodingKey {
        case machine, isolation, trivial, sympy, saturated
        case poolSize = "pool_size"
        case startupSeconds = "startup_seconds"
    }
}

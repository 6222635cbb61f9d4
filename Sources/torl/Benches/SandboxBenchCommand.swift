import ArgumentParser
import Foundation
import Sandbox

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
        let report = try blockingAwait { () async -> Result<BenchReport, Error> in
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

    /// Runs/s with every worker busy, and the CPU time the whole pipeline spends per run (daemon, fork-servers
    /// and runs), which gives the throughput this machine would reach if no other process competed.
    static func throughput(_ pool: SandboxPool, runs: Int) async throws -> ThroughputFigures {
        let workers = await pool.status().workerPIDs
        let cpuBefore = pipelineCPUSeconds(workers: workers)
        let start = DispatchTime.now().uptimeNanoseconds
        let results = await withTaskGroup(of: ExecutionResult.self) { group in
            for _ in 0..<runs { group.addTask { await pool.execute(trivialCode) } }
            return await group.reduce(into: [ExecutionResult]()) { $0.append($1) }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpuAfter = pipelineCPUSeconds(workers: workers)
        let cpuPerRun = (cpuAfter.total - cpuBefore.total) / Double(runs)
        let daemonCPUPerRun = (cpuAfter.daemon - cpuBefore.daemon) / Double(runs)
        if let failed = results.first(where: { $0.status != .ok }) { throw BenchFailure(result: failed) }
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        return ThroughputFigures(runs: runs, seconds: seconds, runsPerSecond: Double(runs) / seconds,
                                 cpuMsPerRun: cpuPerRun * 1000, daemonCPUMsPerRun: daemonCPUPerRun * 1000,
                                 cpuBoundRunsPerSecond: cores / cpuPerRun)
    }

    /// CPU seconds of this process plus each fork-server and the runs it has reaped (/proc/PID/stat fields
    /// utime, stime, cutime, cstime).
    static func pipelineCPUSeconds(workers: [Int32]) -> (total: Double, daemon: Double) {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        let daemon = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        var seconds = daemon
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        for pid in workers {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let afterName = stat.range(of: ") ", options: .backwards) else { continue }
            // Fields after the command name start at field 3 (state); utime is field 14.
            let fields = stat[afterName.upperBound...].split(separator: " ")
            guard fields.count > 14 else { continue }
            seconds += (11...14).compactMap { Double(fields[$0]) }.reduce(0, +) / ticksPerSecond
        }
        return (seconds, daemon)
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
        p50Ms = BenchFigures.percentile(sorted, 0.50)
        p99Ms = BenchFigures.percentile(sorted, 0.99)
        meanMs = sorted.reduce(0, +) / Double(sorted.count)
        minMs = sorted.first ?? 0
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
    let cpuMsPerRun: Double
    let daemonCPUMsPerRun: Double
    let cpuBoundRunsPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case runs, seconds
        case runsPerSecond = "runs_per_second"
        case cpuMsPerRun = "cpu_ms_per_run"
        case daemonCPUMsPerRun = "daemon_cpu_ms_per_run"
        case cpuBoundRunsPerSecond = "cpu_bound_runs_per_second"
    }
}

struct BenchMachine: Encodable {
    let cores: Int
    let cpuModel: String
    let loadAverage1m: Double?

    static func current() -> BenchMachine {
        let model = BenchFigures.cpuModel()
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

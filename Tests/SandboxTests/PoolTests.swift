import Foundation
import XCTest
@testable import Sandbox

final class PoolTests: XCTestCase {
    func testTrivialAndSympyRunsAndTheirCounters() async throws {
        let pool = try await sharedPool()
        let before = await pool.status()
        let trivial = await pool.execute("print(1+1)")
        XCTAssertEqual(trivial.status, .ok)
        XCTAssertEqual(trivial.stdout, "2\n")
        XCTAssertEqual(trivial.exitCode, 0)
        XCTAssertNil(trivial.signal)
        let sympy = await pool.execute("import sympy\nx = sympy.Symbol('x')\nprint(sympy.factor(x**4 - 1))")
        XCTAssertEqual(sympy.stdout, "(x - 1)*(x + 1)*(x**2 + 1)\n")
        let failing = await pool.execute("print('partial')\nprint(a)")
        XCTAssertEqual(failing.status, .error)
        XCTAssertEqual(failing.exitCode, 1)
        XCTAssertEqual(failing.stdout, "partial\n")
        XCTAssertEqual(lastLine(of: failing.stderr), "NameError: name 'a' is not defined")
        let after = await pool.status()
        XCTAssertEqual(after.statusCounts["ok"], (before.statusCounts["ok"] ?? 0) + 2)
        XCTAssertEqual(after.statusCounts["error"], (before.statusCounts["error"] ?? 0) + 1)
        XCTAssertEqual(after.runsTotal, before.runsTotal + 3)
        XCTAssertEqual(Set(after.statusCounts.keys), Set(ExecutionStatus.allCases.map(\.rawValue)))
    }

    func testIsolationIsDetectedAndReported() async throws {
        let pool = try await sharedPool()
        let status = await pool.status()
        let isolation = try XCTUnwrap(status.isolation)
        // This machine (and CI, built alike) allows namespaces; the report must say so, and a run must see it.
        XCTAssertNotEqual(isolation.namespaces, "none", "no namespace isolation: \(isolation.errors)")
        XCTAssertTrue(isolation.pidNamespace, "\(isolation.errors)")
        XCTAssertTrue(isolation.network)
        // /proc shows only the run itself: its own PID namespace's proc (pid 1), or the host's with hidepid.
        let result = await pool.execute("import os\nprint(os.getpid(), len([p for p in os.listdir('/proc') if p.isdigit()]))")
        XCTAssertEqual(result.stdout, "1 1\n", "the run is not alone in its PID namespace and its /proc")
        XCTAssertEqual(isolation.mode, "\(isolation.namespaces)-namespaces+pid")
    }

    func testConcurrentRunsFourTimesThePoolSizeNeverMixOutputs() async throws {
        let pool = try await sharedPool()
        let count = 4 * (await pool.status().poolSize)
        let results = await withTaskGroup(of: (Int, ExecutionResult).self) { group in
            for index in 0..<count {
                group.addTask {
                    let code = """
                    import time, sys
                    for line in range(50):
                        print('run-\(index)-line', line)
                        print('err-\(index)', line, file=sys.stderr)
                    time.sleep(0.01 * (\(index) % 3))
                    print('run-\(index)-end')
                    """
                    return (index, await pool.execute(code))
                }
            }
            return await group.reduce(into: [Int: ExecutionResult]()) { $0[$1.0] = $1.1 }
        }
        XCTAssertEqual(results.count, count)
        for (index, result) in results {
            XCTAssertEqual(result.status, .ok, "\(index): \(result)")
            let expectedOut = (0..<50).map { "run-\(index)-line \($0)\n" }.joined() + "run-\(index)-end\n"
            let expectedErr = (0..<50).map { "err-\(index) \($0)\n" }.joined()
            XCTAssertEqual(result.stdout, expectedOut)
            XCTAssertEqual(result.stderr, expectedErr)
        }
    }

    func testUnicodeOutputRoundTrips() async throws {
        let pool = try await sharedPool()
        let result = await pool.execute("print('π ≈ 3.14159, ∑ 日本語 🎲')\nimport sys\nprint('é', file=sys.stderr)")
        XCTAssertEqual(result.stdout, "π ≈ 3.14159, ∑ 日本語 🎲\n")
        XCTAssertEqual(result.stderr, "é\n")
    }

    func testABurstBeyondPoolAndQueueIsRefusedAsBusyAndNothingIsLost() async throws {
        let pool = try SandboxPool(configuration: SharedTestPool.configuration(poolSize: 1, queueCapacity: 2))
        try await pool.waitUntilReady()
        let results = await withTaskGroup(of: ExecutionResult.self) { group in
            for index in 0..<6 {
                group.addTask { await pool.execute("import time\ntime.sleep(0.2)\nprint(\(index))") }
                // Submission order matters for which runs get a place: give each its turn on the loop.
                try? await Task.sleep(nanoseconds: 5_000_000)
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let served = results.filter { $0.status == .ok }
        let busy = results.filter { $0.status == .busy }
        XCTAssertEqual(served.count, 3, "one running plus two queued: \(results.map(\.status))")
        XCTAssertEqual(busy.count, 3)
        XCTAssertEqual(Set(served.map(\.stdout)), ["0\n", "1\n", "2\n"])
        XCTAssertTrue(busy.allSatisfy { $0.message?.contains("queue capacity 2") == true })
        XCTAssertGreaterThan(served.map(\.queueMs).max() ?? 0, 300, "the last queued run waited for two others")
        let status = await pool.status()
        XCTAssertEqual(status.statusCounts["busy"], 3)
        XCTAssertEqual(status.queueDepth, 0)
        await pool.shutdown()
    }

    func testAWorkerKilledFromOutsideIsReplacedAndItsRunReported() async throws {
        let pool = try SandboxPool(configuration: SharedTestPool.configuration(poolSize: 1))
        try await pool.waitUntilReady()
        let before = await pool.status()
        let victim = try XCTUnwrap(before.workerPIDs.first)
        async let inFlight = pool.execute("import time\nprint('working', flush=True)\ntime.sleep(30)")
        try await Task.sleep(nanoseconds: 300_000_000)
        XCTAssertEqual(kill(victim, SIGKILL), 0)
        let lost = await inFlight
        XCTAssertEqual(lost.status, .sandboxError)
        XCTAssertEqual(lost.message, "the fork-server was killed by signal 9")
        try await pool.waitUntilReady()
        let after = await pool.status()
        XCTAssertEqual(after.workersReplaced, before.workersReplaced + 1)
        XCTAssertEqual(after.workersAlive, 1)
        XCTAssertNotEqual(after.workerPIDs, [victim])
        XCTAssertEqual(after.statusCounts["sandbox_error"], 1)
        let normal = await pool.execute("print('still here')")
        XCTAssertEqual(normal.stdout, "still here\n")
        // The killed server's run dies with it (parent-death signal) but is reparented to the host's init,
        // which reaps it on its own schedule: allow it a moment to disappear, zombie included.
        var survivors = survivingProcesses(isolation: after.isolation, poolSize: 1, marker: "time.sleep(30)")
        for _ in 0..<40 where !survivors.isEmpty {
            try await Task.sleep(nanoseconds: 25_000_000)
            survivors = survivingProcesses(isolation: after.isolation, poolSize: 1, marker: "time.sleep(30)")
        }
        XCTAssertEqual(survivors, [])
        await pool.shutdown()
    }

    func testShutdownLeavesNoProcessBehind() async throws {
        let pool = try SandboxPool(configuration: SharedTestPool.configuration(poolSize: 2))
        try await pool.waitUntilReady()
        let workers = await pool.status().workerPIDs
        XCTAssertEqual(workers.count, 2)
        async let running = pool.execute("import time\ntime.sleep(30)")
        try await Task.sleep(nanoseconds: 200_000_000)
        async let first: Void = pool.shutdown()
        async let second: Void = pool.shutdown()
        _ = await (first, second)
        let interrupted = await running
        XCTAssertEqual(interrupted.status, .sandboxError)
        for pid in workers {
            XCTAssertEqual(kill(pid, 0), -1, "worker \(pid) outlived shutdown")
        }
        let afterwards = await pool.execute("print(1)")
        XCTAssertEqual(afterwards.status, .sandboxError)
        XCTAssertEqual(afterwards.message, SandboxError.shutDown.description)
    }

    func testAMissingInterpreterIsAClearFailureNotAHang() async throws {
        var configuration = SharedTestPool.configuration(poolSize: 1)
        configuration.pythonPath = "/nonexistent/python3"
        let pool = try SandboxPool(configuration: configuration)
        do {
            try await pool.waitUntilReady()
            XCTFail("a pool without an interpreter reported ready")
        } catch let error as SandboxError {
            guard case .workersUnavailable(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("/nonexistent/python3"), message)
            XCTAssertTrue(message.contains("ENOENT"), message)
        }
        let result = await pool.execute("print(1)")
        XCTAssertEqual(result.status, .sandboxError)
        XCTAssertTrue(result.message?.contains("/nonexistent/python3") == true)
        await pool.shutdown()
    }

    func testInvalidConfigurationAndLimitsAreTypedErrors() async throws {
        XCTAssertThrowsError(try SandboxPool(configuration: SandboxConfiguration(poolSize: 0))) { error in
            XCTAssertEqual(error as? SandboxError, .invalidConfiguration("pool size must be in 1...256, got 0"))
        }
        let pool = try await sharedPool()
        var limits = SharedTestPool.limits
        limits.wallTimeoutSeconds = -1
        let result = await pool.execute("print(1)", limits: limits)
        XCTAssertEqual(result.status, .rejected)
        XCTAssertEqual(result.message, "invalid limits: wall_timeout_seconds must be in (0, 3600], got -1.0")
    }

    func testCPUTimeLimitEndsABusyLoopAsTimeout() async throws {
        let pool = try await sharedPool()
        var limits = SharedTestPool.limits
        limits.cpuSeconds = 1
        // Generous wall time: on a loaded machine the loop may need many wall seconds to burn one CPU second.
        limits.wallTimeoutSeconds = 120
        let result = await pool.execute("while True: pass", limits: limits)
        XCTAssertEqual(result.status, .timeout, "\(result)")
        XCTAssertEqual(result.message, "CPU time limit of 1.0 s exceeded")
        XCTAssertGreaterThanOrEqual(result.cpuMs ?? 0, 500)
        XCTAssertLessThan(result.cpuMs ?? .infinity, 1500)
        XCTAssertLessThan(result.wallMs, 120_000, "the wall-clock limit, not the CPU limit, ended the run")
    }
}

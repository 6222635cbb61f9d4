import Foundation
import XCTest
@testable import Sandbox

/// One pool shared by the tests that run code (starting workers costs about a second each).
actor SharedTestPool {
    static let holder = SharedTestPool()
    private var pool: SandboxPool?

    static let limits = ExecutionLimits(wallTimeoutSeconds: 1.5, cpuSeconds: 5, memoryBytes: 256 << 20,
                                        maxProcesses: 32, maxFileBytes: 8 << 20, maxOutputBytes: 1 << 20,
                                        maxSourceBytes: 1 << 20)

    static func configuration(poolSize: Int = 2, queueCapacity: Int = 64) -> SandboxConfiguration {
        SandboxConfiguration(poolSize: poolSize, queueCapacity: queueCapacity, defaultLimits: limits,
                             killGraceSeconds: 0.2, startupTimeoutSeconds: 60, hangTimeoutSeconds: 5)
    }

    /// A secret the tests put in the daemon's environment, which no run may see.
    static let secretName = "TORL_SANDBOX_TEST_SECRET"
    static let secretValue = "hunter2-\(getpid())"

    func get() async throws -> SandboxPool {
        if let pool { return pool }
        setenv(Self.secretName, Self.secretValue, 1)
        let created = try SandboxPool(configuration: Self.configuration())
        try await created.waitUntilReady()
        pool = created
        return created
    }
}

/// Processes of a run that are still alive, found by the run uid (root mode) and by a marker in the
/// command line; both must be empty once a run has returned.
func survivingProcesses(isolation: IsolationReport?, poolSize: Int, marker: String? = nil) -> [String] {
    var found = [String]()
    let runUIDs: Set<Int> = isolation?.runUID.map { base in Set(base..<(base + poolSize)) } ?? []
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for entry in entries where entry.allSatisfy(\.isNumber) {
        if !runUIDs.isEmpty, let status = try? String(contentsOfFile: "/proc/\(entry)/status", encoding: .utf8),
           let uidLine = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }),
           let realUID = uidLine.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap({ Int($0) }),
           runUIDs.contains(realUID) {
            found.append("pid \(entry) with run uid \(realUID)")
        }
        if let marker, let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
           String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\0", with: " ").contains(marker) {
            found.append("pid \(entry) with marker \(marker)")
        }
    }
    return found
}

extension XCTestCase {
    func sharedPool() async throws -> SandboxPool {
        try await SharedTestPool.holder.get()
    }

    /// Runs hostile code, then checks that nothing of it survives and that the pool still serves.
    func runHostile(_ code: String, limits: ExecutionLimits? = nil, marker: String? = nil,
                    file: StaticString = #filePath, line: UInt = #line) async throws -> ExecutionResult {
        let pool = try await sharedPool()
        let result = await pool.execute(code, limits: limits)
        try await assertNothingSurvives(pool, marker: marker, file: file, line: line)
        let normal = await pool.execute("print(6 * 7)")
        XCTAssertEqual(normal.status, .ok, "pool did not serve a normal run afterwards: \(normal)", file: file, line: line)
        XCTAssertEqual(normal.stdout, "42\n", file: file, line: line)
        return result
    }

    func assertNothingSurvives(_ pool: SandboxPool, marker: String? = nil,
                               file: StaticString = #filePath, line: UInt = #line) async throws {
        let status = await pool.status()
        guard let isolation = status.isolation else {
            return XCTFail("the pool reports no isolation", file: file, line: line)
        }
        XCTAssertTrue(isolation.runUID != nil || marker != nil,
                      "no way to find a run's processes: runs keep the daemon's uid and no marker was given",
                      file: file, line: line)
        // The server reaps the run (and with it its whole PID namespace) before it replies, so nothing may
        // be left at this point: no waiting, no retry.
        let survivors = survivingProcesses(isolation: isolation, poolSize: status.poolSize, marker: marker)
        XCTAssertEqual(survivors, [], "processes of the run outlived it", file: file, line: line)
    }
}

import Foundation

/// How a `SandboxPool` is built. Defaults suit the daemon; tests shrink the pool and the limits.
public struct SandboxConfiguration: Sendable {
    /// The interpreter the workers run: TORL_PYTHON when set, else `python3` found on PATH.
    public var pythonPath: String
    /// Number of warm fork-servers, each serving one run at a time.
    public var poolSize: Int
    /// Runs that may wait for a worker; one more gets status `busy`.
    public var queueCapacity: Int
    /// Limits of a run that passes none.
    public var defaultLimits: ExecutionLimits
    /// Ask for namespaces (network, mounts, PID). When false, or when the kernel refuses, only rlimits apply.
    public var isolate: Bool
    /// A uid range of this process's own (from its pid), so that pools of different processes on one machine
    /// (two daemons, a daemon and a test run) never share run uids: the process limit and the final sweep
    /// count uids, and a shared uid would make one pool wait for, or count, another pool's runs.
    public static func defaultRunUIDBase() -> UInt32 {
        200_000 + UInt32(getpid() % 100_000) * 256
    }

    /// When the daemon runs as root, runs drop to uid `runUIDBase + worker index` (one uid per worker so
    /// the process limit and the final sweep count only that worker's run).
    public var runUIDBase: UInt32
    /// Size of each worker's private /tmp, /var/tmp and /dev/shm.
    public var privateTmpBytes: Int
    /// Time between SIGTERM and SIGKILL when a run is stopped.
    public var killGraceSeconds: Double
    /// Time a worker may take to import numpy and sympy and report ready.
    public var startupTimeoutSeconds: Double
    /// Time a worker may take to confirm the end of a run after SIGKILL before it is declared hung.
    public var hangTimeoutSeconds: Double

    public init(pythonPath: String = SandboxConfiguration.defaultPythonPath(),
                poolSize: Int = max(2, ProcessInfo.processInfo.activeProcessorCount),
                queueCapacity: Int = 256, defaultLimits: ExecutionLimits = ExecutionLimits(),
                isolate: Bool = true, runUIDBase: UInt32 = SandboxConfiguration.defaultRunUIDBase(),
                privateTmpBytes: Int = 256 << 20,
                killGraceSeconds: Double = 0.2, startupTimeoutSeconds: Double = 60,
                hangTimeoutSeconds: Double = 5) {
        self.pythonPath = Self.absoluteIfRelative(pythonPath)
        self.poolSize = poolSize
        self.queueCapacity = queueCapacity
        self.defaultLimits = defaultLimits
        self.isolate = isolate
        self.runUIDBase = runUIDBase
        self.privateTmpBytes = privateTmpBytes
        self.killGraceSeconds = killGraceSeconds
        self.startupTimeoutSeconds = startupTimeoutSeconds
        self.hangTimeoutSeconds = hangTimeoutSeconds
    }

    /// TORL_PYTHON if set and not empty, else the first executable `python3` on PATH, else "python3".
    public static func defaultPythonPath(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String {
        if let configured = environment["TORL_PYTHON"], !configured.isEmpty { return configured }
        for directory in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return "python3"
    }

    /// A relative path with a slash (`.venv/bin/python`) means the current directory's, but the workers start in
    /// their own directory: anchor it now. A bare name (`python3`) stays a PATH lookup.
    static func absoluteIfRelative(_ path: String) -> String {
        guard path.contains("/"), !path.hasPrefix("/") else { return path }
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }

    func validate() throws {
        if poolSize < 1 || poolSize > 256 {
            throw SandboxError.invalidConfiguration("pool size must be in 1...256, got \(poolSize)")
        }
        if queueCapacity < 0 {
            throw SandboxError.invalidConfiguration("queue capacity must not be negative, got \(queueCapacity)")
        }
        if let problem = defaultLimits.problem() {
            throw SandboxError.invalidConfiguration("default limits: \(problem)")
        }
        if pythonPath.isEmpty { throw SandboxError.invalidConfiguration("python path is empty") }
        if !(killGraceSeconds >= 0) || !(startupTimeoutSeconds > 0) || !(hangTimeoutSeconds > 0) {
            throw SandboxError.invalidConfiguration("kill grace, start-up and hang timeouts must be positive")
        }
        if privateTmpBytes < 1 << 20 {
            throw SandboxError.invalidConfiguration("private tmp size must be at least 1 MiB, got \(privateTmpBytes)")
        }
    }
}

public enum SandboxError: Error, Equatable, CustomStringConvertible {
    case invalidConfiguration(String)
    /// No worker could start; the message names the interpreter and the failure.
    case workersUnavailable(String)
    case shutDown

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): return "invalid sandbox configuration: \(message)"
        case .workersUnavailable(let message): return "sandbox workers unavailable: \(message)"
        case .shutDown: return "the sandbox pool is shut down"
        }
    }
}

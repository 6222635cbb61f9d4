/// How a run ended. Every value is counted in `SandboxMetrics`.
public enum ExecutionStatus: String, Codable, CaseIterable, Sendable {
    /// Exited with status 0.
    case ok
    /// Exited with a non-zero status (an uncaught exception, `sys.exit(n)`).
    case error
    /// Killed at the wall-clock limit, or by the CPU-time limit.
    case timeout
    /// Raised MemoryError under the memory limit.
    case memory
    /// Wrote more than `max_output_bytes`; killed, output truncated.
    case outputLimit = "output_limit"
    /// Died from a signal the pool did not send for a limit (segfault, abort, an external kill).
    case killed
    /// The sandbox itself failed (a worker died or hung, Python could not start); never the code's fault.
    case sandboxError = "sandbox_error"
    /// The pool and its queue were full; the run was not started.
    case busy
    /// The request was refused before running (source too large, invalid limits).
    case rejected
}

/// What one run produced. Encoded with snake_case keys; the daemon returns it as is.
public struct ExecutionResult: Codable, Equatable, Sendable {
    public var status: ExecutionStatus
    public var exitCode: Int?
    public var signal: Int?
    /// Decoded as UTF-8; invalid bytes become U+FFFD.
    public var stdout: String
    public var stderr: String
    /// From dispatch to a worker until the worker confirmed the end of the run (excludes queueing).
    public var wallMs: Double
    /// User plus system CPU time of the run's main process and the children it waited for.
    public var cpuMs: Double?
    /// Time spent waiting for a free worker.
    public var queueMs: Double
    /// True when stdout or stderr was cut at `max_output_bytes`.
    public var truncated: Bool
    /// Why a run was killed, refused or failed, in words; nil for ordinary exits.
    public var message: String?

    public init(status: ExecutionStatus, exitCode: Int? = nil, signal: Int? = nil, stdout: String = "",
                stderr: String = "", wallMs: Double = 0, cpuMs: Double? = nil, queueMs: Double = 0,
                truncated: Bool = false, message: String? = nil) {
        self.status = status
        self.exitCode = exitCode
        self.signal = signal
        self.stdout = stdout
        self.stderr = stderr
        self.wallMs = wallMs
        self.cpuMs = cpuMs
        self.queueMs = queueMs
        self.truncated = truncated
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case status, signal, stdout, stderr, truncated, message
        case exitCode = "exit_code"
        case wallMs = "wall_ms"
        case cpuMs = "cpu_ms"
        case queueMs = "queue_ms"
    }

    /// Encodes absent values as JSON null so that every key is always present on the wire.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(exitCode, forKey: .exitCode)
        try container.encode(signal, forKey: .signal)
        try container.encode(stdout, forKey: .stdout)
        try container.encode(stderr, forKey: .stderr)
        try container.encode(wallMs, forKey: .wallMs)
        try container.encode(cpuMs, forKey: .cpuMs)
        try container.encode(queueMs, forKey: .queueMs)
        try container.encode(truncated, forKey: .truncated)
        try container.encode(message, forKey: .message)
    }
}

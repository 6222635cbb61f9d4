/// Per-run resource limits. Every field has a default a caller may override; `SandboxPool` applies its
/// configured defaults when a run passes no limits.
public struct ExecutionLimits: Codable, Equatable, Sendable {
    /// Wall-clock time, enforced from outside the run by the pool (SIGTERM to the group, grace, SIGKILL).
    public var wallTimeoutSeconds: Double
    /// CPU time (RLIMIT_CPU, in whole seconds, rounded up): SIGXCPU, then SIGKILL one second later.
    public var cpuSeconds: Double
    /// Memory the run may allocate beyond what the warm interpreter already maps (RLIMIT_AS).
    public var memoryBytes: Int
    /// Processes the run may have at once (RLIMIT_NPROC, counted per run uid or per user namespace).
    public var maxProcesses: Int
    /// Largest file the run may write (RLIMIT_FSIZE).
    public var maxFileBytes: Int
    /// Bytes of stdout plus stderr kept; past this the run is killed with status `output_limit`.
    public var maxOutputBytes: Int
    /// Largest accepted source, in UTF-8 bytes; larger sources are refused with status `rejected`.
    public var maxSourceBytes: Int

    public init(wallTimeoutSeconds: Double = 10, cpuSeconds: Double = 10, memoryBytes: Int = 1 << 30,
                maxProcesses: Int = 64, maxFileBytes: Int = 64 << 20, maxOutputBytes: Int = 1 << 20,
                maxSourceBytes: Int = 1 << 20) {
        self.wallTimeoutSeconds = wallTimeoutSeconds
        self.cpuSeconds = cpuSeconds
        self.memoryBytes = memoryBytes
        self.maxProcesses = maxProcesses
        self.maxFileBytes = maxFileBytes
        self.maxOutputBytes = maxOutputBytes
        self.maxSourceBytes = maxSourceBytes
    }

    /// The wire names; public so that callers can tell a client which fields exist.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case wallTimeoutSeconds = "wall_timeout_seconds"
        case cpuSeconds = "cpu_seconds"
        case memoryBytes = "memory_bytes"
        case maxProcesses = "max_processes"
        case maxFileBytes = "max_file_bytes"
        case maxOutputBytes = "max_output_bytes"
        case maxSourceBytes = "max_source_bytes"
    }

    /// Missing keys take their defaults, so a client may send only the limits it wants to change.
    public init(from decoder: Decoder) throws {
        let defaults = ExecutionLimits()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        wallTimeoutSeconds = try container.decodeIfPresent(Double.self, forKey: .wallTimeoutSeconds)
            ?? defaults.wallTimeoutSeconds
        cpuSeconds = try container.decodeIfPresent(Double.self, forKey: .cpuSeconds) ?? defaults.cpuSeconds
        memoryBytes = try container.decodeIfPresent(Int.self, forKey: .memoryBytes) ?? defaults.memoryBytes
        maxProcesses = try container.decodeIfPresent(Int.self, forKey: .maxProcesses) ?? defaults.maxProcesses
        maxFileBytes = try container.decodeIfPresent(Int.self, forKey: .maxFileBytes) ?? defaults.maxFileBytes
        maxOutputBytes = try container.decodeIfPresent(Int.self, forKey: .maxOutputBytes) ?? defaults.maxOutputBytes
        maxSourceBytes = try container.decodeIfPresent(Int.self, forKey: .maxSourceBytes) ?? defaults.maxSourceBytes
    }

    /// The first limit that cannot be applied, named, or nil when all are usable.
    public func problem() -> String? {
        if !(wallTimeoutSeconds > 0 && wallTimeoutSeconds <= 3600) {
            return "wall_timeout_seconds must be in (0, 3600], got \(wallTimeoutSeconds)"
        }
        if !(cpuSeconds > 0 && cpuSeconds <= 3600) { return "cpu_seconds must be in (0, 3600], got \(cpuSeconds)" }
        if memoryBytes < 16 << 20 { return "memory_bytes must be at least 16 MiB, got \(memoryBytes)" }
        if maxProcesses < 1 { return "max_processes must be at least 1, got \(maxProcesses)" }
        if maxFileBytes < 0 { return "max_file_bytes must not be negative, got \(maxFileBytes)" }
        if maxOutputBytes < 1 { return "max_output_bytes must be at least 1, got \(maxOutputBytes)" }
        if maxSourceBytes < 1 { return "max_source_bytes must be at least 1, got \(maxSourceBytes)" }
        return nil
    }
}

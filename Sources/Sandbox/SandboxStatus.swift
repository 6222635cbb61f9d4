/// What the kernel let the workers set up, as the fork-server reported it at start-up.
public struct IsolationReport: Codable, Equatable, Sendable {
    /// "root" (namespaces entered as root), "user" (an unprivileged user namespace) or "none".
    public var namespaces: String
    /// True when the worker's network namespace holds only a loopback device that is down.
    public var network: Bool
    /// Directories replaced by a private, size-limited tmpfs wiped after every run.
    public var privateTmp: [String]
    /// True when each run is pid 1 of its own PID namespace (nothing it starts can outlive it).
    public var pidNamespace: Bool
    /// "setns" (one fork per run, as root) or "supervisor" (a supervisor forks the run; user namespaces).
    public var pidNamespaceMethod: String?
    /// "hidepid" (one proc mount where runs see only their own uid), "per_run" (a proc of the run's own
    /// PID namespace) or "shared" (the host's /proc).
    public var proc: String
    /// The uid runs drop to when the daemon is root; nil when runs keep the daemon's uid.
    public var runUID: Int?
    /// Private directories covered so that only the interpreter inside them stays reachable (e.g. /root).
    public var exposed: [String]?
    /// The interpreter's directories inside a private tmp (a virtual environment under /tmp), bind-mounted back
    /// read-only into the tmpfs: the rest of the host's directory stays out of reach.
    public var interpreterBinds: [String]?
    /// What was tried and refused.
    public var errors: [String]

    enum CodingKeys: String, CodingKey {
        case namespaces, network, proc, exposed, errors
        case privateTmp = "private_tmp"
        case pidNamespace = "pid_namespace"
        case pidNamespaceMethod = "pid_namespace_method"
        case interpreterBinds = "interpreter_binds"
        case runUID = "run_uid"
    }

    /// One word for status displays: "namespaces+pid", "namespaces", "rlimits-only".
    public var mode: String {
        if namespaces == "none" { return "rlimits-only" }
        return pidNamespace ? "\(namespaces)-namespaces+pid" : "\(namespaces)-namespaces"
    }
}

/// A snapshot of the pool, safe to encode for `status`.
public struct SandboxMetrics: Codable, Equatable, Sendable {
    public var poolSize: Int
    public var workersAlive: Int
    public var workersBusy: Int
    public var queueDepth: Int
    public var queueCapacity: Int
    /// Workers started to replace one that died, hung or failed to start.
    public var workersReplaced: Int
    /// Process ids of the live fork-servers (each leads its own process group).
    public var workerPIDs: [Int32]
    public var runsTotal: Int
    /// Runs per final status (every status present, zero when unseen).
    public var statusCounts: [String: Int]
    /// Isolation of the first worker that reported ready; nil before any did.
    public var isolation: IsolationReport?
    public var pythonPath: String
    public var pythonVersion: String?
    /// Last start-up failure of a worker, when one happened.
    public var lastWorkerError: String?

    enum CodingKeys: String, CodingKey {
        case isolation
        case poolSize = "pool_size"
        case workersAlive = "workers_alive"
        case workersBusy = "workers_busy"
        case queueDepth = "queue_depth"
        case queueCapacity = "queue_capacity"
        case workersReplaced = "workers_replaced"
        case workerPIDs = "worker_pids"
        case runsTotal = "runs_total"
        case statusCounts = "status_counts"
        case pythonPath = "python_path"
        case pythonVersion = "python_version"
        case lastWorkerError = "last_worker_error"
    }
}

import Foundation

/// `model_info` in schemas/common.json: `model/load`'s result, `initialize.model`, `status.model`.
public struct ModelInfo: Codable, Sendable, Equatable {
    public var name: String
    public var path: String
    public var architecture: String
    public var parameters: Int
    public var vocabulary_size: Int
    public var context_length: Int
    public var layers: Int
    public var hidden_size: Int
    public var weights: WeightPrecisionName
    /// The PEFT LoRA folder loaded on top of the weights, or absent.
    public var adapter: String?

    public init(name: String, path: String, architecture: String, parameters: Int, vocabulary_size: Int,
                context_length: Int, layers: Int, hidden_size: Int, weights: WeightPrecisionName, adapter: String?) {
        self.name = name
        self.path = path
        self.architecture = architecture
        self.parameters = parameters
        self.vocabulary_size = vocabulary_size
        self.context_length = context_length
        self.layers = layers
        self.hidden_size = hidden_size
        self.weights = weights
        self.adapter = adapter
    }
}

/// The daemon's half of the `initialize` result; the transport adds protocol facts (schemas/initialize.json).
public struct InitializeResult: Codable, Sendable, Equatable {
    public struct Capabilities: Codable, Sendable, Equatable {
        public var methods: [String]
        public var streaming: Bool
        public var cancellation: Bool
        public var progress: [String: String]
        public init(methods: [String], streaming: Bool, cancellation: Bool, progress: [String: String]) {
            self.methods = methods
            self.streaming = streaming
            self.cancellation = cancellation
            self.progress = progress
        }
    }
    public struct Limits: Codable, Sendable, Equatable {
        public var context_length: Int?
        /// Every limit, as a run without limits of its own gets them.
        public var sandbox: SandboxLimits
        public var sandbox_pool_size: Int
        public init(context_length: Int?, sandbox: SandboxLimits, sandbox_pool_size: Int) {
            self.context_length = context_length
            self.sandbox = sandbox
            self.sandbox_pool_size = sandbox_pool_size
        }
    }
    public var server: [String: String]
    @Nullable public var model: ModelInfo?
    public var capabilities: Capabilities
    public var limits: Limits

    public init(server: [String: String], model: ModelInfo?, capabilities: Capabilities, limits: Limits) {
        self.server = server
        self.model = model
        self.capabilities = capabilities
        self.limits = limits
    }
}

public struct StatusResult: Codable, Sendable, Equatable {
    public struct Memory: Codable, Sendable, Equatable {
        public var rss_bytes: Int
        public init(rss_bytes: Int) { self.rss_bytes = rss_bytes }
    }
    public struct Queue: Codable, Sendable, Equatable {
        public var sandbox_waiting: Int
        public var sandbox_busy_workers: Int
        /// The model's scheduler: running job, waiting work, solve batching.
        public var model: SchedulerSnapshot
        public init(sandbox_waiting: Int, sandbox_busy_workers: Int, model: SchedulerSnapshot) {
            self.sandbox_waiting = sandbox_waiting
            self.sandbox_busy_workers = sandbox_busy_workers
            self.model = model
        }
    }
    public struct Training: Codable, Sendable, Equatable {
        public var step: Int
        public var running: Bool
        /// Updates since the last checkpoint/save, checkpoint/restore or model/export: what a model/load would lose.
        public var unsaved_steps: Int
        /// The LoRA being trained, null for full training (or before the first training method).
        @Nullable public var lora: LoRA?
        public init(step: Int, running: Bool, unsaved_steps: Int, lora: LoRA?) {
            self.step = step
            self.running = running
            self.unsaved_steps = unsaved_steps
            self.lora = lora
        }
    }
    public struct LoRA: Codable, Sendable, Equatable {
        public var rank: Int
        public var alpha: Double
        public var targets: [String]
        public var use_rslora: Bool
        public var parameters: Int
        /// f32 adapter values (the optimizer keeps two more buffers of this size).
        public var bytes: Int
        public init(rank: Int, alpha: Double, targets: [String], use_rslora: Bool, parameters: Int, bytes: Int) {
            self.rank = rank
            self.alpha = alpha
            self.targets = targets
            self.use_rslora = use_rslora
            self.parameters = parameters
            self.bytes = bytes
        }
    }
    @Nullable public var model: ModelInfo?
    public var sandbox: SandboxMetricsWire
    public var queue: Queue
    public var training: Training
    public var memory: Memory
    public var uptime_s: Double
    /// The kernel path in use and its optional instructions.
    public var kernels: String
    /// The data-parallel process group this daemon is a rank of (cluster/join), or null.
    @Nullable public var cluster: ClusterMembership?

    public init(model: ModelInfo?, sandbox: SandboxMetricsWire, queue: Queue, training: Training, memory: Memory,
                uptime_s: Double, kernels: String, cluster: ClusterMembership?) {
        self.model = model
        self.sandbox = sandbox
        self.queue = queue
        self.training = training
        self.memory = memory
        self.uptime_s = uptime_s
        self.kernels = kernels
        self.cluster = cluster
    }
}

/// What runs now, how much waits, and how solves were batched (`status.queue.model`).
public struct SchedulerSnapshot: Codable, Sendable, Equatable {
    @Nullable public var model_job: String?
    public var model_jobs_waiting: Int
    public var solves_waiting: Int
    /// Decoder batches of solve requests run so far, the solves they held, and the largest batch: solves sent
    /// together should show as one batch.
    public var solve_batches: Int
    public var solves_decoded: Int
    public var largest_solve_batch: Int

    public init(model_job: String?, model_jobs_waiting: Int, solves_waiting: Int, solve_batches: Int,
                solves_decoded: Int, largest_solve_batch: Int) {
        self.model_job = model_job
        self.model_jobs_waiting = model_jobs_waiting
        self.solves_waiting = solves_waiting
        self.solve_batches = solve_batches
        self.solves_decoded = solves_decoded
        self.largest_solve_batch = largest_solve_batch
    }
}

/// The sandbox pool in `status.sandbox` (engine: Sandbox's `SandboxMetrics`).
public struct SandboxMetricsWire: Codable, Sendable, Equatable {
    public var pool_size: Int
    public var workers_alive: Int
    public var workers_busy: Int
    public var queue_depth: Int
    public var queue_capacity: Int
    public var workers_replaced: Int
    public var worker_pids: [Int32]
    public var runs_total: Int
    /// Runs per final status (every status present, zero when unseen).
    public var status_counts: [String: Int]
    /// Isolation of the first worker that reported ready; absent before any did.
    public var isolation: IsolationWire?
    public var python_path: String
    public var python_version: String?
    public var last_worker_error: String?

    public init(pool_size: Int, workers_alive: Int, workers_busy: Int, queue_depth: Int, queue_capacity: Int,
                workers_replaced: Int, worker_pids: [Int32], runs_total: Int, status_counts: [String: Int],
                isolation: IsolationWire?, python_path: String, python_version: String?, last_worker_error: String?) {
        self.pool_size = pool_size
        self.workers_alive = workers_alive
        self.workers_busy = workers_busy
        self.queue_depth = queue_depth
        self.queue_capacity = queue_capacity
        self.workers_replaced = workers_replaced
        self.worker_pids = worker_pids
        self.runs_total = runs_total
        self.status_counts = status_counts
        self.isolation = isolation
        self.python_path = python_path
        self.python_version = python_version
        self.last_worker_error = last_worker_error
    }
}

/// What the kernel let the sandbox workers set up (engine: Sandbox's `IsolationReport`).
public struct IsolationWire: Codable, Sendable, Equatable {
    public var namespaces: String
    public var network: Bool
    public var private_tmp: [String]
    public var pid_namespace: Bool
    public var pid_namespace_method: String?
    public var proc: String
    public var run_uid: Int?
    public var exposed: [String]?
    public var interpreter_binds: [String]?
    public var errors: [String]

    public init(namespaces: String, network: Bool, private_tmp: [String], pid_namespace: Bool,
                pid_namespace_method: String?, proc: String, run_uid: Int?, exposed: [String]?,
                interpreter_binds: [String]?, errors: [String]) {
        self.namespaces = namespaces
        self.network = network
        self.private_tmp = private_tmp
        self.pid_namespace = pid_namespace
        self.pid_namespace_method = pid_namespace_method
        self.proc = proc
        self.run_uid = run_uid
        self.exposed = exposed
        self.interpreter_binds = interpreter_binds
        self.errors = errors
    }
}

/// How a sandbox run ended (engine: Sandbox's `ExecutionStatus`).
public enum ExecutionStatusName: String, Codable, Sendable, CaseIterable {
    case ok, error, timeout, memory
    case outputLimit = "output_limit"
    case killed
    case sandboxError = "sandbox_error"
    case busy, rejected
}

/// `sandbox/execute`'s result: what one run produced, every key present (engine: Sandbox's `ExecutionResult`).
public struct ExecutionResultWire: Codable, Sendable, Equatable {
    public var status: ExecutionStatusName
    @Nullable public var exit_code: Int?
    @Nullable public var signal: Int?
    public var stdout: String
    public var stderr: String
    public var wall_ms: Double
    @Nullable public var cpu_ms: Double?
    public var queue_ms: Double
    public var truncated: Bool
    @Nullable public var message: String?
    @Nullable public var pid: Int32?

    public init(status: ExecutionStatusName, exit_code: Int?, signal: Int?, stdout: String, stderr: String,
                wall_ms: Double, cpu_ms: Double?, queue_ms: Double, truncated: Bool, message: String?, pid: Int32?) {
        self.status = status
        self.exit_code = exit_code
        self.signal = signal
        self.stdout = stdout
        self.stderr = stderr
        self.wall_ms = wall_ms
        self.cpu_ms = cpu_ms
        self.queue_ms = queue_ms
        self.truncated = truncated
        self.message = message
        self.pid = pid
    }
}

/// A verdict with its evidence (engine: MathGrader's `Grade`).
public struct GradeWire: Codable, Sendable, Equatable {
    /// `correct`, `incorrect` or `no_answer`.
    public var verdict: String
    public var correct: Bool
    /// The answer text taken from the response, before normalization; null when there was none.
    @Nullable public var extracted: String?
    public var rule: String
    /// True when at least one side could not be parsed and normalized strings decided.
    public var fell_back: Bool

    public init(verdict: String, correct: Bool, extracted: String?, rule: String, fell_back: Bool) {
        self.verdict = verdict
        self.correct = correct
        self.extracted = extracted
        self.rule = rule
        self.fell_back = fell_back
    }
}

/// One tool call of a `solve` result (`tool_call` in schemas/common.json).
public struct ToolCallSummary: Codable, Sendable, Equatable {
    public var code: String
    public var status: ExecutionStatusName
    /// The text inserted into the solution.
    public var observation: String
    public var wall_ms: Double

    public init(code: String, status: ExecutionStatusName, observation: String, wall_ms: Double) {
        self.code = code
        self.status = status
        self.observation = observation
        self.wall_ms = wall_ms
    }
}

public struct SolveResult: Codable, Sendable, Equatable {
    public var text: String
    @Nullable public var answer: String?
    /// Null without a reference.
    @Nullable public var grade: GradeWire?
    public var tool_calls: [ToolCallSummary]
    public var finish_reason: String
    public var prompt_tokens: Int
    public var completion_tokens: Int
    public var elapsed_ms: Double

    public init(text: String, answer: String?, grade: GradeWire?, tool_calls: [ToolCallSummary], finish_reason: String,
                prompt_tokens: Int, completion_tokens: Int, elapsed_ms: Double) {
        self.text = text
        self.answer = answer
        self.grade = grade
        self.tool_calls = tool_calls
        self.finish_reason = finish_reason
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.elapsed_ms = elapsed_ms
    }
}

/// One stretch of a trajectory's text: `reasoning`, `code` or `output`.
public struct SegmentWire: Codable, Sendable, Equatable {
    public var kind: String
    public var text: String
    public init(kind: String, text: String) {
        self.kind = kind
        self.text = text
    }
}

/// One execution of model code during a rollout, with where its output sits in the tokens.
public struct ToolCallRecordWire: Codable, Sendable, Equatable {
    public var code: String
    public var status: ExecutionStatusName
    public var observation: String
    public var output: String
    public var wall_ms: Double
    public var token_start: Int
    public var token_count: Int
    public var truncated: Bool

    public init(code: String, status: ExecutionStatusName, observation: String, output: String, wall_ms: Double,
                token_start: Int, token_count: Int, truncated: Bool) {
        self.code = code
        self.status = status
        self.observation = observation
        self.output = output
        self.wall_ms = wall_ms
        self.token_start = token_start
        self.token_count = token_count
        self.truncated = truncated
    }
}

/// A graded tool-integrated response (engine: RL's `Trajectory`). `token_ids`, `logprobs` and `loss_mask` are
/// aligned over prompt + response (docs/ROLLOUTS.md).
public struct TrajectoryWire: Codable, Sendable, Equatable {
    public var problem_id: String
    public var group: Int
    public var sample: Int
    public var text: String
    public var token_ids: [Int32]
    public var prompt_length: Int
    public var logprobs: [Float]
    public var loss_mask: [UInt8]
    public var segments: [SegmentWire]
    public var tool_calls: [ToolCallRecordWire]
    public var has_code: Bool
    public var code_executed: Bool
    public var code_failed: Bool
    public var effective_code: Bool
    /// Absent when the response has no answer.
    public var answer: String?
    public var grade: GradeWire
    public var reward: Double
    public var finish_reason: String

    public init(problem_id: String, group: Int, sample: Int, text: String, token_ids: [Int32], prompt_length: Int,
                logprobs: [Float], loss_mask: [UInt8], segments: [SegmentWire], tool_calls: [ToolCallRecordWire],
                has_code: Bool, code_executed: Bool, code_failed: Bool, effective_code: Bool, answer: String?,
                grade: GradeWire, reward: Double, finish_reason: String) {
        self.problem_id = problem_id
        self.group = group
        self.sample = sample
        self.text = text
        self.token_ids = token_ids
        self.prompt_length = prompt_length
        self.logprobs = logprobs
        self.loss_mask = loss_mask
        self.segments = segments
        self.tool_calls = tool_calls
        self.has_code = has_code
        self.code_executed = code_executed
        self.code_failed = code_failed
        self.effective_code = effective_code
        self.answer = answer
        self.grade = grade
        self.reward = reward
        self.finish_reason = finish_reason
    }
}

/// Named figures; null where a figure does not exist for this run (no sample, no reference model, ...).
public typealias Metrics = [String: Double?]

public struct RolloutResult: Codable, Sendable, Equatable {
    /// For `train_step`'s `rollout_ids`.
    public var rollout_id: String
    public var trajectories: [TrajectoryWire]
    public var metrics: Metrics

    public init(rollout_id: String, trajectories: [TrajectoryWire], metrics: Metrics) {
        self.rollout_id = rollout_id
        self.trajectories = trajectories
        self.metrics = metrics
    }
}

public struct EvaluateResult: Codable, Sendable, Equatable {
    public var problems: Int
    public var metrics: Metrics
    @Nullable public var output: String?

    public init(problems: Int, metrics: Metrics, output: String?) {
        self.problems = problems
        self.metrics = metrics
        self.output = output
    }
}

/// `train_step`'s result: the step reached and the step's metrics (snake_case names of RL's `StepMetrics`).
public struct TrainStepResult: Codable, Sendable, Equatable {
    public var step: Int
    public var metrics: Metrics

    public init(step: Int, metrics: Metrics) {
        self.step = step
        self.metrics = metrics
    }
}

public struct ClusterTrainStepResult: Codable, Sendable, Equatable {
    public var step: Int
    public var metrics: Metrics
    /// 16 hex digits, equal on every rank (the step checked it).
    public var parameter_checksum: String
    public var rank: Int
    public var world_size: Int
    /// Seconds this rank spent in the step's collectives (waiting for slower ranks included) and the bytes it
    /// all-reduced (the gradient is most of them).
    public var all_reduce_seconds: Double
    public var all_reduce_bytes: Int

    public init(step: Int, metrics: Metrics, parameter_checksum: String, rank: Int, world_size: Int,
                all_reduce_seconds: Double, all_reduce_bytes: Int) {
        self.step = step
        self.metrics = metrics
        self.parameter_checksum = parameter_checksum
        self.rank = rank
        self.world_size = world_size
        self.all_reduce_seconds = all_reduce_seconds
        self.all_reduce_bytes = all_reduce_bytes
    }
}

/// `cluster/join`'s result and `status.cluster`.
public struct ClusterMembership: Codable, Sendable, Equatable {
    public var rank: Int
    public var world_size: Int
    public var prefix: String

    public init(rank: Int, world_size: Int, prefix: String) {
        self.rank = rank
        self.world_size = world_size
        self.prefix = prefix
    }
}

public struct ClusterLeaveResult: Codable, Sendable, Equatable {
    public init() {}
}

public struct CheckpointResult: Codable, Sendable, Equatable {
    public var path: String
    public var step: Int
    public init(path: String, step: Int) {
        self.path = path
        self.step = step
    }
}

public struct ExportResult: Codable, Sendable, Equatable {
    public var path: String
    public var files: [String]
    public init(path: String, files: [String]) {
        self.path = path
        self.files = files
    }
}

import Foundation

// Params of every method. Several methods share groups of fields (`GenerationOptions`, `HyperParameters`): those
// are sent flat, in the method's own params object, so a params type with such a group decodes and encodes the
// group from and to the same object as its own fields.

/// Lenient on purpose, unlike other methods: LSP-style clients send fields of their own (processId, rootUri, ...)
/// in `initialize`, and refusing the handshake over them would help nobody.
public struct InitializeParams: Codable, Sendable, Equatable {
    public var client_name: String?
    public var client_version: String?
    public var token: String?
    /// Accepted and not read.
    public var capabilities: NoParams?

    public init(client_name: String? = nil, client_version: String? = nil, token: String? = nil) {
        self.client_name = client_name
        self.client_version = client_version
        self.token = token
    }

    enum CodingKeys: String, CodingKey { case client_name, client_version, token, capabilities }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        _ = container.allKeys // lenient (above)
        client_name = try container.decodeIfPresent(String.self, forKey: .client_name)
        client_version = try container.decodeIfPresent(String.self, forKey: .client_version)
        token = try container.decodeIfPresent(String.self, forKey: .token)
        capabilities = try container.decodeIfPresent(NoParams.self, forKey: .capabilities)
    }
}

public struct SolveParams: Codable, Sendable, Equatable {
    public var problem: String
    /// When given, the answer is graded against it.
    public var reference: String?
    public var progress_token: ProgressToken?
    public var options: GenerationOptions

    public init(problem: String, reference: String? = nil, progress_token: ProgressToken? = nil,
                options: GenerationOptions = GenerationOptions()) {
        self.problem = problem
        self.reference = reference
        self.progress_token = progress_token
        self.options = options
    }

    enum CodingKeys: String, CodingKey { case problem, reference, progress_token }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        problem = try container.decode(String.self, forKey: .problem)
        reference = try container.decodeIfPresent(String.self, forKey: .reference)
        progress_token = try container.decodeIfPresent(ProgressToken.self, forKey: .progress_token)
        options = try GenerationOptions(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(problem, forKey: .problem)
        try container.encodeIfPresent(reference, forKey: .reference)
        try container.encodeIfPresent(progress_token, forKey: .progress_token)
        try options.encode(to: encoder)
    }
}

public struct RolloutParams: Codable, Sendable, Equatable {
    public var problems: [ProblemInput]
    public var group_size: Int?
    public var progress_token: ProgressToken?
    /// Each problem's place in the whole run this request is a share of (random streams, docs/CLUSTER.md).
    public var problem_indices: [Int]?
    public var options: GenerationOptions

    public init(problems: [ProblemInput], group_size: Int? = nil, progress_token: ProgressToken? = nil,
                problem_indices: [Int]? = nil, options: GenerationOptions = GenerationOptions()) {
        self.problems = problems
        self.group_size = group_size
        self.progress_token = progress_token
        self.problem_indices = problem_indices
        self.options = options
    }

    enum CodingKeys: String, CodingKey { case problems, group_size, progress_token, problem_indices }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        problems = try container.decode([ProblemInput].self, forKey: .problems)
        group_size = try container.decodeIfPresent(Int.self, forKey: .group_size)
        progress_token = try container.decodeIfPresent(ProgressToken.self, forKey: .progress_token)
        problem_indices = try container.decodeIfPresent([Int].self, forKey: .problem_indices)
        options = try GenerationOptions(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(problems, forKey: .problems)
        try container.encodeIfPresent(group_size, forKey: .group_size)
        try container.encodeIfPresent(progress_token, forKey: .progress_token)
        try container.encodeIfPresent(problem_indices, forKey: .problem_indices)
        try options.encode(to: encoder)
    }
}

public struct EvaluateParams: Codable, Sendable, Equatable {
    /// A JSONL file (`problem`, `answer` per line); exactly one of `dataset` and `problems`.
    public var dataset: String?
    public var problems: [ProblemInput]?
    public var limit: Int?
    public var samples: Int?
    /// Per-problem records as JSON lines, written as each problem finishes.
    public var output: String?
    /// Sequences decoded at once (the decoder's stream limit).
    public var batch: Int?
    public var progress_token: ProgressToken?
    public var problem_indices: [Int]?
    public var options: GenerationOptions

    public init(dataset: String? = nil, problems: [ProblemInput]? = nil, limit: Int? = nil, samples: Int? = nil,
                output: String? = nil, batch: Int? = nil, progress_token: ProgressToken? = nil,
                problem_indices: [Int]? = nil, options: GenerationOptions = GenerationOptions()) {
        self.dataset = dataset
        self.problems = problems
        self.limit = limit
        self.samples = samples
        self.output = output
        self.batch = batch
        self.progress_token = progress_token
        self.problem_indices = problem_indices
        self.options = options
    }

    enum CodingKeys: String, CodingKey {
        case dataset, problems, limit, samples, output, batch, progress_token, problem_indices
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dataset = try container.decodeIfPresent(String.self, forKey: .dataset)
        problems = try container.decodeIfPresent([ProblemInput].self, forKey: .problems)
        limit = try container.decodeIfPresent(Int.self, forKey: .limit)
        samples = try container.decodeIfPresent(Int.self, forKey: .samples)
        output = try container.decodeIfPresent(String.self, forKey: .output)
        batch = try container.decodeIfPresent(Int.self, forKey: .batch)
        progress_token = try container.decodeIfPresent(ProgressToken.self, forKey: .progress_token)
        problem_indices = try container.decodeIfPresent([Int].self, forKey: .problem_indices)
        options = try GenerationOptions(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(dataset, forKey: .dataset)
        try container.encodeIfPresent(problems, forKey: .problems)
        try container.encodeIfPresent(limit, forKey: .limit)
        try container.encodeIfPresent(samples, forKey: .samples)
        try container.encodeIfPresent(output, forKey: .output)
        try container.encodeIfPresent(batch, forKey: .batch)
        try container.encodeIfPresent(progress_token, forKey: .progress_token)
        try container.encodeIfPresent(problem_indices, forKey: .problem_indices)
        try options.encode(to: encoder)
    }
}

/// `train_step`: one GRPO update on new rollouts of `problems`, or on stored rollouts (`rollout_ids`).
public struct TrainStepParams: Codable, Sendable, Equatable {
    public var problems: [ProblemInput]?
    public var rollout_ids: [String]?
    public var group_size: Int?
    public var progress_token: ProgressToken?
    public var hyperParameters: HyperParameters
    public var lora: LoRAFields
    /// Sampling and tool settings; `seed` seeds this step's rollouts (the loop's own stream when absent).
    public var options: GenerationOptions

    public init(problems: [ProblemInput]? = nil, rollout_ids: [String]? = nil, group_size: Int? = nil,
                progress_token: ProgressToken? = nil, hyperParameters: HyperParameters = HyperParameters(),
                lora: LoRAFields = LoRAFields(), options: GenerationOptions = GenerationOptions()) {
        self.problems = problems
        self.rollout_ids = rollout_ids
        self.group_size = group_size
        self.progress_token = progress_token
        self.hyperParameters = hyperParameters
        self.lora = lora
        self.options = options
    }

    enum CodingKeys: String, CodingKey { case problems, rollout_ids, group_size, progress_token }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        problems = try container.decodeIfPresent([ProblemInput].self, forKey: .problems)
        rollout_ids = try container.decodeIfPresent([String].self, forKey: .rollout_ids)
        group_size = try container.decodeIfPresent(Int.self, forKey: .group_size)
        progress_token = try container.decodeIfPresent(ProgressToken.self, forKey: .progress_token)
        hyperParameters = try HyperParameters(from: decoder)
        lora = try LoRAFields(from: decoder)
        options = try GenerationOptions(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(problems, forKey: .problems)
        try container.encodeIfPresent(rollout_ids, forKey: .rollout_ids)
        try container.encodeIfPresent(group_size, forKey: .group_size)
        try container.encodeIfPresent(progress_token, forKey: .progress_token)
        try hyperParameters.encode(to: encoder)
        try lora.encode(to: encoder)
        try options.encode(to: encoder)
    }
}

/// `cluster/train_step`: `train_step`'s hyper-parameters and this rank's stored rollouts (possibly none).
public struct ClusterTrainStepParams: Codable, Sendable, Equatable {
    /// An empty list when this rank has no rollouts.
    public var rollout_ids: [String]
    public var hyperParameters: HyperParameters

    public init(rollout_ids: [String], hyperParameters: HyperParameters = HyperParameters()) {
        self.rollout_ids = rollout_ids
        self.hyperParameters = hyperParameters
    }

    enum CodingKeys: String, CodingKey { case rollout_ids }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rollout_ids = try container.decode([String].self, forKey: .rollout_ids)
        hyperParameters = try HyperParameters(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rollout_ids, forKey: .rollout_ids)
        try hyperParameters.encode(to: encoder)
    }
}

public struct ModelLoadParams: Codable, Sendable, Equatable {
    public var path: String
    public var weights: WeightPrecisionName?
    /// A PEFT LoRA folder to apply on top of the model (the trainer then trains these adapters).
    public var adapter: String?
    /// Loading starts a new trainer; true lets it drop updates that were never saved or exported.
    public var discard_training: Bool?

    public init(path: String, weights: WeightPrecisionName? = nil, adapter: String? = nil, discard_training: Bool? = nil) {
        self.path = path
        self.weights = weights
        self.adapter = adapter
        self.discard_training = discard_training
    }
}

/// `model/export`: the merged Hugging Face folder, or with `adapter` the LoRA adapters as a PEFT folder.
public struct ExportParams: Codable, Sendable, Equatable {
    public var path: String
    public var adapter: Bool?

    public init(path: String, adapter: Bool? = nil) {
        self.path = path
        self.adapter = adapter
    }
}

public struct CheckpointParams: Codable, Sendable, Equatable {
    public var path: String
    public init(path: String) { self.path = path }
}

/// `checkpoint/restore` replaces the trainer's state, so like `model/load` it takes `discard_training`.
public struct CheckpointRestoreParams: Codable, Sendable, Equatable {
    public var path: String
    public var discard_training: Bool?

    public init(path: String, discard_training: Bool? = nil) {
        self.path = path
        self.discard_training = discard_training
    }
}

/// Per-run sandbox limits; absent fields keep their defaults (engine: Sandbox's `ExecutionLimits`).
public struct SandboxLimits: Codable, Sendable, Equatable {
    public var wall_timeout_seconds: Double?
    public var cpu_seconds: Double?
    public var memory_bytes: Int?
    public var max_processes: Int?
    public var max_file_bytes: Int?
    public var max_output_bytes: Int?
    public var max_source_bytes: Int?

    public init(wall_timeout_seconds: Double? = nil, cpu_seconds: Double? = nil, memory_bytes: Int? = nil,
                max_processes: Int? = nil, max_file_bytes: Int? = nil, max_output_bytes: Int? = nil,
                max_source_bytes: Int? = nil) {
        self.wall_timeout_seconds = wall_timeout_seconds
        self.cpu_seconds = cpu_seconds
        self.memory_bytes = memory_bytes
        self.max_processes = max_processes
        self.max_file_bytes = max_file_bytes
        self.max_output_bytes = max_output_bytes
        self.max_source_bytes = max_source_bytes
    }
}

public struct SandboxExecuteParams: Codable, Sendable, Equatable {
    public var code: String
    public var limits: SandboxLimits?

    public init(code: String, limits: SandboxLimits? = nil) {
        self.code = code
        self.limits = limits
    }
}

/// `cluster/join`: this daemon's place in a data-parallel process group (docs/CLUSTER.md).
public struct ClusterJoinParams: Codable, Sendable, Equatable {
    /// Exactly one of a shared folder (`file`) or a TCP store (`tcp`, host:port).
    public struct Store: Codable, Sendable, Equatable {
        public var file: String?
        public var tcp: String?
        public init(file: String? = nil, tcp: String? = nil) {
            self.file = file
            self.tcp = tcp
        }
    }
    public var rank: Int
    public var world_size: Int
    public var store: Store
    public var prefix: String
    public var hostname: String?
    public var timeout_seconds: Double?

    public init(rank: Int, world_size: Int, store: Store, prefix: String, hostname: String? = nil,
                timeout_seconds: Double? = nil) {
        self.rank = rank
        self.world_size = world_size
        self.store = store
        self.prefix = prefix
        self.hostname = hostname
        self.timeout_seconds = timeout_seconds
    }
}

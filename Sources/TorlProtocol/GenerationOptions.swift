import Foundation

/// The prompt of `solve`, `rollout`, `evaluate` and `train_step` (engine: RL's `PromptTemplate`).
public enum PromptTemplateName: String, Codable, Sendable, CaseIterable {
    case torl, chat
}

/// What runs the model's code (engine: RL's `ToolTrigger`).
public enum ToolTriggerName: String, Codable, Sendable, CaseIterable {
    case blockClose = "block_close"
    case outputMarker = "output_marker"
}

/// How inference weights are stored (engine: Tensors' `WeightPrecision`).
public enum WeightPrecisionName: String, Codable, Sendable, CaseIterable {
    case f32, bf16, int8
}

/// Sampling and tool settings shared by solve, rollout, train_step and evaluate (schemas: the params' common
/// fields), sent in the same params object as the method's own fields. Absent fields take the method's defaults.
public struct GenerationOptions: Codable, Sendable, Equatable {
    public var template: PromptTemplateName?
    public var max_tool_calls: Int?
    public var max_tokens: Int?
    public var temperature: Double?
    public var top_p: Double?
    public var top_k: Int?
    public var seed: UInt64?
    public var instruction: String?
    public var accept_unboxed_answers: Bool?
    public var require_evaluated_answers: Bool?
    public var trigger: ToolTriggerName?
    public var max_prompt_tokens: Int?
    /// Strings that end a response when sampled (they stay in the text).
    public var stop: [String]?

    public init(template: PromptTemplateName? = nil, max_tool_calls: Int? = nil, max_tokens: Int? = nil,
                temperature: Double? = nil, top_p: Double? = nil, top_k: Int? = nil, seed: UInt64? = nil,
                instruction: String? = nil, accept_unboxed_answers: Bool? = nil, require_evaluated_answers: Bool? = nil,
                trigger: ToolTriggerName? = nil, max_prompt_tokens: Int? = nil, stop: [String]? = nil) {
        self.template = template
        self.max_tool_calls = max_tool_calls
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.seed = seed
        self.instruction = instruction
        self.accept_unboxed_answers = accept_unboxed_answers
        self.require_evaluated_answers = require_evaluated_answers
        self.trigger = trigger
        self.max_prompt_tokens = max_prompt_tokens
        self.stop = stop
    }
}

/// A problem as a client sends it. Members beyond these are ignored (a dataset row may carry its own), as before
/// the protocol module.
public struct ProblemInput: Codable, Sendable, Equatable {
    public var id: String?
    public var problem: String
    public var answer: String?

    public init(id: String? = nil, problem: String, answer: String? = nil) {
        self.id = id
        self.problem = problem
        self.answer = answer
    }

    enum CodingKeys: String, CodingKey { case id, problem, answer }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        _ = container.allKeys // lenient: other members are the client's own
        id = try container.decodeIfPresent(String.self, forKey: .id)
        problem = try container.decode(String.self, forKey: .problem)
        answer = try container.decodeIfPresent(String.self, forKey: .answer)
    }
}

/// The GRPO hyper-parameters of `train_step` and `cluster/train_step`: declared once, filled by the CLI from its
/// flags and converted by the daemon into the trainer's `TrainingHyperParameters` (one function,
/// Daemon/Conversions). Absent fields take TORL's defaults.
public struct HyperParameters: Codable, Sendable, Equatable {
    public var learning_rate: Double?
    public var warmup_steps: Int?
    /// The step the cosine decay ends at; absent: no decay.
    public var cosine_total_steps: Int?
    public var min_lr_ratio: Double?
    public var eps_low: Double?
    public var eps_high: Double?
    public var clip_ratio_c: Double?
    public var dual_clip: Bool?
    /// `recompute` or `rollout`.
    public var old_logprobs: String?
    public var tis_cap: Double?
    public var kl_coef: Double?
    public var entropy_coef: Double?
    /// `std` or `dr_grpo`.
    public var advantage: String?
    /// `token_mean`, `seq_mean_token_mean` or `dr_grpo`.
    public var aggregation: String?
    public var micro_batch: Int?
    /// `keepAll` (every layer's activations kept for the backward pass) or `recomputePerLayer` (only each layer's
    /// input kept, the layer recomputed in the backward pass: less memory, one more forward).
    public var activations: String?
    public var max_grad_norm: Double?
    public var weight_decay: Double?

    public init(learning_rate: Double? = nil, warmup_steps: Int? = nil, cosine_total_steps: Int? = nil,
                min_lr_ratio: Double? = nil, eps_low: Double? = nil, eps_high: Double? = nil,
                clip_ratio_c: Double? = nil, dual_clip: Bool? = nil, old_logprobs: String? = nil,
                tis_cap: Double? = nil, kl_coef: Double? = nil, entropy_coef: Double? = nil,
                advantage: String? = nil, aggregation: String? = nil, micro_batch: Int? = nil,
                activations: String? = nil, max_grad_norm: Double? = nil, weight_decay: Double? = nil) {
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.cosine_total_steps = cosine_total_steps
        self.min_lr_ratio = min_lr_ratio
        self.eps_low = eps_low
        self.eps_high = eps_high
        self.clip_ratio_c = clip_ratio_c
        self.dual_clip = dual_clip
        self.old_logprobs = old_logprobs
        self.tis_cap = tis_cap
        self.kl_coef = kl_coef
        self.entropy_coef = entropy_coef
        self.advantage = advantage
        self.aggregation = aggregation
        self.micro_batch = micro_batch
        self.activations = activations
        self.max_grad_norm = max_grad_norm
        self.weight_decay = weight_decay
    }
}

/// The LoRA fields of `train_step`: they choose how a new trainer trains (absent: every weight).
public struct LoRAFields: Codable, Sendable, Equatable {
    public var lora_rank: Int?
    public var lora_alpha: Double?
    public var lora_targets: [String]?
    public var use_rslora: Bool?

    public init(lora_rank: Int? = nil, lora_alpha: Double? = nil, lora_targets: [String]? = nil, use_rslora: Bool? = nil) {
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha
        self.lora_targets = lora_targets
        self.use_rslora = use_rslora
    }
}

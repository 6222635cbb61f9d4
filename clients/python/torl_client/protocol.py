"""The daemon's wire types: one TypedDict per method's params and result, generated from schemas/ by
scripts/generate_client_types.py. Do not edit: regenerate (the test suite fails when this file is stale).
"""
from typing import Any, Dict, List, Literal, TypedDict, Union


class CancelRequestParams(TypedDict):
    id: Union[str, int]


class _CheckpointRestoreParamsRequired(TypedDict):
    path: str


class CheckpointRestoreParams(_CheckpointRestoreParamsRequired, total=False):
    discard_training: bool


class CheckpointRestoreResult(TypedDict):
    path: str
    step: int


class CheckpointSaveParams(TypedDict):
    path: str


class CheckpointSaveResult(TypedDict):
    path: str
    step: int


class ClusterJoinParamsStore(TypedDict, total=False):
    file: str
    tcp: str


class _ClusterJoinParamsRequired(TypedDict):
    rank: int
    world_size: int
    store: ClusterJoinParamsStore
    prefix: str


class ClusterJoinParams(_ClusterJoinParamsRequired, total=False):
    hostname: str
    timeout_seconds: float


class ClusterJoinResult(TypedDict):
    rank: int
    world_size: int
    prefix: str


class _ClusterTrainStepParamsRequired(TypedDict):
    rollout_ids: List[str]


class ClusterTrainStepParams(_ClusterTrainStepParamsRequired, total=False):
    learning_rate: float
    warmup_steps: int
    cosine_total_steps: int
    min_lr_ratio: float
    eps_low: float
    eps_high: float
    clip_ratio_c: float
    dual_clip: bool
    old_logprobs: Literal["rollout", "recompute"]
    tis_cap: float
    kl_coef: float
    entropy_coef: float
    advantage: Literal["std", "dr_grpo"]
    aggregation: Literal["token_mean", "seq_mean_token_mean", "dr_grpo"]
    micro_batch: int
    activations: Literal["keepAll", "recomputePerLayer"]
    max_grad_norm: float
    weight_decay: float


class ClusterTrainStepResult(TypedDict):
    step: int
    metrics: Dict[str, Union[float, int, None]]
    parameter_checksum: str
    rank: int
    world_size: int
    all_reduce_seconds: float
    all_reduce_bytes: int


class _ProblemRequired(TypedDict):
    problem: str


class Problem(_ProblemRequired, total=False):
    id: str
    answer: str


class EvaluateParams(TypedDict, total=False):
    dataset: str
    problems: List[Problem]
    limit: int
    samples: int
    output: str
    batch: int
    progress_token: Union[str, int]
    template: Literal["torl", "chat"]
    max_tool_calls: int
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    seed: int
    stop: List[str]
    instruction: str
    accept_unboxed_answers: bool
    require_evaluated_answers: bool
    trigger: Literal["block_close", "output_marker"]
    max_prompt_tokens: int
    problem_indices: List[int]


class EvaluateResult(TypedDict):
    problems: int
    metrics: Dict[str, Union[float, int, None]]
    output: Union[str, None]


class ExitParams(TypedDict, total=False):
    pass


class InitializeParams(TypedDict, total=False):
    client_name: str
    client_version: str
    token: str
    capabilities: Dict[str, Any]


class InitializeResultServer(TypedDict):
    name: str
    version: str


class _ModelInfoRequired(TypedDict):
    name: str
    path: str
    architecture: Literal["llama", "qwen2", "gemma3"]
    parameters: int
    vocabulary_size: int
    context_length: int
    layers: int
    hidden_size: int
    weights: Literal["f32", "bf16", "int8"]


class ModelInfo(_ModelInfoRequired, total=False):
    adapter: Union[str, None]


class InitializeResultCapabilities(TypedDict):
    methods: List[str]
    streaming: bool
    cancellation: bool
    progress: Dict[str, str]


class ExecutionLimits(TypedDict, total=False):
    """Per-run limits; absent fields take the daemon's defaults."""
    wall_timeout_seconds: float
    cpu_seconds: float
    memory_bytes: int
    max_processes: int
    max_file_bytes: int
    max_output_bytes: int
    max_source_bytes: int


class _InitializeResultLimitsRequired(TypedDict):
    sandbox: ExecutionLimits
    sandbox_pool_size: int


class InitializeResultLimits(_InitializeResultLimitsRequired, total=False):
    context_length: int


class InitializeResult(TypedDict):
    server: InitializeResultServer
    model: Union[ModelInfo, None]
    capabilities: InitializeResultCapabilities
    limits: InitializeResultLimits


class _ModelExportParamsRequired(TypedDict):
    path: str


class ModelExportParams(_ModelExportParamsRequired, total=False):
    adapter: bool


class ModelExportResult(TypedDict):
    path: str
    files: List[str]


class _ModelLoadParamsRequired(TypedDict):
    path: str


class ModelLoadParams(_ModelLoadParamsRequired, total=False):
    weights: Literal["f32", "bf16", "int8"]
    discard_training: bool
    adapter: str


class _RolloutParamsRequired(TypedDict):
    problems: List[Problem]


class RolloutParams(_RolloutParamsRequired, total=False):
    group_size: int
    progress_token: Union[str, int]
    template: Literal["torl", "chat"]
    max_tool_calls: int
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    seed: int
    stop: List[str]
    instruction: str
    accept_unboxed_answers: bool
    require_evaluated_answers: bool
    trigger: Literal["block_close", "output_marker"]
    max_prompt_tokens: int
    problem_indices: List[int]


class RolloutResultTrajectoriesItemSegmentsItem(TypedDict):
    kind: Literal["reasoning", "code", "output"]
    text: str


class ToolCallRecord(TypedDict):
    """One execution of model code in a trajectory, with where its inserted output sits in token_ids."""
    code: str
    status: Literal["ok", "error", "timeout", "memory", "output_limit", "killed", "sandbox_error", "busy", "rejected"]
    observation: str
    output: str
    wall_ms: float
    token_start: int
    token_count: int
    truncated: bool


class Grade(TypedDict):
    verdict: Literal["correct", "incorrect", "no_answer"]
    correct: bool
    extracted: Union[str, None]
    rule: str
    fell_back: bool


class _RolloutResultTrajectoriesItemRequired(TypedDict):
    problem_id: str
    group: int
    sample: int
    text: str
    token_ids: List[int]
    prompt_length: int
    logprobs: List[float]
    loss_mask: List[Literal[0, 1]]
    segments: List[RolloutResultTrajectoriesItemSegmentsItem]
    tool_calls: List[ToolCallRecord]
    has_code: bool
    code_executed: bool
    code_failed: bool
    effective_code: bool
    grade: Grade
    reward: float
    finish_reason: str


class RolloutResultTrajectoriesItem(_RolloutResultTrajectoriesItemRequired, total=False):
    answer: str


class RolloutResult(TypedDict):
    rollout_id: str
    trajectories: List[RolloutResultTrajectoriesItem]
    metrics: Dict[str, Union[float, int, None]]


class _SandboxExecuteParamsRequired(TypedDict):
    code: str


class SandboxExecuteParams(_SandboxExecuteParamsRequired, total=False):
    limits: ExecutionLimits


class ExecutionResult(TypedDict):
    """Every key is always present; absent values are null."""
    status: Literal["ok", "error", "timeout", "memory", "output_limit", "killed", "sandbox_error", "busy", "rejected"]
    exit_code: Union[int, None]
    signal: Union[int, None]
    stdout: str
    stderr: str
    wall_ms: float
    cpu_ms: Union[float, None]
    truncated: bool
    queue_ms: float
    message: Union[str, None]
    pid: Union[int, None]


class ShutdownParams(TypedDict, total=False):
    pass


class _SolveParamsRequired(TypedDict):
    problem: str


class SolveParams(_SolveParamsRequired, total=False):
    reference: str
    progress_token: Union[str, int]
    template: Literal["torl", "chat"]
    max_tool_calls: int
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    seed: int
    stop: List[str]
    instruction: str
    accept_unboxed_answers: bool
    require_evaluated_answers: bool
    trigger: Literal["block_close", "output_marker"]
    max_prompt_tokens: int


class ToolCall(TypedDict):
    code: str
    status: Literal["ok", "error", "timeout", "memory", "output_limit", "killed", "sandbox_error", "busy", "rejected"]
    observation: str
    wall_ms: float


class SolveResult(TypedDict):
    text: str
    answer: Union[str, None]
    grade: Union[Grade, None]
    tool_calls: List[ToolCall]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    elapsed_ms: float


class StatusParams(TypedDict, total=False):
    pass


class _IsolationRequired(TypedDict):
    namespaces: Literal["root", "user", "none"]
    network: bool
    private_tmp: List[str]
    pid_namespace: bool
    proc: Literal["hidepid", "per_run", "shared"]
    errors: List[str]


class Isolation(_IsolationRequired, total=False):
    """What the kernel let the sandbox workers set up (docs/SANDBOX.md)."""
    pid_namespace_method: Literal["setns", "supervisor"]
    run_uid: int
    exposed: List[str]
    interpreter_binds: List[str]


class _SandboxMetricsRequired(TypedDict):
    pool_size: int
    workers_alive: int
    workers_busy: int
    queue_depth: int
    queue_capacity: int
    workers_replaced: int
    worker_pids: List[int]
    runs_total: int
    status_counts: Dict[str, int]
    python_path: str


class SandboxMetrics(_SandboxMetricsRequired, total=False):
    """The sandbox pool: workers, queue, runs per status, isolation."""
    isolation: Isolation
    python_version: str
    last_worker_error: str


class StatusResultQueueModel(TypedDict):
    """The model's scheduler: the job using the model, work waiting for it, and how solve requests were batched."""
    model_job: Union[str, None]
    model_jobs_waiting: int
    solves_waiting: int
    solve_batches: int
    solves_decoded: int
    largest_solve_batch: int


class StatusResultQueue(TypedDict):
    sandbox_waiting: int
    sandbox_busy_workers: int
    model: StatusResultQueueModel


class StatusResultTrainingLora1(TypedDict):
    rank: int
    alpha: float
    targets: List[Literal["q", "k", "v", "o", "gate", "up", "down"]]
    use_rslora: bool
    parameters: int
    bytes: int


class StatusResultTraining(TypedDict):
    step: int
    running: bool
    unsaved_steps: int
    lora: Union[StatusResultTrainingLora1, None]


class StatusResultMemory(TypedDict):
    rss_bytes: int


class StatusResultCluster2(TypedDict):
    rank: int
    world_size: int
    prefix: str


class StatusResult(TypedDict):
    model: Union[ModelInfo, None]
    sandbox: SandboxMetrics
    queue: StatusResultQueue
    training: StatusResultTraining
    memory: StatusResultMemory
    uptime_s: float
    kernels: str
    cluster: Union[None, StatusResultCluster2]


class TrainStepParams(TypedDict, total=False):
    problems: List[Problem]
    rollout_ids: List[str]
    group_size: int
    learning_rate: float
    warmup_steps: int
    cosine_total_steps: int
    min_lr_ratio: float
    eps_low: float
    eps_high: float
    clip_ratio_c: float
    dual_clip: bool
    old_logprobs: Literal["rollout", "recompute"]
    tis_cap: float
    kl_coef: float
    entropy_coef: float
    advantage: Literal["std", "dr_grpo"]
    aggregation: Literal["token_mean", "seq_mean_token_mean", "dr_grpo"]
    micro_batch: int
    activations: Literal["keepAll", "recomputePerLayer"]
    max_grad_norm: float
    weight_decay: float
    progress_token: Union[str, int]
    template: Literal["torl", "chat"]
    max_tool_calls: int
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    seed: int
    stop: List[str]
    instruction: str
    accept_unboxed_answers: bool
    require_evaluated_answers: bool
    trigger: Literal["block_close", "output_marker"]
    max_prompt_tokens: int
    lora_rank: int
    lora_alpha: float
    lora_targets: List[Literal["q", "k", "v", "o", "gate", "up", "down"]]
    use_rslora: bool


class TrainStepResult(TypedDict):
    step: int
    metrics: Dict[str, Union[float, int, None]]


# Methods whose params or result is a shared type, under the method's own name.
ClusterLeaveParams = Dict[str, Any]
ClusterLeaveResult = Dict[str, Any]
ModelLoadResult = ModelInfo
SandboxExecuteResult = ExecutionResult


# method name -> (params type, result type)
METHODS = {
    "$/cancelRequest": (CancelRequestParams, None),
    "checkpoint/restore": (CheckpointRestoreParams, CheckpointRestoreResult),
    "checkpoint/save": (CheckpointSaveParams, CheckpointSaveResult),
    "cluster/join": (ClusterJoinParams, ClusterJoinResult),
    "cluster/leave": (Dict[str, Any], Dict[str, Any]),
    "cluster/train_step": (ClusterTrainStepParams, ClusterTrainStepResult),
    "evaluate": (EvaluateParams, EvaluateResult),
    "exit": (Union[ExitParams], None),
    "initialize": (InitializeParams, InitializeResult),
    "model/export": (ModelExportParams, ModelExportResult),
    "model/load": (ModelLoadParams, ModelInfo),
    "rollout": (RolloutParams, RolloutResult),
    "sandbox/execute": (SandboxExecuteParams, ExecutionResult),
    "shutdown": (Union[ShutdownParams], None),
    "solve": (SolveParams, SolveResult),
    "status": (Union[StatusParams], StatusResult),
    "train_step": (TrainStepParams, TrainStepResult),
}

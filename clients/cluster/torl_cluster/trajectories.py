"""Trajectories as arrays: what crosses machines after a rollout. The node turns the daemon's JSON `rollout` result
into a `TrajectoryBatch` (token ids int32, log-probabilities float32, loss masks uint8, concatenated with offsets,
plus one small array per per-response figure); Ray moves it through its object store. The driver merges the
batches of a step and computes the step's reward and behaviour metrics from them."""
import math
from dataclasses import dataclass, field
from typing import List

import numpy as np

# The step metrics that describe the sampled responses: each rank's `train_step` reports them for its own
# trajectories only, so the driver recomputes them over the whole step (same definitions as the trainer's
# StepMetrics, Sources/RL/Training/GRPOTrainer.swift).
RESPONSE_METRICS = ("reward_mean", "reward_standard_deviation", "accuracy", "code_share", "code_executed_share",
                    "answered_share", "mean_tool_calls", "mean_response_length", "truncation_rate")


@dataclass
class TrajectoryBatch:
    """The G trajectories of one group (or several groups), flattened. Trajectory t's tokens are
    token_ids[offsets[t]:offsets[t+1]], aligned entry for entry with logprobs and loss_mask."""
    rollout_id: str
    prompt_index: int
    token_ids: np.ndarray        # int32 [total tokens]
    logprobs: np.ndarray         # float32 [total tokens]
    loss_mask: np.ndarray        # uint8 [total tokens]
    offsets: np.ndarray          # int64 [n + 1]
    prompt_lengths: np.ndarray   # int32 [n]
    rewards: np.ndarray          # float64 [n]
    correct: np.ndarray          # uint8 [n]: graded correct
    answered: np.ndarray         # uint8 [n]: an answer was extracted
    has_code: np.ndarray         # uint8 [n]
    code_executed: np.ndarray    # uint8 [n]
    tool_calls: np.ndarray       # int32 [n]
    tool_call_seconds: np.ndarray  # float64 [n]: summed wall time of the response's tool calls
    finish_reasons: List[str] = field(default_factory=list)

    @property
    def count(self):
        return len(self.prompt_lengths)

    def tokens(self, index):
        return self.token_ids[self.offsets[index]:self.offsets[index + 1]]

    @property
    def response_lengths(self):
        return np.diff(self.offsets) - self.prompt_lengths

    @classmethod
    def from_rollout(cls, result, prompt_index):
        """From the daemon's `rollout` result (schemas/rollout.json) of one problem."""
        trajectories = result["trajectories"]
        if not trajectories:
            raise ValueError("rollout %s returned no trajectories" % result.get("rollout_id"))
        lengths = []
        for t in trajectories:
            n = len(t["token_ids"])
            if len(t["logprobs"]) != n or len(t["loss_mask"]) != n:
                raise ValueError("rollout %s: token_ids, logprobs and loss_mask differ in length (%d, %d, %d)"
                                 % (result.get("rollout_id"), n, len(t["logprobs"]), len(t["loss_mask"])))
            lengths.append(n)
        offsets = np.zeros(len(trajectories) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])

        def concatenated(key, dtype):
            return np.fromiter((v for t in trajectories for v in t[key]), dtype=dtype, count=int(offsets[-1]))

        def per(getter, dtype):
            return np.array([getter(t) for t in trajectories], dtype=dtype)

        return cls(
            rollout_id=result["rollout_id"], prompt_index=prompt_index,
            token_ids=concatenated("token_ids", np.int32), logprobs=concatenated("logprobs", np.float32),
            loss_mask=concatenated("loss_mask", np.uint8), offsets=offsets,
            prompt_lengths=per(lambda t: t["prompt_length"], np.int32),
            rewards=per(lambda t: t["reward"], np.float64),
            correct=per(lambda t: bool(t["grade"]["correct"]), np.uint8),
            answered=per(lambda t: t.get("answer") is not None, np.uint8),
            has_code=per(lambda t: bool(t.get("has_code", False)), np.uint8),
            code_executed=per(lambda t: bool(t.get("code_executed", False)), np.uint8),
            tool_calls=per(lambda t: len(t["tool_calls"]), np.int32),
            tool_call_seconds=per(lambda t: sum(c.get("wall_ms", 0.0) for c in t["tool_calls"]) / 1000.0, np.float64),
            finish_reasons=[t.get("finish_reason", "") for t in trajectories])


def concatenate(batches):
    """One batch of several (in the given order): offsets shifted, per-response arrays joined."""
    if not batches:
        raise ValueError("no trajectory batches to merge")
    token_counts = [int(b.offsets[-1]) for b in batches]
    starts = np.concatenate([[0], np.cumsum(token_counts)[:-1]])
    offsets = np.concatenate([[0]] + [b.offsets[1:] + start for b, start in zip(batches, starts)]).astype(np.int64)

    def joined(name):
        return np.concatenate([getattr(b, name) for b in batches])

    return TrajectoryBatch(
        rollout_id=",".join(b.rollout_id for b in batches), prompt_index=-1,
        token_ids=joined("token_ids"), logprobs=joined("logprobs"), loss_mask=joined("loss_mask"), offsets=offsets,
        prompt_lengths=joined("prompt_lengths"), rewards=joined("rewards"), correct=joined("correct"),
        answered=joined("answered"), has_code=joined("has_code"), code_executed=joined("code_executed"),
        tool_calls=joined("tool_calls"), tool_call_seconds=joined("tool_call_seconds"),
        finish_reasons=[reason for b in batches for reason in b.finish_reasons])


def response_metrics(batch):
    """The step's response metrics over every trajectory of `batch`, as the trainer defines them: population
    standard deviation of the rewards, accuracy = answered and correct, code_executed_share over the responses
    that made tool calls (None without any), truncation = finish reason max_tokens."""
    n = batch.count
    if n == 0:
        raise ValueError("no trajectories")
    rewards = batch.rewards
    mean = float(rewards.sum() / n)
    with_calls = batch.tool_calls > 0
    return {
        "reward_mean": mean,
        "reward_standard_deviation": math.sqrt(float(((rewards - mean) ** 2).sum() / n)),
        "accuracy": float(np.count_nonzero(batch.answered & batch.correct)) / n,
        "code_share": float(np.count_nonzero(batch.has_code)) / n,
        "code_executed_share": (float(np.count_nonzero(batch.code_executed[with_calls])) / int(with_calls.sum())
                                if with_calls.any() else None),
        "answered_share": float(np.count_nonzero(batch.answered)) / n,
        "mean_tool_calls": float(batch.tool_calls.sum()) / n,
        "mean_response_length": float(batch.response_lengths.sum()) / n,
        "truncation_rate": sum(1 for reason in batch.finish_reasons if reason == "max_tokens") / n,
    }


def trained_tokens(batch):
    return int(np.count_nonzero(batch.loss_mask))


def merge_rank_metrics(rank_metrics, merged_batch):
    """The step's metrics from every rank's `cluster/train_step` metrics and the step's merged trajectories.

    The loss-side metrics (loss, gradient norm, entropy, clip fractions, ratio, KL, learning rate, skip flags) are
    all-reduced by the daemons, so every rank reports the same value: rank 0's is kept. The response metrics are
    recomputed over all trajectories, trained tokens counted from the merged loss masks, throughput summed, and the
    update takes as long as its slowest rank."""
    if not rank_metrics:
        raise ValueError("no rank metrics to merge")
    merged = dict(rank_metrics[0])
    merged.update(response_metrics(merged_batch))
    merged["trained_tokens"] = trained_tokens(merged_batch)
    update_seconds = [m.get("update_seconds") for m in rank_metrics if m.get("update_seconds") is not None]
    if update_seconds:
        merged["update_seconds"] = max(update_seconds)
    rates = [m.get("tokens_per_second") for m in rank_metrics]
    merged["tokens_per_second"] = None if any(r is None for r in rates) else float(sum(rates))
    merged["sandbox_seconds"] = float(merged_batch.tool_call_seconds.sum())
    return merged


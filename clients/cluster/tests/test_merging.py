"""Trajectories to arrays and the step's merged metrics; evaluation figures over merged records; all against
values computed by hand."""
import math

import numpy as np
import pytest

from torl_cluster.evaluation import merge_response_metrics, order_records, pass_at_k, pass_ks, record_metrics
from torl_cluster.trajectories import (TrajectoryBatch, concatenate, merge_rank_metrics, response_metrics,
                                       trained_tokens)


def trajectory(tokens, prompt, reward, correct, answer="1", code=False, calls=0, executed=False, finish="eos"):
    n = len(tokens)
    return {"problem_id": "p", "group": 0, "text": "", "token_ids": tokens, "prompt_length": prompt,
            "logprobs": [0.0] * prompt + [-0.5] * (n - prompt), "loss_mask": [0] * prompt + [1] * (n - prompt),
            "tool_calls": [{"wall_ms": 250.0}] * calls, "grade": {"correct": correct}, "reward": reward,
            "answer": answer, "has_code": code, "code_executed": executed, "finish_reason": finish}


def rollout(rollout_id, trajectories):
    return {"rollout_id": rollout_id, "trajectories": trajectories, "metrics": {}}


def test_from_rollout_arrays_and_dtypes():
    batch = TrajectoryBatch.from_rollout(rollout("r1", [trajectory([5, 6, 7, 8], 2, 1.0, True),
                                                        trajectory([5, 6, 9], 2, -1.0, False)]), prompt_index=3)
    assert batch.token_ids.dtype == np.int32 and batch.logprobs.dtype == np.float32
    assert batch.loss_mask.dtype == np.uint8
    assert batch.token_ids.tolist() == [5, 6, 7, 8, 5, 6, 9]
    assert batch.offsets.tolist() == [0, 4, 7]
    assert batch.tokens(1).tolist() == [5, 6, 9]
    assert batch.response_lengths.tolist() == [2, 1]
    assert trained_tokens(batch) == 3
    assert batch.prompt_index == 3 and batch.rollout_id == "r1"


def test_from_rollout_rejects_misaligned_arrays():
    bad = trajectory([1, 2, 3], 1, 0.0, False)
    bad["logprobs"] = [0.0]
    with pytest.raises(ValueError, match="differ in length"):
        TrajectoryBatch.from_rollout(rollout("r", [bad]), 0)


def test_response_metrics_over_merged_groups_by_hand():
    a = TrajectoryBatch.from_rollout(rollout("a", [
        trajectory([1, 2, 3, 4], 2, 1.0, True, code=True, calls=1, executed=True),
        trajectory([1, 2, 3], 2, -1.0, False, answer=None, finish="max_tokens")]), 0)
    b = TrajectoryBatch.from_rollout(rollout("b", [
        trajectory([7, 8, 9, 9, 9], 2, 1.0, True, code=True, calls=2, executed=False),
        trajectory([7, 8, 1], 2, 0.5, True)]), 1)
    merged = concatenate([a, b])
    assert merged.offsets.tolist() == [0, 4, 7, 12, 15]
    assert merged.tokens(2).tolist() == [7, 8, 9, 9, 9]
    m = response_metrics(merged)
    rewards = [1.0, -1.0, 1.0, 0.5]
    mean = sum(rewards) / 4
    assert m["reward_mean"] == pytest.approx(0.375)
    assert m["reward_standard_deviation"] == pytest.approx(math.sqrt(sum((r - mean) ** 2 for r in rewards) / 4))
    assert m["accuracy"] == 0.75           # 3 answered and correct
    assert m["answered_share"] == 0.75     # one answer is None
    assert m["code_share"] == 0.5
    assert m["code_executed_share"] == 0.5  # of the 2 responses with calls, 1 ran ok
    assert m["mean_tool_calls"] == 0.75
    assert m["mean_response_length"] == (2 + 1 + 3 + 1) / 4
    assert m["truncation_rate"] == 0.25
    assert merged.tool_call_seconds.sum() == pytest.approx(0.75)


def test_code_executed_share_is_none_without_calls():
    batch = TrajectoryBatch.from_rollout(rollout("a", [trajectory([1, 2], 1, 0.0, False)]), 0)
    assert response_metrics(batch)["code_executed_share"] is None


def test_merge_rank_metrics_keeps_global_loss_and_recomputes_responses():
    batch = TrajectoryBatch.from_rollout(rollout("a", [trajectory([1, 2, 3], 1, 1.0, True),
                                                       trajectory([1, 2], 1, -1.0, False)]), 0)
    rank0 = {"step": 4, "loss": 0.25, "gradient_norm": 1.5, "reward_mean": 9.0, "update_seconds": 2.0,
             "tokens_per_second": 100.0, "trained_tokens": 1}
    rank1 = dict(rank0, reward_mean=-9.0, update_seconds=3.0, tokens_per_second=50.0)
    merged = merge_rank_metrics([rank0, rank1], batch)
    assert merged["loss"] == 0.25 and merged["gradient_norm"] == 1.5 and merged["step"] == 4
    assert merged["reward_mean"] == 0.0
    assert merged["update_seconds"] == 3.0
    assert merged["tokens_per_second"] == 150.0
    assert merged["trained_tokens"] == 3
    rank1["tokens_per_second"] = None
    assert merge_rank_metrics([rank0, rank1], batch)["tokens_per_second"] is None


def test_pass_at_k_against_binomials():
    # n=5, c=2: pass@1 = 2/5; pass@2 = 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 3, 3) == 1.0  # n - c < k
    assert pass_at_k(5, 2, 6) is None
    assert pass_ks(1) == [1] and pass_ks(4) == [1, 2, 4] and pass_ks(6) == [1, 2, 4, 6]


def record(pid, grades, majority):
    return {"problem_id": pid, "responses": [{"grade": {"correct": g}} for g in grades], "correct": sum(grades),
            "majority_correct": majority}


def test_record_metrics_by_hand():
    records = [record("a", [True, False, False, True], True), record("b", [False] * 4, False),
               record("c", [False, True, True, True], True)]
    m = record_metrics(records, 4)
    assert m["accuracy"] == pytest.approx(1 / 3)
    assert m["avg@4"] == pytest.approx((0.5 + 0 + 0.75) / 3)
    assert m["pass@1"] == pytest.approx((0.5 + 0 + 0.75) / 3)
    assert m["pass@2"] == pytest.approx(((1 - 1 / 6) + 0 + 1) / 3)
    assert m["pass@4"] == pytest.approx(2 / 3)
    assert m["maj@4"] == pytest.approx(2 / 3)
    assert m["problems"] == 3.0 and m["samples"] == 4.0


def test_merge_response_metrics_rebuilds_counts_exactly():
    # node A: 3 trajectories, 1 correct, 2 with calls (3 calls, 2 ok), 1 of those executed ok
    a = {"trajectories": 3.0, "correct_share": 1 / 3, "reward_mean": 0.1, "tool_call_share": 2 / 3,
         "code_executed_share": 0.5, "tool_calls_mean": 1.0, "tool_call_ok_share": 2 / 3,
         "tool_call_wall_ms_mean": 10.0, "sampled_tokens": 30.0, "calls_ok": 2.0, "finish_eos": 3.0,
         "response_tokens_mean": 7.0, "accuracy": 0.0, "pass@1": 0.0}
    # node B: 7 trajectories, 4 correct, 0 calls
    b = {"trajectories": 7.0, "correct_share": 4 / 7, "reward_mean": 0.3, "tool_call_share": 0.0,
         "code_executed_share": None, "tool_calls_mean": 0.0, "tool_call_ok_share": None,
         "tool_call_wall_ms_mean": None, "sampled_tokens": 70.0, "finish_eos": 6.0, "finish_max_tokens": 1.0,
         "response_tokens_mean": 10.0}
    m = merge_response_metrics([a, b])
    assert m["trajectories"] == 10.0
    assert m["correct_share"] == 5 / 10
    assert m["reward_mean"] == pytest.approx((0.3 + 2.1) / 10)
    assert m["code_executed_share"] == 0.5
    assert m["tool_calls_mean"] == 0.3
    assert m["tool_call_ok_share"] == 2 / 3
    assert m["tool_call_wall_ms_mean"] == pytest.approx(10.0)
    assert m["response_tokens_mean"] == (21 + 70) / 10
    assert m["sampled_tokens"] == 100.0 and m["calls_ok"] == 2.0
    assert m["finish_eos"] == 9.0 and m["finish_max_tokens"] == 1.0
    assert "accuracy" not in m and "pass@1" not in m, "record figures come from the merged records"


def test_order_records_by_problem_id():
    problems = [{"id": "x"}, {"id": "y"}, {"id": "x"}]
    records = [{"problem_id": "y", "n": 1}, {"problem_id": "x", "n": 0}, {"problem_id": "x", "n": 2}]
    assert [r["n"] for r in order_records(problems, records)] == [0, 1, 2]

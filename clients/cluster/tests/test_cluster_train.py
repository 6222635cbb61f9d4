"""`torl-cluster train --local-nodes 1` (a node alone trains with the plain `train_step` on its stored rollouts):
the run equals, bit for bit, the same rollouts and updates made by hand on one daemon (so the driver sends each
group its keyed seed, the stored rollouts in prompt order and every hyper-parameter); `--resume` from a checkpoint
gives the same weights as the uninterrupted run; metrics, checkpoints, export, TensorBoard and the JSON summary."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import INSTRUCTION, PROBLEMS, export_weights
from torl_client import Client
from torl_cluster.seeds import group_seed, problem_order, step_problems

SEED, STEPS, BATCH, GROUP, MAX_TOKENS = 7, 2, 2, 2, 24
HYPER = dict(learning_rate=1e-4, warmup_steps=0, min_lr_ratio=0.0, eps_low=0.2, eps_high=0.2, clip_ratio_c=3.0,
             dual_clip=True, kl_coef=0.0, entropy_coef=1e-3, advantage="std", aggregation="token_mean",
             micro_batch=4096, max_grad_norm=1.0, weight_decay=0.0)
GENERATION = dict(template="chat", max_tool_calls=1, accept_unboxed_answers=True, require_evaluated_answers=False,
                  instruction=INSTRUCTION, max_tokens=MAX_TOKENS, temperature=1.0)
CLI = ["--batch", str(BATCH), "--group-size", str(GROUP), "--max-tokens", str(MAX_TOKENS), "--lr", "1e-4",
       "--entropy", "1e-3", "--seed", str(SEED), "--template", "chat", "--instruction", INSTRUCTION,
       "--accept-unboxed-answers"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("train") / "problems.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    return str(path)


def cluster_train(torl_bin, model, *arguments):
    env = dict(os.environ, TORL_BIN=torl_bin, TORL_MODEL=model)
    completed = subprocess.run([sys.executable, "-m", "torl_cluster.cli", "train", "--local-nodes", "1",
                                "--cpus-per-node", "1", "--pool-size", "2", "--time-limit", "500", "--json",
                                *arguments], capture_output=True, text=True, env=env, timeout=600)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout), completed.stderr


def by_hand(torl_bin, model, export):
    """The same steps on one daemon: one `rollout` per group with its keyed seed, then `train_step` on them."""
    order = problem_order(len(PROBLEMS), SEED)
    metrics = []
    with Client.spawn(torl=torl_bin, args=["--model", model, "--pool-size", "2"]) as client:
        for step in range(STEPS):
            chosen = step_problems(step, PROBLEMS, order, BATCH)
            ids = [client.rollout([p], group_size=GROUP, seed=group_seed(SEED, step, j), **GENERATION)["rollout_id"]
                   for j, p in enumerate(chosen)]
            metrics.append(client.train_step(rollout_ids=ids, **HYPER)["metrics"])
        client.request("model/export", {"path": export})
    return metrics


def test_single_node_run_equals_hand_made_steps_and_resume(torl_bin, model, dataset, tmp_path):
    checkpoints, metrics_path = str(tmp_path / "ckpt"), str(tmp_path / "metrics.jsonl")
    summary, stderr = cluster_train(torl_bin, model, "--dataset", dataset, "--steps", str(STEPS), *CLI,
                                    "--checkpoint-every", "1", "--checkpoint-dir", checkpoints,
                                    "--metrics", metrics_path, "--export", str(tmp_path / "cluster"),
                                    "--tensorboard", str(tmp_path / "tb"))
    assert summary["step"] == STEPS and summary["nodes"] == 1
    assert summary["checkpoints"] == [os.path.join(checkpoints, "step-%d.safetensors" % s) for s in (1, 2)]
    assert summary["retries"] == dict.fromkeys(
        ["rollout_retries", "update_retries", "group_formations", "recoveries", "lost_nodes", "rewinds"], 0)
    assert "step 2/2" in stderr
    lines = [json.loads(line) for line in open(metrics_path)]
    assert [m["step"] for m in lines] == [1, 2]
    assert all(m["cluster_nodes"] == 1 and m["cluster_rollout_retries"] == 0 for m in lines)
    assert os.listdir(str(tmp_path / "tb"))

    expected = by_hand(torl_bin, model, str(tmp_path / "hand"))
    for got, want in zip(lines, expected):
        assert set(want) <= set(got), "every train_step metric is in the cluster's line"
        for key in ("reward_mean", "reward_standard_deviation", "accuracy", "code_share", "answered_share",
                    "mean_tool_calls", "mean_response_length", "truncation_rate", "trained_tokens", "loss",
                    "gradient_norm", "entropy", "learning_rate"):
            assert got[key] == pytest.approx(want[key], rel=1e-12, abs=1e-12), key
    assert lines[0]["gradient_norm"] > 0, "the steps moved the weights"
    cluster, hand = export_weights(str(tmp_path / "cluster")), export_weights(str(tmp_path / "hand"))
    assert cluster.keys() == hand.keys()
    for name in hand:
        assert np.array_equal(cluster[name], hand[name]), name

    # A driver restarted with --resume continues from the checkpoint: the same final weights.
    resumed, stderr = cluster_train(torl_bin, model, "--dataset", dataset, "--steps", str(STEPS), *CLI,
                                    "--resume", checkpoints.rstrip("/") + "/step-1.safetensors",
                                    "--export", str(tmp_path / "resumed"))
    assert "resumed from" in stderr and resumed["step"] == STEPS
    again = export_weights(str(tmp_path / "resumed"))
    for name in hand:
        assert np.array_equal(again[name], hand[name]), name
    # Asking for steps the checkpoint already has is an error, not an empty run.
    env = dict(os.environ, TORL_BIN=torl_bin, TORL_MODEL=model)
    refused = subprocess.run([sys.executable, "-m", "torl_cluster.cli", "train", "--local-nodes", "1",
                              "--cpus-per-node", "1", "--dataset", dataset, "--steps", "2", "--resume", checkpoints,
                              *CLI], capture_output=True, text=True, env=env, timeout=300)
    assert refused.returncode == 1 and "nothing to train" in refused.stderr

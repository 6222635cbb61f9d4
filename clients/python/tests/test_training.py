"""GRPO through the daemon on the default model: train_step, checkpoints, export. Runs after test_daemon.py
(the updates change the session daemon's weights); every answer is checked against its JSON Schema."""
import json
import os
import subprocess
import threading
import time

import pytest

from torl_client import Client, RPCError

PROBLEM = {"id": "add", "problem": "What is 2 + 3? Put the answer in \\boxed{}.", "answer": "5"}
TINY = dict(group_size=2, max_tokens=16, max_tool_calls=0, learning_rate=1e-5, seed=3)


@pytest.fixture()
def client(daemon):
    with Client.connect(daemon) as connection:
        yield connection


def test_train_step_updates_and_solve_still_works(client, schemas):
    before = client.status()["training"]
    # A small entropy bonus gives the step a gradient whatever the rewards, so the passes run and the trainer's
    # log-probabilities exist (with equal rewards and no bonus the step would skip them).
    params = dict(TINY, problems=[PROBLEM], entropy_coef=1e-4)
    schemas("train_step", "params", params)
    reports = []
    result = client.train_step(on_progress=reports.append, **params)
    schemas("train_step", "result", result)
    assert result["step"] == before["step"] + 1
    metrics = result["metrics"]
    assert metrics["step"] == result["step"]
    assert metrics["trained_tokens"] > 0
    assert metrics["generation_seconds"] > 0 and metrics["update_seconds"] > 0
    assert metrics["learning_rate"] == pytest.approx(1e-5)
    assert 0 <= metrics["accuracy"] <= 1
    assert metrics["forward_backward_skipped"] == 0
    assert metrics["log_probability_mismatch_max"] < 0.05, "the trainer scores sampled tokens as the sampler did"
    assert any(r.get("kind") == "report" for r in reports)
    status = client.status()
    schemas("status", "result", status)
    assert status["training"] == {"step": result["step"], "running": False,
                                  "unsaved_steps": status["training"]["unsaved_steps"], "lora": None}
    assert status["training"]["unsaved_steps"] >= 1, "the step just taken is not saved"
    solved = client.solve("What is 1 + 1?", max_tokens=8)
    schemas("solve", "result", solved)
    assert solved["finish_reason"] in ("eos", "max_tokens", "stop_string")


def test_solve_waits_while_a_train_step_runs(daemon):
    """The documented policy: model work that arrives during an update waits for it; status never waits."""
    finished = {}

    def train():
        with Client.connect(daemon) as connection:
            finished["step"] = connection.train_step(problems=[PROBLEM], **TINY)["step"]
            finished["train"] = time.monotonic()

    thread = threading.Thread(target=train)
    thread.start()
    with Client.connect(daemon) as connection:
        deadline = time.monotonic() + 120
        while not connection.status()["training"]["running"]:
            assert thread.is_alive(), "the train_step finished before status ever reported it running"
            assert time.monotonic() < deadline, "status never reported the train_step running"
            time.sleep(0.01)
        solved = connection.solve("What is 1 + 1?", max_tokens=4)
        solve_finished = time.monotonic()
        thread.join()
        assert solved["finish_reason"] in ("eos", "max_tokens", "stop_string")
        assert solve_finished > finished["train"], "the solve ran during the update"
        training = connection.status()["training"]
        assert (training["step"], training["running"]) == (finished["step"], False)


def test_train_step_on_a_stored_rollout(client, schemas):
    rollout = client.rollout([PROBLEM], group_size=2, max_tokens=12, max_tool_calls=0, seed=5)
    step = client.status()["training"]["step"]
    result = client.train_step(rollout_ids=[rollout["rollout_id"]], learning_rate=1e-5, advantage="dr_grpo",
                               aggregation="seq_mean_token_mean")
    schemas("train_step", "result", result)
    assert result["step"] == step + 1
    expected = sum(sum(t["loss_mask"]) for t in rollout["trajectories"])
    assert result["metrics"]["trained_tokens"] == expected
    # One group: the gradient is exactly zero, and the passes skipped, iff its rewards are equal.
    equal_rewards = len({t["reward"] for t in rollout["trajectories"]}) == 1
    assert result["metrics"]["forward_backward_skipped"] == (1 if equal_rewards else 0)


def test_train_step_without_a_gradient_skips_the_passes(client, schemas):
    """One-token responses hold no answer: equal rewards, every advantage 0 and no KL or entropy term, so the loss
    gradient is exactly zero; the step is AdamW on that zero gradient without the forward and backward passes."""
    rollout = client.rollout([PROBLEM], group_size=2, max_tokens=1, max_tool_calls=0, seed=6)
    assert len({t["reward"] for t in rollout["trajectories"]}) == 1, "one token cannot hold a boxed answer"
    step = client.status()["training"]["step"]
    result = client.train_step(rollout_ids=[rollout["rollout_id"]], learning_rate=1e-5)
    schemas("train_step", "result", result)
    metrics = result["metrics"]
    assert result["step"] == metrics["step"] == step + 1, "a zero-gradient step is still an update"
    assert metrics["forward_backward_skipped"] == 1
    assert metrics["loss"] == 0 and metrics["gradient_norm"] == 0 and metrics["clip_fraction"] == 0
    assert metrics["trained_tokens"] == sum(sum(t["loss_mask"]) for t in rollout["trajectories"])
    for key in ("entropy", "mean_ratio", "log_probability_mismatch_mean", "log_probability_mismatch_max",
                "tokens_per_second", "kl"):
        assert key in metrics and metrics[key] is None, "%s needs the forward pass: null, not left out" % key


def test_train_step_rejects_bad_params_by_name(client):
    cases = [({"problems": [PROBLEM], "eps_low": 2}, "eps_low"),
             ({"problems": [PROBLEM], "group_size": 1}, "group_size"),
             ({"problems": [PROBLEM], "temperature": 0}, "temperature"),
             ({"problems": [PROBLEM], "advantage": "median"}, "advantage"),
             ({"rollout_ids": ["r-does-not-exist"]}, "rollout_ids"),
             ({}, "problems"),
             ({"problems": [PROBLEM], "learning_rat": 1}, "learning_rat")]
    step = client.status()["training"]["step"]
    for params, field in cases:
        with pytest.raises(RPCError) as error:
            client.request("train_step", params)
        assert error.value.code == -32602, params
        assert error.value.data["field"] == field, params
    assert client.status()["training"]["step"] == step


def test_checkpoint_round_trip_restores_the_step(client, schemas, tmp_path):
    path = str(tmp_path / "ckpt.safetensors")
    saved = client.request("checkpoint/save", {"path": path})
    schemas("checkpoint/save", "result", saved)
    assert saved["path"] == path and os.path.getsize(path) > 0
    client.train_step(problems=[PROBLEM], **TINY)
    assert client.status()["training"]["step"] == saved["step"] + 1
    # The step after the checkpoint is not saved: restoring over it must be asked for explicitly.
    with pytest.raises(RPCError) as refusal:
        client.request("checkpoint/restore", {"path": path})
    assert refusal.value.code == -32029 and refusal.value.data["unsaved_steps"] == 1
    restored = client.request("checkpoint/restore", {"path": path, "discard_training": True})
    schemas("checkpoint/restore", "result", restored)
    assert restored == {"path": path, "step": saved["step"]}
    assert client.status()["training"]["step"] == saved["step"]
    with pytest.raises(RPCError) as error:
        client.request("checkpoint/restore", {"path": str(tmp_path / "missing.safetensors")})
    assert "missing.safetensors" in error.value.message


def test_model_export_writes_a_hugging_face_folder(client, schemas, tmp_path, torl_bin):
    folder = str(tmp_path / "export")
    result = client.request("model/export", {"path": folder})
    schemas("model/export", "result", result)
    assert result["path"] == folder
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(result["files"])
    assert sorted(os.listdir(folder)) == sorted(result["files"])
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    assert config["model_type"] == "llama" and config["num_hidden_layers"] == 30
    with open(os.path.join(folder, "model.safetensors"), "rb") as handle:
        header_length = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(header_length))
    assert header["model.embed_tokens.weight"]["shape"] == [49152, 576]
    assert header["model.embed_tokens.weight"]["dtype"] == "F32"
    # The exported tokenizer (written from the GGUF metadata) encodes like the GGUF one, chat template included.
    text = "What is 12345 + 678? Use ```python``` if needed."
    def ids(model):
        return subprocess.run([torl_bin, "tokenize", "--chat", "--model", model, text], check=True,
                              capture_output=True, text=True).stdout
    assert ids(folder) == ids(os.environ["TORL_MODEL"])
    with pytest.raises(RPCError):
        client.request("model/export", {"path": folder})  # not empty any more


def test_torl_train_cli_writes_metrics_checkpoint_and_export(torl_bin, tmp_path):
    """`torl train`: the same step metrics per JSONL line as train_step returns, a checkpoint it resumes from."""
    model = os.environ["TORL_MODEL"]
    metrics = tmp_path / "metrics.jsonl"
    common = [torl_bin, "train", "--model", model, "--synthetic", "--count", "4", "--batch", "1", "--group-size", "2",
              "--max-tokens", "8", "--max-tool-calls", "0", "--lr", "1e-5", "--seed", "4", "--metrics", str(metrics)]
    first = subprocess.run(common + ["--steps", "1", "--checkpoint-every", "1", "--checkpoint-dir", str(tmp_path / "ck")],
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "step 1/1" in first.stderr
    checkpoint = tmp_path / "ck" / "step-1.safetensors"
    assert checkpoint.exists()
    second = subprocess.run(common + ["--steps", "2", "--resume", str(checkpoint), "--export", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert "resumed from" in second.stderr and "step 2/2" in second.stderr
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2]
    for line in lines:
        assert {"reward_mean", "accuracy", "loss", "generation_seconds", "sandbox_seconds", "grading_seconds",
                "update_seconds", "trained_tokens"} <= set(line)
        assert line["trained_tokens"] > 0
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(os.listdir(tmp_path / "out"))

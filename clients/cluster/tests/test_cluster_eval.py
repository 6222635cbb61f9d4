"""`torl-cluster eval --local-nodes 2` against one `evaluate` of the same problems on one daemon: identical
per-problem records and identical figures, sampled (k = 2 at temperature 1): each node's share carries
`problem_indices`, so every problem draws the random streams it draws in the whole request."""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import INSTRUCTION, PROBLEMS
from torl_client import Client

SETTINGS = ["--template", "chat", "--instruction", INSTRUCTION, "--accept-unboxed-answers", "--max-tokens", "72"]
WIRE = dict(template="chat", instruction=INSTRUCTION, accept_unboxed_answers=True, max_tokens=72)
# Greedy (the published evaluation) and sampled (k = 2 at temperature 1: the shares' random streams matter).
MODES = {"greedy": (["--samples", "1", "--temperature", "0", "--seed", "0"], dict(samples=1, temperature=0.0, seed=0)),
         "sampled": (["--samples", "2", "--temperature", "1", "--seed", "5"], dict(samples=2, temperature=1.0, seed=5))}
# Timing and throughput differ from run to run; every other figure must be equal.
TIMING = {"elapsed_seconds", "sampled_tokens_per_second", "nodes", "rerun_problems", "tool_call_wall_ms_mean"}


def strip_timing(record):
    for response in record["responses"]:
        for call in response["tool_calls"]:
            call.pop("wall_ms", None)
    return record


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "problems.jsonl"
    # One problem without an id: both runs must number it the same way (its line number).
    lines = [json.dumps(p) for p in PROBLEMS] + [json.dumps({"problem": "What is 9 * 9?", "answer": 81})]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_two_node_eval_equals_single_evaluate(mode, torl_bin, model, dataset, tmp_path):
    flags, wire = MODES[mode]
    single_records = str(tmp_path / "single.jsonl")
    with Client.spawn(torl=torl_bin, args=["--model", model, "--pool-size", "2"]) as client:
        single = client.evaluate(dataset=dataset, output=single_records, **WIRE, **wire)
    merged_records = str(tmp_path / "cluster.jsonl")
    env = dict(os.environ, TORL_BIN=torl_bin, TORL_MODEL=model)
    completed = subprocess.run(
        [sys.executable, "-m", "torl_cluster.cli", "eval", "--local-nodes", "2", "--cpus-per-node", "1",
         "--dataset", dataset, "--output", merged_records, "--json", "--time-limit", "400", *SETTINGS, *flags],
        capture_output=True, text=True, env=env, timeout=500)
    assert completed.returncode == 0, completed.stderr
    cluster = json.loads(completed.stdout)
    assert cluster["nodes"] == 2 and cluster["rerun_problems"] == 0

    with open(single_records) as handle:
        expected = {r["problem_id"]: strip_timing(r) for r in map(json.loads, handle)}
    with open(merged_records) as handle:
        got = [strip_timing(json.loads(line)) for line in handle]
    assert [r["problem_id"] for r in got] == ["mul", "add", "sub", "pow", "5"], "merged in the dataset's order"
    assert {r["problem_id"]: r for r in got} == expected
    if mode == "greedy":
        assert any(r["responses"][0]["tool_calls"] for r in got), "the comparison covers tool calls"

    for key, value in single["metrics"].items():
        if key in TIMING:
            continue
        assert key in cluster, key
        if value is None:
            assert cluster[key] is None, key
        else:
            assert cluster[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    k = wire["samples"]
    for key in ("accuracy", "pass@1", "pass@%d" % k, "maj@%d" % k, "avg@%d" % k):
        assert cluster[key] == single["metrics"][key]


def processes_mentioning(text):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    if text.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_time_limit_stops_the_run_and_everything_it_started(torl_bin, model, tmp_path):
    # The daemons' command line names this sandbox interpreter (a link to the real one), which marks them.
    marker = tmp_path / "marked-python"
    os.symlink(os.environ.get("TORL_PYTHON") or sys.executable, marker)
    env = dict(os.environ, TORL_BIN=torl_bin, TORL_MODEL=model)
    run = subprocess.Popen(
        [sys.executable, "-m", "torl_cluster.cli", "eval", "--local-nodes", "2", "--cpus-per-node", "1",
         "--dataset", os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "gsm8k_test.jsonl"),
         "--limit", "64", "--max-tokens", "1024", "--python", str(marker), "--time-limit", "25"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    seen = set()
    while run.poll() is None:
        seen.update(processes_mentioning(str(marker)))
        time.sleep(0.5)
    stderr = run.stderr.read()
    assert run.returncode == 1
    assert "--time-limit of 25.0 s reached" in stderr, stderr
    assert len(seen) >= 2, "the two daemons ran before the limit"
    assert processes_mentioning(str(marker)) == [], "a daemon outlived the run"

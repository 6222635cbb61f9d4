# The recorded runs' helper scripts (scripts/gemma3_run_data.py, scripts/plot_run.py): the data split and mix, the
# truncation a resumed run relies on, and the summary's figures against hand-computed ones.
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import gemma3_run_data  # noqa: E402
import plot_run  # noqa: E402


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def test_word_problems_are_short_with_whole_number_answers():
    rows = [{"id": "a", "problem": "x" * 10, "answer": "12"}, {"id": "b", "problem": "x" * 300, "answer": "3"},
            {"id": "c", "problem": "y", "answer": "1.5"}, {"id": "d", "problem": "z", "answer": "-4 "}]
    kept = gemma3_run_data.short_word_problems(rows, max_characters=200)
    assert [row["id"] for row in kept] == ["a", "d"]
    assert kept[1]["answer"] == "-4"


def test_training_and_heldout_sets_are_disjoint_equal_mixes(tmp_path):
    words = [{"id": "w%d" % i, "problem": "word %d" % i, "answer": str(i)} for i in range(10)]
    products = [{"id": "p%d" % i, "problem": "product %d" % i, "answer": str(i)} for i in range(20)]
    heldout_products = [{"id": "h%d" % i, "problem": "held %d" % i, "answer": str(i)} for i in range(3)]
    for name, rows in (("gsm.jsonl", words), ("train.jsonl", products), ("held.jsonl", heldout_products)):
        write_jsonl(tmp_path / name, rows)
    gemma3_run_data.main([str(tmp_path / "gsm.jsonl"), str(tmp_path / "train.jsonl"), str(tmp_path / "held.jsonl"),
                          str(tmp_path / "out"), "--heldout-word-problems", "4"])
    train = plot_run.read_jsonl(tmp_path / "out" / "train.jsonl")
    heldout = plot_run.read_jsonl(tmp_path / "out" / "heldout.jsonl")
    # 6 word problems left for training, matched by 6 products; 3 held-out products matched by 3 of the 4 words.
    assert sum(row["id"].startswith("w") for row in train) == 6 and len(train) == 12
    assert sum(row["id"].startswith("h") for row in heldout) == 3 and len(heldout) == 6
    assert not {row["id"] for row in train} & {row["id"] for row in heldout}
    again = tmp_path / "again"
    gemma3_run_data.main([str(tmp_path / "gsm.jsonl"), str(tmp_path / "train.jsonl"), str(tmp_path / "held.jsonl"),
                          str(again), "--heldout-word-problems", "4"])
    assert plot_run.read_jsonl(again / "train.jsonl") == train, "the split and order are seeded"


def test_truncate_keeps_the_steps_up_to_the_checkpoint(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_jsonl(path, [{"step": s, "reward_mean": s / 10} for s in (1, 2, 3, 4, 5, 6, 7)])
    assert plot_run.truncate(str(path), 5) == 5
    assert [row["step"] for row in plot_run.read_jsonl(path)] == [1, 2, 3, 4, 5]


def test_summary_of_an_arm_against_hand_computed_figures(tmp_path):
    settings = {"model": "m", "batch": 4, "group_size": 8, "arms": ["p1-c1"]}
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    rows = [{"step": s, "reward_mean": r, "accuracy": a, "code_share": 0.5, "effective_code_share": 0.25,
             "mean_response_length": 100.0, "groups": 4, "skipped_groups": k, "generation_seconds": 10.0,
             "update_seconds": u} for s, r, a, k, u in ((1, -1.0, 0.0, 4, 1.0), (2, 0.0, 0.5, 2, 3.0))]
    write_jsonl(tmp_path / "metrics-p1-c1.jsonl", rows)
    write_jsonl(tmp_path / "wall-p1-c1.jsonl", [{"wall_seconds": 30}, {"wall_seconds": 12}])
    (tmp_path / "eval-before-p1-c1.json").write_text(json.dumps({"accuracy": 0.25, "code_share": 0.5}))
    write_jsonl(tmp_path / "eval-during-p1-c1.jsonl", [{"step": 2, "accuracy": 0.5}])
    entry = plot_run.summarize(str(tmp_path))["runs"]["p1-c1"]
    assert entry["steps"] == 2 and entry["train_wall_seconds"] == 42
    assert entry["reward_first_5"] == -0.5 and entry["accuracy_first_5"] == 0.25
    assert entry["skipped_groups"] == 6 and entry["groups"] == 8
    assert entry["step_seconds_mean"] == 12.0
    assert entry["heldout_before"]["accuracy"] == 0.25 and entry["heldout_before"]["effective_code_share"] is None
    assert plot_run.heldout_points(str(tmp_path), "p1-c1", entry) == [(0, 0.25), (2, 0.5)]


def test_samples_are_written_verbatim_per_arm_and_stage(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps({"temperature": 0.7, "arms": ["p1-c1", "p0-c0"]}))
    response = {"text": "print(2 * 3)\n```output\n6\n```\n\\boxed{6}", "grade": {"extracted": "6"}, "reward": 1,
                "finish_reason": "eos"}
    records = [{"problem_id": "p%d" % i, "problem": "Compute %d" % i, "reference": "6",
                "responses": [response, dict(response, reward=-1)]} for i in (4, 0, 3, 1, 2)]
    write_jsonl(tmp_path / "samples-start-p1-c1.records.jsonl", records)
    plot_run.write_samples(str(tmp_path), per_stage=3)
    text = (tmp_path / "samples.md").read_text()
    assert text.count(response["text"]) == 3, "the first response of each of the first three problems, verbatim"
    assert "Compute 3" not in text and "Compute 4" not in text, "the first three problems by id, whatever the order"
    assert "## P1 + worked example, tool (C=1): start" in text
    assert "end" not in text.split("## ")[-1].splitlines()[0] and "P0" not in text

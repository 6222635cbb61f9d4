"""Plots the recorded run (scripts/record_run.sh): reward, training accuracy and code share per step for the run
with the tool (C=1) and without it (C=0) on shared axes, and writes summary.json with the held-out figures.
Usage: python scripts/plot_run.py RUN_DIR   (needs matplotlib for the PNG; the summary is written without it)"""
import json
import os
import sys


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def summarize(run):
    heldout = ("accuracy", "code_share", "code_executed_share", "no_answer_share", "response_tokens_mean")
    summary = {"settings": read_json(os.path.join(run, "settings.json")), "runs": {}}
    for c in (1, 0):
        metrics = read_jsonl(os.path.join(run, "metrics-c%d.jsonl" % c))
        entry = {
            "steps": len(metrics),
            "train_wall_seconds": read_json(os.path.join(run, "train-c%d.wall.json" % c))["wall_seconds"],
            "reward_first_5": sum(m["reward_mean"] for m in metrics[:5]) / max(1, len(metrics[:5])),
            "reward_last_5": sum(m["reward_mean"] for m in metrics[-5:]) / max(1, len(metrics[-5:])),
        }
        for stage in ("before", "after"):
            figures = read_json(os.path.join(run, "eval-%s-c%d.json" % (stage, c)))
            entry["heldout_" + stage] = {key: figures.get(key) for key in heldout}
        summary["runs"]["c%d" % c] = entry
    with open(os.path.join(run, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=1)
    return summary


def plot(run, summary):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = (("reward_mean", "reward (mean)"), ("accuracy", "training accuracy"),
              ("code_share", "share with code"), ("code_executed_share", "code that ran"))
    figure, axes = plt.subplots(len(panels), 1, figsize=(7, 2.2 * len(panels)), sharex=True)
    for c, style in ((1, "-o"), (0, "--s")):
        rows = read_jsonl(os.path.join(run, "metrics-c%d.jsonl" % c))
        label = "with tool (C=1)" if c == 1 else "without tool (C=0)"
        for axis, (key, title) in zip(axes, panels):
            if key == "code_executed_share" and c == 0:
                continue  # without the tool no code runs
            points = [(row["step"], row[key]) for row in rows if row.get(key) is not None]
            axis.plot([p[0] for p in points], [p[1] for p in points], style, markersize=3, label=label)
            axis.set_ylabel(title)
            axis.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=8)
    axes[-1].set_xlabel("GRPO step")
    runs = summary["runs"]
    figure.suptitle("SmolLM2-135M-Instruct, GRPO on synthetic products\nheld-out greedy accuracy: "
                    "C=1 %.2f -> %.2f, C=0 %.2f -> %.2f" % (
                        runs["c1"]["heldout_before"]["accuracy"], runs["c1"]["heldout_after"]["accuracy"],
                        runs["c0"]["heldout_before"]["accuracy"], runs["c0"]["heldout_after"]["accuracy"]),
                    fontsize=10)
    figure.tight_layout()
    path = os.path.join(run, "curves.png")
    figure.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    run_dir = sys.argv[1]
    result = summarize(run_dir)
    print(json.dumps(result["runs"], indent=1))
    print(plot(run_dir, result))

"""Plots a recorded run and writes its summary.json with the held-out figures.

A run folder holds settings.json and, per arm, metrics-ARM.jsonl (one line per GRPO step, `torl train --metrics`),
eval-before-ARM.json / eval-after-ARM.json (`torl eval --json` on the held-out set) and optionally
eval-during-ARM.jsonl (`torl train --eval-metrics`). The arms are settings.json's "arms" (default c1 and c0, the
layout of scripts/record_run.sh; scripts/record_gemma3_run.sh records p1-c1, p1-c0, p0-c1, p0-c0). Training curves
of every arm share one figure (curves.png).

Usage: python scripts/plot_run.py RUN_DIR          (needs matplotlib for the PNG; the summary is written without it)
       python scripts/plot_run.py --truncate FILE STEP   (keep the lines of a JSONL file whose step <= STEP)"""
import json
import os
import sys

HELDOUT = ("accuracy", "code_share", "code_executed_share", "effective_code_share", "no_answer_share",
           "response_tokens_mean")
TRAINING = ("reward_mean", "accuracy", "code_share", "effective_code_share", "mean_response_length")


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def truncate(path, last_step):
    """Drops the lines recorded after `last_step` (a run resumed from that step's checkpoint records them again)."""
    rows = [row for row in read_jsonl(path) if row["step"] <= last_step]
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n")
    return len(rows)


def arms(settings):
    return settings.get("arms", ["c1", "c0"])


def label(arm):
    names = {"c1": "with tool (C=1)", "c0": "without tool (C=0)"}
    if arm in names:
        return names[arm]
    prompt, tool = arm.split("-")
    return "%s, %s" % ({"p0": "P0 published prompt", "p1": "P1 + worked example"}[prompt],
                       {"c1": "tool (C=1)", "c0": "no tool (C=0)"}[tool])


def lora_title(train_args):
    """", LoRA rank 32 alpha 32" from record_run.sh's TRAIN_ARGS (its other flags, paths, stay out of the title)."""
    words = train_args.split()
    flags = {word: words[i + 1] for i, word in enumerate(words[:-1]) if word in ("--lora-rank", "--lora-alpha")}
    if "--lora-rank" not in flags:
        return ""
    return ", LoRA rank %s%s%s" % (flags["--lora-rank"], " alpha %s" % flags["--lora-alpha"] if "--lora-alpha" in flags
                                   else "", " rsLoRA" if "--rslora" in words else "")


def mean(rows, key):
    values = [row[key] for row in rows if row.get(key) is not None]
    return sum(values) / len(values) if values else None


def wall_seconds(run, arm):
    """Training wall time: one file per run of the old layout, one line per (resumed) invocation of the new."""
    single = os.path.join(run, "train-%s.wall.json" % arm)
    if os.path.exists(single):
        return read_json(single)["wall_seconds"]
    path = os.path.join(run, "wall-%s.jsonl" % arm)
    return sum(row["wall_seconds"] for row in read_jsonl(path)) if os.path.exists(path) else None


def summarize(run):
    settings = read_json(os.path.join(run, "settings.json"))
    summary = {"settings": settings, "runs": {}}
    for arm in arms(settings):
        path = os.path.join(run, "metrics-%s.jsonl" % arm)
        if not os.path.exists(path):
            continue
        metrics = read_jsonl(path)
        entry = {"steps": len(metrics), "train_wall_seconds": wall_seconds(run, arm)}
        for key in TRAINING if "arms" in settings else ("reward_mean",):
            short = key.replace("_mean", "")
            entry[short + "_first_5"] = mean(metrics[:5], key)
            entry[short + "_last_5"] = mean(metrics[-5:], key)
        if "arms" in settings:
            entry["skipped_groups"] = sum(row.get("skipped_groups", 0) for row in metrics)
            entry["groups"] = sum(row.get("groups", 0) for row in metrics)
            entry["step_seconds_mean"] = mean(
                [{"s": row["generation_seconds"] + row["update_seconds"]} for row in metrics], "s")
        for stage in ("before", "after"):
            path = os.path.join(run, "eval-%s-%s.json" % (stage, arm))
            if os.path.exists(path):
                figures = read_json(path)
                entry["heldout_" + stage] = {key: figures.get(key) for key in HELDOUT}
        during = os.path.join(run, "eval-during-%s.jsonl" % arm)
        if os.path.exists(during):
            entry["heldout_during"] = [{"step": row["step"], **{key: row.get(key) for key in HELDOUT}}
                                       for row in read_jsonl(during)]
        summary["runs"][arm] = entry
    with open(os.path.join(run, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=1)
    return summary


def write_samples(run, per_stage=3):
    """samples.md: per arm, `per_stage` sampled responses verbatim at the start and at the end of training (the first
    response to each of the first problems, by id, of samples-start/-end-ARM.records.jsonl, `torl eval --output`)."""
    settings = read_json(os.path.join(run, "settings.json"))
    lines = ["# Sampled responses at the start and at the end of training", "",
             "Temperature %s, the training prompt of each arm; the response text exactly as generated (tool output "
             "included), with its grade." % settings.get("temperature"), ""]
    for arm in arms(settings):
        for stage in ("start", "end"):
            path = os.path.join(run, "samples-%s-%s.records.jsonl" % (stage, arm))
            if not os.path.exists(path):
                continue
            lines += ["## %s: %s" % (label(arm), stage), ""]
            # Records come in completion order: the same problems at both stages, in id order.
            for record in sorted(read_jsonl(path), key=lambda record: str(record.get("problem_id")))[:per_stage]:
                response = record["responses"][0]
                lines += ["**%s** (reference %s): answer %s, reward %s, %s" % (
                              record["problem"], record["reference"], response["grade"]["extracted"],
                              response["reward"], response["finish_reason"]),
                          "", "~~~~text", response["text"], "~~~~", ""]
    with open(os.path.join(run, "samples.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def heldout_points(run, arm, entry):
    """Greedy held-out accuracy by step: before (step 0), during, after (the last step)."""
    points = []
    if "heldout_before" in entry:
        points.append((0, entry["heldout_before"]["accuracy"]))
    points += [(row["step"], row["accuracy"]) for row in entry.get("heldout_during", [])]
    if "heldout_after" in entry:
        points.append((entry["steps"], entry["heldout_after"]["accuracy"]))
    return sorted(set(points))


def plot(run, summary):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    settings = summary["settings"]
    several = "arms" in settings
    panels = [("reward_mean", "reward (mean)"), ("accuracy", "training accuracy"), ("code_share", "share with code")]
    panels.append(("effective_code_share", "answer after code ran") if several
                  else ("code_executed_share", "code that ran"))
    rows = len(panels) + (1 if several else 0)
    figure, axes = plt.subplots(rows, 1, figsize=(7.5, 2.2 * rows), sharex=True)
    styles = ["-o", "--s", "-^", ":v", "-.d"]
    for style, arm in zip(styles, arms(settings)):
        if arm not in summary["runs"]:
            continue
        metrics = read_jsonl(os.path.join(run, "metrics-%s.jsonl" % arm))
        for axis, (key, title) in zip(axes, panels):
            if key == "code_executed_share" and arm.endswith("c0"):
                continue  # without the tool no code runs
            points = [(row["step"], row[key]) for row in metrics if row.get(key) is not None]
            axis.plot([p[0] for p in points], [p[1] for p in points], style, markersize=3, label=label(arm))
            axis.set_ylabel(title, fontsize=8)
            axis.grid(alpha=0.3)
        if several:
            points = heldout_points(run, arm, summary["runs"][arm])
            axes[-1].plot([p[0] for p in points], [p[1] for p in points], style, markersize=4, label=label(arm))
    if several:
        axes[-1].set_ylabel("held-out accuracy\n(greedy)", fontsize=8)
        axes[-1].grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=7)
    axes[-1].set_xlabel("GRPO step")
    runs = summary["runs"]
    if several:
        finished = ["%s %.2f->%.2f" % (arm, runs[arm]["heldout_before"]["accuracy"], runs[arm]["heldout_after"]["accuracy"])
                    for arm in arms(settings) if "heldout_after" in runs.get(arm, {})]
        # Two arms a line: four do not fit the figure's width on one.
        lines = [", ".join(finished[i:i + 2]) for i in range(0, len(finished), 2)] or ["not finished"]
        title = "%s, GRPO, %s x %s samples per step\nheld-out greedy accuracy before -> after: %s" % (
            settings["model"], settings["batch"], settings["group_size"], "\n".join(lines))
    else:
        title = "%s, GRPO on synthetic products%s, lr %s\nheld-out greedy accuracy: %s" % (
            settings["model"].split(".")[0], lora_title(settings.get("train_args", "")), settings["lr"],
            ", ".join("C=%s %.2f -> %.2f" % (arm[1:], runs[arm]["heldout_before"]["accuracy"],
                                             runs[arm]["heldout_after"]["accuracy"])
                      for arm in arms(settings) if "heldout_after" in runs.get(arm, {})))
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path = os.path.join(run, "curves.png")
    figure.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    if sys.argv[1] == "--truncate":
        print(truncate(sys.argv[2], int(sys.argv[3])))
        sys.exit(0)
    run_dir = sys.argv[1]
    result = summarize(run_dir)
    if "arms" in result["settings"]:
        write_samples(run_dir)
    print(json.dumps(result["runs"], indent=1))
    print(plot(run_dir, result))

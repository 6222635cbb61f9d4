"""`torl-cluster bench`: where the time of a data-parallel GRPO step goes on 1, 2, 3 ... local nodes (rollouts,
the gradient all-reduce, the update, the driver), and from those figures a projected step time and scaling efficiency
for more machines on a network of a stated bandwidth.

The projection (docs/CLUSTER.md) assumes what the design gives: a step's groups split evenly over M machines, so the
rollouts and the gradient computation divide by M; the ring all-reduce of the f32 gradient moves 2 (M - 1) / M of its
bytes through each machine's link; the driver's own time stays as measured. It ignores stragglers and the update's
replicated part (AdamW over every parameter on every machine), so it is an upper bound on efficiency."""
import json
import os
import tempfile

PHASES = ("step_seconds", "generation_seconds", "update_wall_seconds", "update_seconds", "all_reduce_seconds",
          "driver_seconds")


def step_breakdown(lines):
    """Mean of each phase over the measured steps (every step after the first, which warms the daemons up; the
    only step when there is one), from the driver's metrics lines."""
    if not lines:
        raise ValueError("no step metrics to measure")
    measured = lines[1:] or lines
    figures = {}
    for key in PHASES:
        values = [line[key] for line in measured if line.get(key) is not None]
        figures[key] = sum(values) / len(values) if values else None
    sizes = [line["all_reduce_bytes"] for line in measured if line.get("all_reduce_bytes") is not None]
    figures["all_reduce_bytes"] = max(sizes) if sizes else None
    if figures["all_reduce_seconds"] and figures["all_reduce_bytes"]:
        # A lower bound on the link's rate: the measured time includes waiting for the slowest rank.
        figures["all_reduce_gb_per_second"] = figures["all_reduce_bytes"] / figures["all_reduce_seconds"] / 1e9
    else:
        figures["all_reduce_gb_per_second"] = None
    communication = (figures["all_reduce_seconds"] or 0.0) + (figures["driver_seconds"] or 0.0)
    figures["communication_and_driver_share"] = communication / figures["step_seconds"]
    figures["steps_measured"] = len(measured)
    return figures


def project(one_node, gradient_bytes, machines, network_gbps):
    """Projected step time and efficiency on `machines` machines from one node's step (`step_breakdown` of a
    1-node run): rollouts and the gradient computation split evenly, a ring all-reduce of `gradient_bytes` over
    links of `network_gbps` gigabits/s, the driver's time unchanged."""
    if machines < 1 or network_gbps <= 0 or gradient_bytes < 0:
        raise ValueError("need machines >= 1, network_gbps > 0, gradient_bytes >= 0")
    rollout = one_node["generation_seconds"] / machines
    compute = one_node["update_seconds"] / machines
    all_reduce = 2 * (machines - 1) / machines * gradient_bytes * 8 / (network_gbps * 1e9)
    driver = one_node["driver_seconds"]
    step = rollout + compute + all_reduce + driver
    single = one_node["generation_seconds"] + one_node["update_seconds"] + driver
    return {"machines": machines, "network_gbps": network_gbps, "step_seconds": step, "rollout_seconds": rollout,
            "update_seconds": compute, "all_reduce_seconds": all_reduce, "driver_seconds": driver,
            "scaling_efficiency": single / (machines * step),
            "all_reduce_and_driver_share": (all_reduce + driver) / step}


def run_bench(options, train):
    """Runs `train(argv)` (the `torl-cluster train` command) once per node count and returns the report."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="torl-cluster-bench-") as scratch:
        for nodes in options.nodes:
            metrics_path = os.path.join(scratch, "metrics-%d.jsonl" % nodes)
            argv = ["train", "--local-nodes", str(nodes), "--synthetic", "--difficulty", str(options.difficulty),
                    "--families", "product", "--steps", str(options.steps), "--batch", str(options.batch),
                    "--group-size", str(options.group_size), "--max-tokens", str(options.max_tokens),
                    "--max-tool-calls", str(options.max_tool_calls), "--lr", str(options.lr),
                    "--entropy", str(options.entropy),
                    "--metrics", metrics_path, "--checkpoint-dir", os.path.join(scratch, "checkpoints-%d" % nodes)]
            for flag, value in (("--model", options.model), ("--torl-bin", options.torl_bin),
                                ("--time-limit", options.time_limit)):
                if value is not None:
                    argv += [flag, str(value)]
            status = train(argv)
            if status != 0:
                raise RuntimeError("the %d-node training run failed (status %d)" % (nodes, status))
            with open(metrics_path, encoding="utf-8") as handle:
                lines = [json.loads(line) for line in handle if line.strip()]
            runs.append(dict(step_breakdown(lines), nodes=nodes))
    report = {"batch": options.batch, "group_size": options.group_size, "max_tokens": options.max_tokens,
              "steps": options.steps, "runs": runs}
    one = next((run for run in runs if run["nodes"] == 1), None)
    measured_bytes = [run["all_reduce_bytes"] for run in runs if run["all_reduce_bytes"]]
    if one is not None and measured_bytes:
        report["projection"] = [project(one, max(measured_bytes), machines, options.network_gbps)
                                for machines in options.machines]
    return report

"""A benchmark split over the nodes: each node runs `evaluate` on a contiguous share of the problems, the driver
merges the per-problem records in the original order and computes the figures over all of them exactly as the
daemon's `Evaluator` does (accuracy, avg@k, pass@j, maj@k from the records; the response figures from each node's
counts)."""
import time

import ray

from .cluster import ClusterError, explain, is_node_loss
from .planning import split_by_load

# Response figures of `RolloutMetrics.summarize` (Sources/RL/Evaluation/RolloutMetrics.swift) by denominator.
# Shares and means whose numerator is a whole count are rebuilt exactly (rounded); the rest are weighted means.
PER_TRAJECTORY_COUNTS = ("correct_share", "no_answer_share", "code_share", "tool_call_share", "effective_code_share",
                         "tool_calls_mean", "response_tokens_mean")
PER_TRAJECTORY_VALUES = ("reward_mean",)
PER_RESPONSE_WITH_CALLS = ("code_executed_share", "code_failed_share")
PER_CALL_COUNTS = ("tool_call_ok_share",)
PER_CALL_VALUES = ("tool_call_wall_ms_mean",)
SUMMED = ("trajectories", "sampled_tokens")
SUMMED_PREFIXES = ("calls_", "finish_")
FROM_RECORDS_PREFIXES = ("pass@", "avg@", "maj@")
FROM_RECORDS = ("accuracy", "problems", "samples")


def pass_at_k(samples, correct, k):
    """Unbiased pass@k, 1 - C(n-c, k)/C(n, k), as the product the daemon computes (SampleMetrics.passAtK)."""
    if samples < 1 or not 1 <= k <= samples or not 0 <= correct <= samples:
        return None
    if correct == 0:
        return 0.0
    if samples - correct < k:
        return 1.0
    all_wrong = 1.0
    for i in range(samples - correct + 1, samples + 1):
        all_wrong *= 1 - k / i
    return 1 - all_wrong


def pass_ks(samples):
    """1, 2, 4, ... below k, and k (Evaluator.passKs)."""
    ks, k = [], 1
    while k < samples:
        ks.append(k)
        k *= 2
    return ks + [samples]


def record_metrics(records, samples):
    """accuracy, avg@k, pass@j, maj@k, problems and samples over the merged records."""
    count = len(records)

    def mean(values):
        return None if count == 0 else sum(values) / count

    metrics = {"problems": float(count), "samples": float(samples),
               "accuracy": mean([1.0 if r["responses"] and r["responses"][0]["grade"]["correct"] else 0.0
                                 for r in records]),
               "avg@%d" % samples: mean([sum(1 for x in r["responses"] if x["grade"]["correct"]) / len(r["responses"])
                                         if r["responses"] else 0.0 for r in records])}
    for k in pass_ks(samples):
        metrics["pass@%d" % k] = mean([pass_at_k(len(r["responses"]), r["correct"], k) or 0.0 for r in records])
    metrics["maj@%d" % samples] = mean([1.0 if r["majority_correct"] else 0.0 for r in records])
    return metrics


def merge_response_metrics(node_metrics):
    """The response figures of all nodes' trajectories from each node's `evaluate` metrics."""
    n = [float(m.get("trajectories") or 0) for m in node_metrics]
    total = sum(n)

    def weighted(key, denominators, whole):
        numerator = 0.0
        for metrics, denominator in zip(node_metrics, denominators):
            value = metrics.get(key)
            if value is not None and denominator:
                numerator += round(value * denominator) if whole else value * denominator
        denominator = sum(denominators)
        return None if denominator == 0 else numerator / denominator

    with_calls = [round((m.get("tool_call_share") or 0) * c) for m, c in zip(node_metrics, n)]
    calls = [round((m.get("tool_calls_mean") or 0) * c) for m, c in zip(node_metrics, n)]
    merged = {}
    keys = set().union(*node_metrics) if node_metrics else set()
    for key in sorted(keys):
        if key in FROM_RECORDS or key.startswith(FROM_RECORDS_PREFIXES):
            continue
        if key in SUMMED or key.startswith(SUMMED_PREFIXES):
            merged[key] = float(sum(m.get(key) or 0 for m in node_metrics))
        elif key in PER_TRAJECTORY_COUNTS:
            merged[key] = weighted(key, n, whole=True)
        elif key in PER_RESPONSE_WITH_CALLS:
            merged[key] = weighted(key, with_calls, whole=True)
        elif key in PER_CALL_COUNTS:
            merged[key] = weighted(key, calls, whole=True)
        elif key in PER_CALL_VALUES:
            merged[key] = weighted(key, calls, whole=False)
        else:
            # reward_mean, and any figure added to the daemon later: a mean over trajectories.
            merged[key] = weighted(key, n, whole=False) if total else None
    return merged


def order_records(problems, records):
    """The node's records (written as problems finish) in the order of its problems, matched by id."""
    by_id = {}
    for record in records:
        by_id.setdefault(record["problem_id"], []).append(record)
    ordered = []
    for problem in problems:
        queue = by_id.get(problem["id"])
        if not queue:
            raise ClusterError("the evaluation returned no record for problem %s" % problem["id"])
        ordered.append(queue.pop(0))
    return ordered


def with_global_ids(problems):
    """Problems without an id get their index in the whole benchmark, as a single `evaluate` would give them
    (its own numbering restarts in every share)."""
    return [dict(p, id=p["id"] if p.get("id") is not None else str(i)) for i, p in enumerate(problems)]


def evaluate_on_nodes(pool, problems, params, samples, loads=None, timeout=None, log=None, max_rounds=3):
    """Runs the benchmark on the pool's usable nodes; a node lost on the way has its share re-run on the others.
    Returns (records in problem order, metrics, facts about the run)."""
    problems = with_global_ids(problems)
    pending = list(range(len(problems)))
    results = {}  # first problem index of a share -> (indices, node result)
    reruns, rounds = 0, 0
    started = time.time()
    while pending:
        rounds += 1
        nodes = pool.usable()
        if not nodes:
            raise ClusterError("no node left to evaluate on")
        if rounds > max_rounds:
            raise ClusterError("the evaluation lost nodes %d times; giving up" % (rounds - 1))
        weights = loads.weights([n.index for n in nodes], [n.cpus for n in nodes]) if loads else [n.cpus for n in nodes]
        shares = [[pending[i] for i in share] for share in split_by_load(len(pending), weights)]
        calls = {}
        for node, share in zip(nodes, shares):
            if share:
                # problem_indices: each problem samples the random streams it has in one `evaluate` of the whole set.
                ref = node.actor.evaluate.remote([problems[i] for i in share], dict(params, problem_indices=share))
                calls[ref] = (node, share)
        failed = []
        for ref, (node, share) in calls.items():
            try:
                result = ray.get(ref, timeout=timeout)
            except Exception as error:
                if not is_node_loss(error):
                    raise ClusterError("evaluate failed on %s: %s" % (node, explain(error))) from None
                pool.lose(node)
                failed.extend(share)
                if log:
                    log("evaluation: %s lost (%s); its %d problems re-run on the other nodes"
                        % (node, explain(error), len(share)))
                continue
            result["records"] = order_records([problems[i] for i in share], result["records"])
            results[share[0]] = (share, result)
        reruns += len(failed)
        pending = sorted(failed)
    # Shares of different rounds interleave: put the records back in problem order.
    ordered = sorted(results.values(), key=lambda item: item[0][0])
    by_index = {}
    for share, result in ordered:
        for i, record in zip(share, result["records"]):
            by_index[i] = record
    records = [by_index[i] for i in range(len(problems))]
    metrics = merge_response_metrics([result["metrics"] for _, result in ordered])
    metrics.update(record_metrics(records, samples))
    return records, metrics, {"rerun_problems": reruns, "seconds": time.time() - started, "nodes": len(pool.usable())}

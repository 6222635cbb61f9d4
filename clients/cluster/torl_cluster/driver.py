"""The training driver: synchronous data-parallel GRPO over the node pool, one step at a time.

A step: the step's prompts (a fixed function of the run's seed and the step) are split into whole groups across the
nodes by load; each node runs one `rollout` per group with the group's own seed (seeds.group_seed) and keeps it
stored; then every node calls `cluster/train_step` with its rollout ids at the same time (one rank of a Gloo group
each; the daemons all-reduce the token count and the gradient and apply the same AdamW step), and the driver checks
that every rank reports the same parameter checksum. A node alone trains with the plain `train_step` on its stored
rollouts (nothing to all-reduce).

Faults: a node lost during the rollouts has its groups re-run on the others with the same seeds; a node lost during
the update aborts the step on all ranks (no rank applies a partial update), its groups are re-run on the
survivors, the group is formed again under a new prefix and the update retried. A node that comes back (Ray
restarts its actor with a fresh daemon) gets the current weights from a recovery checkpoint of a healthy node
before it takes part again. When the ranks' states may differ, every node restores the last checkpoint and the run
repeats the steps from there (their data is identical: it depends only on the seed and the step). Every retry is
logged and counted in the step's metrics (`cluster_*`)."""
import json
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import List, Optional

import ray

from .cluster import ClusterError, explain, is_node_loss, rpc_error
from .evaluation import evaluate_on_nodes
from .node import METHOD_NOT_FOUND
from .planning import STORED_ROLLOUTS_PER_NODE, LoadEstimate, split_by_load
from .seeds import group_seed, problem_order, step_problems
from .store import RendezvousStore
from .trajectories import concatenate, merge_rank_metrics

HYPER_PARAMETER_FIELDS = ("learning_rate", "warmup_steps", "cosine_total_steps", "min_lr_ratio", "eps_low", "eps_high",
                          "clip_ratio_c", "dual_clip", "old_logprobs", "tis_cap", "kl_coef", "entropy_coef",
                          "advantage", "aggregation", "micro_batch", "activations", "max_grad_norm",
                          "weight_decay")
COUNTERS = ("rollout_retries", "update_retries", "group_formations", "recoveries", "lost_nodes", "rewinds")


@dataclass
class TrainPlan:
    problems: List[dict]
    steps: int = 10
    batch: int = 8
    group_size: int = 8
    seed: int = 0
    hyper_parameters: dict = field(default_factory=dict)
    generation: dict = field(default_factory=dict)
    checkpoint_every: int = 0
    checkpoint_dir: str = "checkpoints"
    resume: Optional[str] = None
    metrics_path: Optional[str] = None
    export: Optional[str] = None
    eval_every: int = 0
    eval_problems: Optional[List[dict]] = None
    eval_generation: dict = field(default_factory=dict)
    max_step_retries: int = 3
    join_timeout: float = 60.0
    call_timeout: Optional[float] = None
    probe_timeout: float = 10.0

    def validate(self):
        if self.steps < 1 or self.batch < 1 or self.group_size < 2:
            raise ValueError("--steps and --batch must be >= 1, --group-size >= 2")
        if not self.generation.get("temperature", 1) > 0:
            raise ValueError("--temperature must be > 0: training needs sampled rollouts")
        unknown = set(self.hyper_parameters) - set(HYPER_PARAMETER_FIELDS)
        if unknown:
            raise ValueError("unknown hyper-parameters %s" % sorted(unknown))
        if self.eval_every and not self.eval_problems:
            raise ValueError("--eval-every needs --eval-dataset")


class NodesLost(Exception):
    def __init__(self, nodes, results):
        super().__init__("lost %s" % ", ".join(map(str, nodes)))
        self.nodes, self.results = nodes, results


class NoSyncedNode(ClusterError):
    """Every node holding the current weights is gone."""


class Rewind(Exception):
    """The nodes' states may differ: restore the last checkpoint everywhere and repeat the steps from there."""


def latest_checkpoint(path):
    """`path` itself, or in a folder the step-N.safetensors with the highest N (what `--resume DIR` takes)."""
    if not os.path.isdir(path):
        if not os.path.exists(path):
            raise ValueError("no checkpoint at %s" % path)
        return os.path.abspath(path)
    found = [(int(m.group(1)), name) for name in os.listdir(path)
             for m in [re.fullmatch(r"step-(\d+)\.safetensors", name)] if m]
    if not found:
        raise ValueError("no step-N.safetensors checkpoint in %s" % path)
    return os.path.abspath(os.path.join(path, max(found)[1]))


def step_line(m, step, steps):
    def value(key):
        v = m.get(key)
        return float("nan") if v is None else v
    line = ("step %d/%d  reward %.3f  acc %.3f  code %.2f  loss %+.4f  |g| %.3f  len %.0f  rollout %.1fs update %.1fs"
            "  nodes %d" % (step, steps, value("reward_mean"), value("accuracy"), value("code_share"), value("loss"),
                            value("gradient_norm"), value("mean_response_length"), value("generation_seconds"),
                            value("update_seconds"), m.get("cluster_nodes", 0)))
    retries = ["%s %d" % (name.replace("_", " "), m["cluster_" + name]) for name in COUNTERS if m.get("cluster_" + name)]
    return line + ("  (" + ", ".join(retries) + ")" if retries else "")


class ClusterTrainer:
    def __init__(self, pool, plan, log=None, on_event=None, progress=None, metrics_sinks=()):
        plan.validate()
        self.pool, self.plan = pool, plan
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.on_event = on_event or (lambda kind, **facts: None)
        self.progress = progress
        self.metrics_sinks = list(metrics_sinks)
        self.loads = LoadEstimate()
        self.run_id = "torl-%s" % uuid.uuid4().hex[:12]
        self.store = None
        self.group = None
        self.attempt = 0
        self.last_checkpoint = None
        self.totals = dict.fromkeys(COUNTERS, 0)
        self.counters = dict.fromkeys(COUNTERS, 0)  # the current step's

    # -- the run --------------------------------------------------------------------------------------------------

    def run(self):
        plan = self.plan
        order = problem_order(len(plan.problems), plan.seed)
        summary = {"step": 0, "metrics": {}, "evaluations": [], "checkpoints": [], "export": None}
        metrics_file = open(plan.metrics_path, "a", encoding="utf-8") if plan.metrics_path else None
        try:
            step = self.initial_step()
            if step >= plan.steps:
                raise ClusterError("nothing to train: the trainer is already at step %d, and --steps %d is the total "
                                   "number of updates, earlier ones included; pass --steps %d or more to train further"
                                   % (step, plan.steps, step + 1))
            while step < plan.steps:
                chosen = step_problems(step, plan.problems, order, plan.batch)
                try:
                    metrics = self.train_one_step(step, chosen)
                except Rewind as reason:
                    for name in COUNTERS:  # the abandoned attempt's retries still happened
                        self.totals[name] += self.counters[name]
                    step = self.rewind(str(reason))
                    continue
                step = int(metrics["step"])
                self.log(step_line(metrics, step, plan.steps))
                if metrics_file:
                    metrics_file.write(json.dumps(metrics, sort_keys=True) + "\n")
                    metrics_file.flush()
                for sink in self.metrics_sinks:
                    sink(step, metrics)
                summary["step"], summary["metrics"] = step, metrics
                if plan.checkpoint_every and step % plan.checkpoint_every == 0:
                    summary["checkpoints"].append(self.save_checkpoint(step))
                if plan.eval_every and step % plan.eval_every == 0:
                    summary["evaluations"].append(self.evaluate(step))
            if plan.export:
                summary["export"] = self.export(step)
        finally:
            if metrics_file:
                metrics_file.close()
            if self.store:
                self.store.close()
        summary["nodes"] = len(self.pool.nodes)
        summary["retries"] = dict(self.totals)
        return summary

    def initial_step(self):
        nodes = self.pool.usable()
        if self.plan.resume:
            path = latest_checkpoint(self.plan.resume)
            step = self.restore(nodes, path)
            self.last_checkpoint = path
            self.log("resumed from %s at step %d" % (path, step))
            return step
        steps = [self.call(node, "request", "status")["training"]["step"] for node in nodes]
        if len(set(steps)) != 1:
            raise ClusterError("the nodes' trainers are at different steps %s" % steps)
        for node in nodes:
            node.trainer_step = steps[0]
        return steps[0]

    def call(self, node, method, *args, timeout=None):
        return ray.get(getattr(node.actor, method).remote(*args), timeout=timeout or self.plan.call_timeout)

    def restore(self, nodes, path):
        refs = [(node, node.actor.request.remote("checkpoint/restore", {"path": path, "discard_training": True}))
                for node in nodes]
        step = None
        for node, ref in refs:
            try:
                result = ray.get(ref, timeout=self.plan.call_timeout)
            except Exception as error:
                if not is_node_loss(error):
                    raise ClusterError("checkpoint/restore of %s failed on %s: %s" % (path, node, explain(error))) from None
                self.lose(node, "restoring %s" % path, error)
                continue
            node.trainer_step = step = result["step"]
        if step is None:
            raise ClusterError("no node could restore %s" % path)
        return step

    def rewind(self, reason):
        if not self.last_checkpoint:
            raise ClusterError("%s, and there is no checkpoint to go back to (use --checkpoint-every)" % reason)
        self.totals["rewinds"] += 1
        self.group = None
        step = self.restore(self.pool.usable(), self.last_checkpoint)
        self.log("%s: every node restored %s, repeating from step %d" % (reason, self.last_checkpoint, step))
        return step

    def lose(self, node, during, error):
        if not node.lost:
            self.pool.lose(node)
            self.loads.forget(node.index)
            self.log("%s lost during %s: %s" % (node, during, explain(error)))

    # -- one step ---------------------------------------------------------------------------------------------------

    def train_one_step(self, step, chosen):
        counters = self.counters = dict.fromkeys(COUNTERS, 0)
        started = time.time()
        self.sync_nodes(step, counters)
        held = {}  # prompt index -> (node, TrajectoryBatch)
        rollout_seconds = update_seconds = 0.0
        for attempt in range(self.plan.max_step_retries + 1):
            began = time.time()
            self.roll_out(step, chosen, held, counters)
            rollout_seconds += time.time() - began
            world = sorted({node for node, _ in held.values()}, key=lambda n: n.index)
            began = time.time()
            try:
                self.form_group(world, counters)
                results = self.update(step, world, held)
                update_seconds += time.time() - began
                break
            except NodesLost as lost:
                update_seconds += time.time() - began
                results = self.after_update_loss(step, world, held, lost, counters)
                if results is not None:
                    break
        else:
            raise ClusterError("step %d: the update failed %d times in a row; giving up"
                               % (step + 1, self.plan.max_step_retries + 1))
        for node in world:
            if not node.lost:
                node.trainer_step = step + 1
        merged_batch = concatenate([held[j][1] for j in sorted(held)])
        metrics = merge_rank_metrics([r["metrics"] for r in results], merged_batch)
        metrics["generation_seconds"] = rollout_seconds
        step_seconds = time.time() - started
        metrics.update(cluster_nodes=len(world), step_seconds=step_seconds, update_wall_seconds=update_seconds,
                       driver_seconds=max(0.0, step_seconds - rollout_seconds - update_seconds))
        # The gradient's all-reduce as the ranks measured it (waiting for the slowest rank included); none alone.
        reduced = [r for r in results if r.get("all_reduce_seconds") is not None]
        metrics.update(all_reduce_seconds=max((r["all_reduce_seconds"] for r in reduced), default=None),
                       all_reduce_bytes=max((r["all_reduce_bytes"] for r in reduced), default=None))
        for name in COUNTERS:
            metrics["cluster_" + name] = counters[name]
            self.totals[name] += counters[name]
        self.on_event("step_done", step=step + 1, batch=merged_batch, metrics=metrics,
                      groups={j: node.index for j, (node, _) in held.items()})
        return metrics

    def sync_nodes(self, step, counters):
        """Takes back nodes that answer again and brings every node to the weights of `step`."""
        for node in self.pool.nodes:
            if node.lost and self.pool.probe(node, self.plan.probe_timeout):
                node.lost = False
                self.log("%s is back (incarnation %s)" % (node, node.incarnation[:8]))
        for node in self.pool.usable():
            if node.trainer_step is None:
                try:
                    node.trainer_step = self.call(node, "request", "status")["training"]["step"]
                except Exception as error:
                    if not is_node_loss(error):
                        raise
                    self.lose(node, "status", error)
                    counters["lost_nodes"] += 1
        behind = [node for node in self.pool.usable() if node.trainer_step != step]
        if not behind:
            return
        directory = os.path.abspath(self.plan.checkpoint_dir)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "recovery.safetensors")
        try:
            source = self.on_a_synced_node(step, "checkpoint/save", {"path": path})["node"]
        except NoSyncedNode:
            raise Rewind("no node holds the weights of step %d" % step) from None
        self.restore(behind, path)
        counters["recoveries"] += len(behind)
        self.group = None
        self.log("recovery: %s restored the weights of step %d from %s" % (", ".join(map(str, behind)), step, source))

    def rollout_params(self, step, prompt_index):
        return dict(self.plan.generation, group_size=self.plan.group_size,
                    seed=group_seed(self.plan.seed, step, prompt_index))

    def roll_out(self, step, chosen, held, counters):
        """Fills `held` with every group of the step, stored on a usable node; groups of lost nodes re-run."""
        while True:
            for j in [j for j, (node, _) in held.items() if node.lost]:
                del held[j]  # its stored rollout died with the node's daemon
            pending = [j for j in range(len(chosen)) if j not in held]
            if not pending:
                return
            nodes = [node for node in self.pool.usable() if node.trainer_step == step]
            if not nodes:
                # Every node with the step's weights is gone: take back the ones Ray restarted (which raises
                # Rewind when none of them holds the weights either).
                self.sync_nodes(step, counters)
                nodes = [node for node in self.pool.usable() if node.trainer_step == step]
            if not nodes:
                raise ClusterError("step %d: no node left to roll out on" % (step + 1))
            stored = {node: sum(1 for n, _ in held.values() if n is node) for node in nodes}
            capacity = min(STORED_ROLLOUTS_PER_NODE - stored[node] for node in nodes)
            weights = self.loads.weights([n.index for n in nodes], [n.cpus for n in nodes])
            shares = split_by_load(len(pending), weights, capacity=capacity)
            calls, submitted = {}, time.time()
            for node, share in zip(nodes, shares):
                for k in share:
                    j = pending[k]
                    problem = {"id": chosen[j]["id"], "problem": chosen[j]["problem"], "answer": chosen[j]["answer"]}
                    calls[node.actor.rollout.remote(problem, j, self.rollout_params(step, j))] = (node, j)
            self.on_event("rollouts_started", step=step + 1, groups=len(pending),
                          nodes={node.index: [pending[k] for k in share] for node, share in zip(nodes, shares)})
            finished = {node: (0, 0.0) for node in nodes}
            failed = set()
            deadline = None if self.plan.call_timeout is None else time.time() + self.plan.call_timeout
            waiting = list(calls)
            while waiting:
                timeout = None if deadline is None else max(0.0, deadline - time.time())
                ready, waiting = ray.wait(waiting, num_returns=1, timeout=timeout)
                if not ready:
                    for ref in waiting:  # out of time: the nodes still busy count as lost and restart
                        node = calls[ref][0]
                        if node not in failed:
                            failed.add(node)
                            self.lose(node, "rollouts (no answer within %s s)" % self.plan.call_timeout,
                                      TimeoutError("timed out"))
                            ray.kill(node.actor, no_restart=False)
                    break
                node, j = calls[ready[0]]
                try:
                    batch = ray.get(ready[0])
                except Exception as error:
                    if not is_node_loss(error):
                        raise ClusterError("rollout of group %d failed on %s: %s" % (j, node, explain(error))) from None
                    if node not in failed:
                        failed.add(node)
                        self.lose(node, "rollouts of step %d" % (step + 1), error)
                    continue
                held[j] = (node, batch)
                count, _ = finished[node]
                finished[node] = (count + 1, time.time() - submitted)
                if self.progress:
                    self.progress.update("step %d/%d  rollouts %d/%d groups"
                                         % (step + 1, self.plan.steps, len(held), len(chosen)))
            for node, (count, seconds) in finished.items():
                if node not in failed:
                    self.loads.record(node.index, count, seconds)
            if failed:
                counters["lost_nodes"] += len(failed)
                rerun = sum(1 for j in range(len(chosen)) if j not in held or held[j][0].lost)
                counters["rollout_retries"] += rerun
                self.log("step %d: %d groups re-run on the other nodes with the same seeds" % (step + 1, rerun))

    def ensure_store(self):
        if self.store is None:
            self.store = RendezvousStore(host="0.0.0.0", advertise_host=ray.util.get_node_ip_address())
        return self.store

    def form_group(self, world, counters):
        """A Gloo group of exactly these nodes (a new prefix per attempt); a single node needs none."""
        membership = tuple((node.index, node.incarnation) for node in world)
        if len(world) == 1 or membership == self.group:
            self.group = membership if len(world) == 1 else self.group
            return
        self.attempt += 1
        prefix = "%s/%d" % (self.run_id, self.attempt)
        store = self.ensure_store()
        calls = [(node, node.actor.join.remote(rank, len(world), store.address, prefix, self.plan.join_timeout))
                 for rank, node in enumerate(world)]
        lost, errors = [], []
        for node, ref in calls:
            try:
                ray.get(ref, timeout=self.plan.join_timeout + 30)
            except Exception as error:
                (lost if is_node_loss(error) else errors).append((node, error))
        if lost:
            raise NodesLost([node for node, _ in lost], {})
        if errors:
            node, error = errors[0]
            found = rpc_error(error)
            if found is not None and found.code == METHOD_NOT_FOUND:
                raise ClusterError("the daemon on %s has no cluster/join: this torl binary cannot train on more than "
                                   "one node (build a torl with the cluster methods)" % node) from None
            raise ClusterError("cluster/join failed on %s: %s" % (node, explain(error))) from None
        self.group = membership
        counters["group_formations"] += 1
        self.log("group %s: %d ranks (%s)" % (prefix, len(world), ", ".join(map(str, world))))

    def update(self, step, world, held):
        in_group = len(world) > 1
        calls = []
        for node in world:
            rollout_ids = [held[j][1].rollout_id for j in sorted(held) if held[j][0] is node]
            calls.append((node, node.actor.train_step.remote(self.plan.hyper_parameters, rollout_ids, in_group)))
        self.on_event("update_started", step=step + 1, nodes=[node.index for node in world])
        if self.progress:
            self.progress.update("step %d/%d  update on %d nodes" % (step + 1, self.plan.steps, len(world)))
        results, lost, errors = {}, [], []
        for node, ref in calls:
            try:
                results[node] = ray.get(ref, timeout=self.plan.call_timeout)
            except Exception as error:
                if is_node_loss(error):
                    lost.append(node)
                    self.lose(node, "the update of step %d" % (step + 1), error)
                else:
                    errors.append((node, error))
        if lost:
            raise NodesLost(lost, results)
        if errors:
            node, error = errors[0]
            found = rpc_error(error)
            if found is not None and found.code == METHOD_NOT_FOUND:
                raise ClusterError("the daemon on %s has no %s" % (node, found.method)) from None
            raise ClusterError("step %d: the update failed on %s: %s"
                               % (step + 1, ", ".join(str(n) for n, _ in errors), explain(error))) from None
        ordered = [results[node] for node in world]
        self.check_agreement(step, world, ordered)
        return ordered

    def check_agreement(self, step, world, results):
        reached = {node.index: result["step"] for node, result in zip(world, results)}
        if set(reached.values()) != {step + 1}:
            raise ClusterError("step %d: the ranks report trainer steps %s, expected %d" % (step + 1, reached, step + 1))
        if len(world) > 1:
            sizes = {node.index: result.get("world_size") for node, result in zip(world, results)}
            if set(sizes.values()) != {len(world)}:
                raise ClusterError("step %d: the ranks report world sizes %s, the group has %d"
                                   % (step + 1, sizes, len(world)))
            sums = {node.index: result.get("parameter_checksum") for node, result in zip(world, results)}
            if len(set(sums.values())) != 1 or None in sums.values():
                raise ClusterError("step %d: the nodes' parameters diverged (checksums by node %s)" % (step + 1, sums))

    def after_update_loss(self, step, world, held, lost, counters):
        """The update lost nodes. Returns the survivors' results when the update had completed on every survivor
        (the all-reduce finished, so all of them applied the same step), None to retry the step, or raises Rewind."""
        counters["update_retries"] += 1
        counters["lost_nodes"] += len(lost.nodes)
        self.group = None
        survivors = [node for node in world if not node.lost]
        reached = {}
        for node in survivors:
            try:
                reached[node] = self.call(node, "request", "status")["training"]["step"]
            except Exception as error:
                if not is_node_loss(error):
                    raise
                self.lose(node, "status after a failed update", error)
                counters["lost_nodes"] += 1
        values = set(reached.values())
        if values <= {step}:
            counters["rollout_retries"] += sum(1 for node, _ in held.values() if node.lost)
            self.log("step %d: update aborted on every node (%s lost); groups re-run, group formed again, retrying"
                     % (step + 1, ", ".join(map(str, lost.nodes))))
            return None
        if values == {step + 1} and all(node in lost.results for node in reached):
            ordered = [lost.results[node] for node in sorted(reached, key=lambda n: n.index)]
            self.check_agreement(step, sorted(reached, key=lambda n: n.index), ordered)
            self.log("step %d: the update had completed on every surviving node; kept" % (step + 1))
            return ordered
        raise Rewind("step %d: after losing %s the nodes are at trainer steps %s"
                     % (step + 1, ", ".join(map(str, lost.nodes)), sorted(values)))

    # -- checkpoints, evaluation, export ------------------------------------------------------------------------

    def on_a_synced_node(self, step, method, params):
        """`method` on the first node holding the weights of `step`; a node lost meanwhile hands over to the next."""
        for node in [node for node in self.pool.usable() if node.trainer_step == step]:
            try:
                return dict(self.call(node, "request", method, params), node=node)
            except Exception as error:
                if not is_node_loss(error):
                    raise ClusterError("%s failed on %s: %s" % (method, node, explain(error))) from None
                self.lose(node, method, error)
        raise NoSyncedNode("no node holds the weights of step %d for %s" % (step, method))

    def save_checkpoint(self, step):
        directory = os.path.abspath(self.plan.checkpoint_dir)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "step-%d.safetensors" % step)
        self.on_a_synced_node(step, "checkpoint/save", {"path": path})
        self.last_checkpoint = path
        self.log("checkpoint %s" % path)
        return path

    def evaluate(self, step):
        retries = dict.fromkeys(COUNTERS, 0)
        self.sync_nodes(step, retries)
        for name in COUNTERS:
            self.totals[name] += retries[name]
        _, metrics, facts = evaluate_on_nodes(self.pool, self.plan.eval_problems, self.plan.eval_generation, samples=1,
                                              timeout=self.plan.call_timeout, log=self.log)
        accuracy = metrics.get("accuracy")
        self.log("eval at step %d: accuracy %s on %d problems (%d nodes)"
                 % (step, "-" if accuracy is None else "%.4f" % accuracy, len(self.plan.eval_problems), facts["nodes"]))
        return {"step": step, "problems": len(self.plan.eval_problems), "accuracy": accuracy}

    def export(self, step):
        path = os.path.abspath(self.plan.export)
        result = self.on_a_synced_node(step, "model/export", {"path": path})
        self.log("exported %s to %s" % (", ".join(result.get("files", [])), path))
        return path


def eval_generation(generation):
    """The greedy, one-sample evaluation of `torl train --eval-every`: the training prompt and budget."""
    return dict(generation, temperature=0, seed=0, samples=1)


"""A stand-in for TorlNode with the same methods, for the driver's fault tests: a daemon reduced to a training state
of four numbers. A group's trajectories and its gradient are a function of its seed alone; the update adds the
learning rate times the gradient summed over every rank, all-reduced through the driver's real rendezvous store
(integer-valued, so every order of summation gives the same bits). A peer that dies makes the all-reduce time out
with an error, as Gloo does."""
import hashlib
import json
import os
import socket
import time
import uuid

import numpy as np
import ray

from torl_cluster.node import DaemonError
from torl_cluster.store import StoreClient
from torl_cluster.trajectories import TrajectoryBatch

ROLLOUT_SECONDS = 0.3
# Long enough for a test to kill a rank between the update's start and its all-reduce.
UPDATE_SECONDS = 0.5


def group_trajectories(seed, group_size):
    rng = np.random.default_rng(seed)
    trajectories = []
    for sample in range(group_size):
        length = 3 + int(rng.integers(0, 4))
        tokens = [int(t) for t in rng.integers(1, 1000, size=length)]
        correct = bool(rng.integers(0, 2))
        trajectories.append({
            "problem_id": "p", "group": 0, "sample": sample, "text": "", "token_ids": tokens, "prompt_length": 2,
            "logprobs": [0.0, 0.0] + [-0.5] * (length - 2), "loss_mask": [0, 0] + [1] * (length - 2),
            "tool_calls": [], "grade": {"correct": correct}, "reward": 1.0 if correct else -1.0, "answer": "1",
            "has_code": False, "code_executed": False, "finish_reason": "eos"})
    gradient = rng.integers(-5, 6, size=4).astype(np.float64)
    return trajectories, gradient


class SimulatedNode:
    perturb_rank = None  # a rank whose update is off by a little (the divergence test's subclass sets it)

    def __init__(self, model=None, weights=None, pool_size=None, torl_bin=None, python=None):
        self.incarnation = uuid.uuid4().hex
        self.step, self.weights = 0, np.zeros(4)
        self.stored, self.count = {}, 0
        self.group, self.round = None, 0

    def info(self):
        return {"incarnation": self.incarnation, "node_id": ray.get_runtime_context().get_node_id(),
                "ip": "127.0.0.1", "hostname": socket.gethostname(), "actor_pid": os.getpid(),
                "daemon_pid": os.getpid(), "methods": ["cluster/join", "cluster/train_step", "rollout"]}

    def rollout(self, problem, prompt_index, params):
        time.sleep(ROLLOUT_SECONDS)
        trajectories, gradient = group_trajectories(params["seed"], params["group_size"])
        self.count += 1
        rollout_id = "r%d" % self.count
        self.stored[rollout_id] = gradient
        return TrajectoryBatch.from_rollout({"rollout_id": rollout_id, "trajectories": trajectories}, prompt_index)

    def evaluate(self, problems, params):
        """One greedy response per problem, correct when the answer's parity matches the trainer step's."""
        records = []
        for problem in problems:
            correct = (int(problem["answer"]) + self.step) % 2 == 0
            records.append({"problem_id": problem["id"], "correct": int(correct), "majority_correct": correct,
                            "responses": [{"grade": {"correct": correct}}]})
        return {"problems": len(problems), "records": records,
                "metrics": {"trajectories": float(len(problems)),
                            "correct_share": sum(r["correct"] for r in records) / len(problems)}}

    def join(self, rank, world_size, store_address, prefix, timeout_seconds):
        with StoreClient(store_address) as store:
            store.set("%s/member/%d" % (prefix, rank), b"1")
            if not store.wait(["%s/member/%d" % (prefix, r) for r in range(world_size)], int(timeout_seconds * 1000)):
                raise DaemonError("cluster/join", -32030, "the group did not form within %s s" % timeout_seconds)
        self.group, self.round = (rank, world_size, store_address, prefix, timeout_seconds), 0
        return {"rank": rank, "world_size": world_size, "prefix": prefix}

    def _all_reduce(self, gradient):
        rank, world, address, prefix, timeout = self.group
        self.round += 1
        keys = ["%s/grad/%d/%d" % (prefix, self.round, r) for r in range(world)]
        with StoreClient(address) as store:
            store.set(keys[rank], gradient.tobytes())
            if not store.wait(keys, int(timeout * 1000)):
                raise DaemonError("cluster/train_step", -32030, "all-reduce: a peer did not answer within %s s" % timeout)
            return sum(np.frombuffer(store.get(key)) for key in keys)

    def train_step(self, params, rollout_ids, in_group):
        if in_group and self.group is None:
            raise DaemonError("cluster/train_step", -32030, "not in a group")
        gradient = sum((self.stored[i] for i in rollout_ids), np.zeros(4))
        time.sleep(UPDATE_SECONDS)
        total = self._all_reduce(gradient) if in_group else gradient
        self.weights = self.weights + params["learning_rate"] * total
        if in_group and self.group[0] == self.perturb_rank:
            self.weights[0] += 1e-3
        self.step += 1
        metrics = {"step": self.step, "loss": float(total.sum()), "gradient_norm": float(np.linalg.norm(total)),
                   "learning_rate": params["learning_rate"], "update_seconds": 0.01, "tokens_per_second": 10.0}
        return {"step": self.step, "metrics": metrics, "world_size": self.group[1] if in_group else 1,
                "parameter_checksum": hashlib.sha256(self.weights.tobytes()).hexdigest()[:16]}

    def request(self, method, params=None):
        if method == "status":
            return {"training": {"step": self.step}}
        if method == "checkpoint/save":
            with open(params["path"], "w") as handle:
                json.dump({"step": self.step, "weights": self.weights.tolist()}, handle)
            return {"path": params["path"], "step": self.step}
        if method == "checkpoint/restore":
            with open(params["path"]) as handle:
                saved = json.load(handle)
            self.step, self.weights = saved["step"], np.array(saved["weights"])
            return {"path": params["path"], "step": self.step}
        if method == "model/export":
            os.makedirs(params["path"], exist_ok=True)
            np.save(os.path.join(params["path"], "weights.npy"), self.weights)
            return {"path": params["path"], "files": ["weights.npy"]}
        raise DaemonError(method, -32601, "method not found: %s" % method)

    def shutdown(self):
        return True


class DivergentNode(SimulatedNode):
    perturb_rank = 1

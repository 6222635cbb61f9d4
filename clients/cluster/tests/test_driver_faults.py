"""The driver's fault handling on a local 3-node Ray cluster with simulated daemons (tests/simulated_node.py: the
node methods over a four-number training state, all-reduced through the real rendezvous store, bit-exact in any
summation order). Undisturbed, 2 nodes equal 1; a node killed during the rollouts, during the update, and every node
killed at once (back to the last checkpoint) each give the undisturbed run's rollouts and weights, with the retries
counted; ranks whose parameters diverge stop the run with an error naming the checksums."""
import os
import signal

import numpy as np
import pytest

from simulated_node import DivergentNode, SimulatedNode
from torl_cluster.cluster import ClusterError, NodePool, RaySession
from torl_cluster.driver import ClusterTrainer, TrainPlan

PROBLEMS = [{"id": "p%d" % i, "problem": "problem %d" % i, "answer": str(i)} for i in range(6)]


@pytest.fixture(scope="module")
def session():
    with RaySession(local_nodes=3, cpus_per_node=1) as ray_session:
        yield ray_session


def plan(tmp_path, name, **overrides):
    settings = dict(problems=PROBLEMS, steps=3, batch=4, group_size=2, seed=5, hyper_parameters={"learning_rate": 1.0},
                    generation={"temperature": 1.0}, checkpoint_dir=str(tmp_path / (name + "-ckpt")),
                    export=str(tmp_path / name), join_timeout=3.0, call_timeout=120.0, probe_timeout=30.0)
    settings.update(overrides)
    return TrainPlan(**settings)


def run(session, nodes, tmp_path, name, chaos=None, node_class=SimulatedNode, **overrides):
    pool = NodePool(count=nodes, cpus_per_node=1, node_class=node_class, max_restarts=3)
    steps, logs = {}, []

    def on_event(kind, **facts):
        if kind == "step_done":
            steps[facts["step"]] = (facts["batch"].token_ids.tolist(), facts["batch"].offsets.tolist(),
                                    sorted(set(facts["groups"].values())))
        if chaos:
            chaos(pool, kind, facts)

    try:
        summary = ClusterTrainer(pool, plan(tmp_path, name, **overrides), log=logs.append, on_event=on_event).run()
    finally:
        pool.shutdown()
    weights = np.load(os.path.join(str(tmp_path / name), "weights.npy"))
    return summary, steps, weights, logs


@pytest.fixture(scope="module")
def reference(session, tmp_path_factory):
    summary, steps, weights, _ = run(session, 1, tmp_path_factory.mktemp("one"), "one")
    assert summary["step"] == 3 and not any(summary["retries"].values())
    assert np.abs(weights).sum() > 0
    return steps, weights


def tokens(steps):
    return {step: value[:2] for step, value in steps.items()}


def test_two_nodes_equal_one(session, reference, tmp_path):
    summary, steps, weights, logs = run(session, 2, tmp_path, "two")
    assert summary["retries"]["group_formations"] == 1 and summary["retries"]["update_retries"] == 0
    assert all(value[2] == [0, 1] for value in steps.values()), "both nodes held groups every step"
    assert tokens(steps) == tokens(reference[0])
    assert np.array_equal(weights, reference[1])


def kill_at(kind, step, victims):
    """A chaos hook that SIGKILLs the actors of `victims` (node indices) the first time `kind` happens at `step`."""
    done = []

    def chaos(pool, event, facts):
        if event == kind and facts["step"] == step and not done:
            for index in victims:
                os.kill(pool.nodes[index].info["actor_pid"], signal.SIGKILL)
            done.append(True)
    return chaos, done


def test_node_lost_during_rollouts(session, reference, tmp_path):
    chaos, done = kill_at("rollouts_started", 1, [1])
    summary, steps, weights, logs = run(session, 2, tmp_path, "rollouts", chaos)
    assert done and summary["step"] == 3
    retries = summary["retries"]
    assert retries["lost_nodes"] == 1 and retries["rollout_retries"] == 2, retries  # node 1 held 2 of the 4 groups
    assert retries["recoveries"] == 1, "the restarted node got the weights of step 1 before it rejoined"
    assert retries["group_formations"] == 1, "step 1 trained alone; the 2-node group formed once node 1 was back"
    assert steps[1][2] == [0] and steps[3][2] == [0, 1]
    assert tokens(steps) == tokens(reference[0])
    assert np.array_equal(weights, reference[1])
    assert any("re-run on the other nodes" in line for line in logs)


def test_node_lost_during_update(session, reference, tmp_path):
    chaos, done = kill_at("update_started", 2, [1])
    summary, steps, weights, logs = run(session, 2, tmp_path, "update", chaos)
    retries = summary["retries"]
    assert done and summary["step"] == 3
    assert retries["update_retries"] == 1 and retries["lost_nodes"] == 1, retries
    assert retries["rollout_retries"] == 2, "the lost node's 2 stored groups were re-run on the survivor"
    assert retries["group_formations"] == 2, "formed at step 1, formed again (new prefix) once node 1 was back"
    assert any("aborted on every node" in line for line in logs), logs
    assert tokens(steps) == tokens(reference[0])
    assert np.array_equal(weights, reference[1])


def test_every_node_lost_goes_back_to_the_checkpoint(session, reference, tmp_path):
    chaos, done = kill_at("rollouts_started", 3, [0, 1])
    summary, steps, weights, logs = run(session, 2, tmp_path, "rewind", chaos, checkpoint_every=1)
    assert done and summary["step"] == 3 and summary["retries"]["rewinds"] == 1
    assert any("repeating from step 2" in line for line in logs), logs
    assert tokens(steps) == tokens(reference[0])
    assert np.array_equal(weights, reference[1])


def test_divergent_parameters_fail_loudly(session, tmp_path):
    with pytest.raises(ClusterError, match=r"step 1: the nodes' parameters diverged \(checksums by node"):
        run(session, 2, tmp_path, "diverge", node_class=DivergentNode)


def test_evaluations_and_checkpoints_during_the_run(session, tmp_path):
    summary, _, _, logs = run(session, 2, tmp_path, "evals", checkpoint_every=2, eval_every=1,
                              eval_problems=PROBLEMS[:5], eval_generation={"temperature": 0, "samples": 1})
    # after step s the simulated answer n is right when n + s is even: answers 0..4
    assert summary["evaluations"] == [{"step": 1, "problems": 5, "accuracy": 2 / 5},
                                      {"step": 2, "problems": 5, "accuracy": 3 / 5},
                                      {"step": 3, "problems": 5, "accuracy": 2 / 5}]
    assert summary["checkpoints"] == [str(tmp_path / "evals-ckpt" / "step-2.safetensors")]
    assert any(line.startswith("eval at step 3: accuracy 0.4000 on 5 problems (2 nodes)") for line in logs), logs

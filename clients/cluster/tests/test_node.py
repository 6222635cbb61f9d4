"""TorlNode actors on a local 2-node Ray cluster: one per node, each with its own daemon; a group's rollout is the
same whichever node runs it and equals a direct `rollout` with the same seed; a dead daemon brings its actor back
with a fresh one; nothing outlives the cluster."""
import os
import signal

import numpy as np
import ray

from conftest import INSTRUCTION, PROBLEMS, local_pool, pid_alive, wait_until_dead
from torl_client import Client
from torl_cluster.seeds import group_seed
from torl_cluster.trajectories import TrajectoryBatch

PARAMS = dict(group_size=3, max_tokens=40, max_tool_calls=1, template="chat", instruction=INSTRUCTION,
              accept_unboxed_answers=True, temperature=1.0)


def test_nodes_rollouts_restart_and_cleanup(torl_bin, model):
    seed = group_seed(5, 2, 1)
    with Client.spawn(torl=torl_bin, args=["--model", model, "--pool-size", "2"]) as direct:
        reference = TrajectoryBatch.from_rollout(direct.rollout([PROBLEMS[0]], seed=seed, **PARAMS), 1)
    assert reference.count == 3 and len(set(reference.token_ids.tolist())) > 1

    with local_pool(2, torl_bin, model) as (pool, daemon_pids):
        infos = [node.info for node in pool.nodes]
        assert len({info["node_id"] for info in infos}) == 2, "STRICT_SPREAD: one actor per Ray node"
        assert len(set(daemon_pids)) == 2 and all(pid_alive(pid) for pid in daemon_pids)

        batches = ray.get([node.actor.rollout.remote(PROBLEMS[0], 1, dict(PARAMS, seed=seed)) for node in pool.nodes])
        for batch in batches:
            assert batch.token_ids.dtype == np.int32 and batch.logprobs.dtype == np.float32
            assert batch.loss_mask.dtype == np.uint8
            assert batch.token_ids.tolist() == reference.token_ids.tolist(), "same group seed, same tokens on every node"
            assert batch.offsets.tolist() == reference.offsets.tolist()
            np.testing.assert_allclose(batch.logprobs, reference.logprobs, rtol=0, atol=1e-5)
        # Another prompt index's seed gives other samples.
        other = ray.get(pool.nodes[0].actor.rollout.remote(PROBLEMS[0], 2, dict(PARAMS, seed=group_seed(5, 2, 2))))
        assert other.token_ids.tolist() != reference.token_ids.tolist()

        # The daemon dies: its actor exits and Ray restarts it with a new daemon.
        victim = pool.nodes[1]
        old = dict(victim.info)
        os.kill(old["daemon_pid"], signal.SIGKILL)
        assert not wait_until_dead([old["daemon_pid"]], 10)
        import time
        deadline = time.time() + 120
        while time.time() < deadline:
            if pool.probe(victim, timeout=10) and victim.incarnation != old["incarnation"]:
                break
            time.sleep(1)
        assert victim.incarnation != old["incarnation"], "the actor came back"
        assert victim.info["daemon_pid"] != old["daemon_pid"] and pid_alive(victim.info["daemon_pid"])
        assert not pid_alive(old["actor_pid"]), "the old actor process ended with its daemon"
        daemon_pids.append(victim.info["daemon_pid"])
        again = ray.get(victim.actor.rollout.remote(PROBLEMS[0], 1, dict(PARAMS, seed=seed)))
        assert again.token_ids.tolist() == reference.token_ids.tolist()

        # Killing an actor takes its daemon with it (the stdin lifeline), even without a restart.
        actor_pid, daemon_pid = pool.nodes[0].info["actor_pid"], pool.nodes[0].info["daemon_pid"]
        ray.kill(pool.nodes[0].actor, no_restart=True)
        assert not wait_until_dead([actor_pid, daemon_pid], 30), "the daemon died with its actor"

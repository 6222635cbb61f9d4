"""The Ray side: a local cluster of simulated nodes or a connection to a running one, and the pool of `TorlNode`
actors placed one per node."""
import os
import time

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from .node import DaemonError, DaemonLost, TorlNode

# Concurrent calls one node actor accepts: every group of a step is submitted at once (the daemon queues them),
# plus status probes while they run.
NODE_CONCURRENCY = 64


class ClusterError(RuntimeError):
    """The cluster cannot go on (no node left, diverged parameters, retries used up); the message says why."""


class RaySession:
    """`ray.init` on an existing cluster (`address`), or a local cluster of `local_nodes` simulated nodes on this
    machine, each with its own CPUs, so a STRICT_SPREAD placement group puts one node actor on each. `close()`
    (or leaving the `with` block) shuts everything this session started down."""

    def __init__(self, address=None, local_nodes=None, cpus_per_node=None, object_store_bytes=200 * 1024 * 1024):
        if (address is None) == (local_nodes is None):
            raise ValueError("give exactly one of --address (an existing Ray cluster) or --local-nodes N")
        self.local_cluster = None
        if local_nodes is not None:
            if local_nodes < 1:
                raise ValueError("--local-nodes must be >= 1")
            from ray.cluster_utils import Cluster
            cpus = cpus_per_node or max(1, (os.cpu_count() or 1) // local_nodes)
            node_args = {"num_cpus": cpus, "object_store_memory": object_store_bytes}
            self.local_cluster = Cluster(initialize_head=True, head_node_args=dict(node_args, include_dashboard=False))
            try:
                for _ in range(local_nodes - 1):
                    self.local_cluster.add_node(**node_args)
                self.local_cluster.wait_for_nodes()
                ray.init(address=self.local_cluster.address, log_to_driver=False)
            except BaseException:
                self.local_cluster.shutdown()
                raise
        else:
            ray.init(address=address, log_to_driver=False)

    def close(self):
        ray.shutdown()
        if self.local_cluster is not None:
            self.local_cluster.shutdown()
            self.local_cluster = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Node:
    """The driver's handle of one node actor: its bundle index (stable across restarts), what it said about itself
    at its last probe, and whether the driver counts it as lost."""

    def __init__(self, index, actor, cpus):
        self.index = index
        self.actor = actor
        self.cpus = cpus
        self.info = None
        self.lost = False
        # The trainer step whose weights this node holds, as last checked; None: unknown (a new incarnation).
        self.trainer_step = None

    @property
    def incarnation(self):
        return self.info["incarnation"] if self.info else None

    def __repr__(self):
        return "node %d (%s)" % (self.index, self.info["ip"] if self.info else "?")


def alive_cpu_nodes():
    return [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1]


class NodePool:
    """`count` TorlNode actors (default: one per alive node), one per node through a STRICT_SPREAD placement group
    whose bundles take all of a node's CPUs (`cpus_per_node`, default the smallest node's count, so every bundle
    fits every node). Each actor restarts up to `max_restarts` times, with a fresh daemon. (`node_class` is the
    actor's class: TorlNode, or a stand-in with its methods in the driver's fault tests.)"""

    def __init__(self, count=None, cpus_per_node=None, model=None, weights=None, pool_size=None, torl_bin=None,
                 python=None, max_restarts=3, start_timeout=600, node_class=TorlNode):
        nodes = alive_cpu_nodes()
        if not nodes:
            raise ClusterError("the Ray cluster has no alive node with a CPU")
        count = count or len(nodes)
        if count > len(nodes):
            raise ClusterError("%d nodes asked for, the Ray cluster has %d alive nodes with CPUs" % (count, len(nodes)))
        cpus = cpus_per_node or int(min(n["Resources"]["CPU"] for n in nodes))
        self.group = placement_group([{"CPU": cpus}] * count, strategy="STRICT_SPREAD", name="")
        try:
            ray.get(self.group.ready(), timeout=start_timeout)
        except ray.exceptions.GetTimeoutError:
            remove_placement_group(self.group)
            raise ClusterError("no placement of %d bundles of %d CPUs on distinct nodes within %d s"
                               % (count, cpus, start_timeout)) from None
        remote = ray.remote(node_class)
        options = dict(model=model, weights=weights, pool_size=pool_size or max(2, cpus), torl_bin=torl_bin,
                       python=python)
        self.nodes = []
        for index in range(count):
            actor = remote.options(
                num_cpus=cpus, max_restarts=max_restarts, max_task_retries=0, max_concurrency=NODE_CONCURRENCY,
                scheduling_strategy=PlacementGroupSchedulingStrategy(self.group, placement_group_bundle_index=index),
            ).remote(**options)
            self.nodes.append(Node(index, actor, cpus))
        try:
            infos = ray.get([node.actor.info.remote() for node in self.nodes], timeout=start_timeout)
        except Exception as error:
            self.shutdown()
            raise ClusterError("the node actors did not start: %s" % explain(error)) from None
        for node, info in zip(self.nodes, infos):
            node.info = info

    def usable(self):
        return [node for node in self.nodes if not node.lost]

    def probe(self, node, timeout):
        """Asks a node who it is. Returns True when it answered (updating `info`; a new incarnation means a
        restarted actor with a fresh daemon), False when it did not within `timeout`."""
        try:
            info = ray.get(node.actor.info.remote(), timeout=timeout)
        except Exception:
            return False
        if info["incarnation"] != node.incarnation:
            node.trainer_step = None
        node.info = info
        return True

    def lose(self, node):
        node.lost = True
        node.trainer_step = None

    def shutdown(self, timeout=60):
        """Stops every daemon, then the actors and the placement group. Nothing started here outlives it."""
        pending = []
        for node in self.nodes:
            try:
                pending.append(node.actor.shutdown.remote())
            except Exception:
                pass
        deadline = time.time() + timeout
        for ref in pending:
            try:
                ray.get(ref, timeout=max(0.1, deadline - time.time()))
            except Exception:
                pass  # a dead actor's daemon already died with it (its stdin pipe closed)
        for node in self.nodes:
            try:
                ray.kill(node.actor, no_restart=True)
            except Exception:
                pass
        try:
            remove_placement_group(self.group)
        except Exception:
            pass


def cause(error):
    """The exception a remote call raised on the node (Ray wraps it), or `error` itself."""
    return getattr(error, "cause", None) or error


def is_node_loss(error):
    """True when `error` means the node is gone (its actor died or restarts, or its daemon died), as opposed to
    an answer of a healthy daemon (an RPC error) or a bug."""
    from ray.exceptions import GetTimeoutError, ObjectLostError, RayActorError, RayTaskError, WorkerCrashedError
    if isinstance(error, RayTaskError):
        return isinstance(error.cause, DaemonLost)
    return isinstance(error, (RayActorError, WorkerCrashedError, ObjectLostError, GetTimeoutError))


def rpc_error(error):
    """The daemon's JSON-RPC error behind a failed remote call, or None."""
    found = cause(error)
    return found if isinstance(found, DaemonError) else None


def explain(error):
    found = cause(error)
    if isinstance(found, DaemonError):
        return str(found)
    return "%s: %s" % (type(found).__name__, str(found).strip().splitlines()[-1] if str(found).strip() else "")

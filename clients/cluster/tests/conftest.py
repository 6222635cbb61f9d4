"""Fixtures for the tests that run real daemons: the torl binary built by `make` (TORL_BIN) and the default model
(TORL_MODEL), as clients/python's tests use them. Ray clusters are local (simulated nodes) and always shut down."""
import contextlib
import importlib.util
import os
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TESTS = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(TESTS)
# The package from this checkout even where it is not installed (pip install -e clients/cluster), here and in the
# processes the tests start: Ray's workers import the test helpers (simulated_node) and torl_cluster by name, and
# the local clusters and `python -m torl_cluster.cli` runs inherit this environment.
sys.path[:0] = [path for path in (PACKAGE, TESTS) if path not in sys.path]
os.environ["PYTHONPATH"] = os.pathsep.join(
    [TESTS, PACKAGE] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
# The default model answers these in a few dozen tokens, with a python block under the demo's instruction.
INSTRUCTION = ("Use Python to solve the problem: write a ```python code block that prints the answer, then put your "
               "final answer within \\boxed{}.")
PROBLEMS = [
    {"id": "mul", "problem": "Compute $12 \\times 34$.", "answer": "408"},
    {"id": "add", "problem": "What is 17 + 25?", "answer": "42"},
    {"id": "sub", "problem": "What is 100 - 37?", "answer": "63"},
    {"id": "pow", "problem": "What is 2^10?", "answer": "1024"},
]


def _client_test_fixtures():
    """The Python client's test fixtures (`torl_bin`, `schemas`, ...), one copy for both packages' tests."""
    path = os.path.join(ROOT, "clients", "python", "tests", "conftest.py")
    spec = importlib.util.spec_from_file_location("torl_client_test_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLIENT_FIXTURES = _client_test_fixtures()


def pytest_configure(config):
    config.pluginmanager.register(CLIENT_FIXTURES, "torl_client_test_fixtures")


@pytest.fixture(scope="session")
def model():
    return CLIENT_FIXTURES._required_env("TORL_MODEL")


@pytest.fixture(scope="session")
def daemon_methods(torl_bin, model):
    """The methods the binary's daemon offers (`initialize` capabilities)."""
    from torl_client import Client
    with Client.spawn(torl=torl_bin, args=["--model", model]) as client:
        return set(client.server_info["capabilities"]["methods"])


@pytest.fixture(scope="session")
def cluster_methods(daemon_methods):
    """Skips (saying why) when the daemon has no `cluster/train_step`: multi-node training needs it."""
    missing = sorted({"cluster/join", "cluster/train_step"} - daemon_methods)
    if missing:
        pytest.skip("this torl daemon has no %s (initialize capabilities): multi-node training needs the "
                    "cluster methods" % ", ".join(missing))
    return daemon_methods


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def wait_until_dead(pids, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        alive = [pid for pid in pids if pid_alive(pid)]
        if not alive:
            return []
        time.sleep(0.2)
    return [pid for pid in pids if pid_alive(pid)]


@contextlib.contextmanager
def local_pool(nodes, torl_bin, model, **pool_options):
    """A local Ray cluster of `nodes` simulated nodes with one TorlNode each; afterwards every daemon is gone."""
    from torl_cluster.cluster import NodePool, RaySession
    daemon_pids = []
    with RaySession(local_nodes=nodes, cpus_per_node=1) as session:
        pool = NodePool(count=nodes, cpus_per_node=1, model=model, torl_bin=torl_bin, pool_size=2, **pool_options)
        try:
            daemon_pids.extend(node.info["daemon_pid"] for node in pool.nodes)
            yield pool, daemon_pids
        finally:
            pool.shutdown()
    leftover = wait_until_dead(daemon_pids)
    assert not leftover, "daemons outlived their cluster: %s" % leftover


def export_weights(path):
    from safetensors.numpy import load_file
    return load_file(os.path.join(path, "model.safetensors"))

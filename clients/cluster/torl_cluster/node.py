"""`TorlNode`: the Ray actor that owns one machine's torl daemon.

It starts `torl serve` on a Unix socket in a private temporary folder and talks to it with `torl_client`. The
daemon's stdin is a pipe the actor never writes to: `torl serve --stdio` exits when its stdin closes, so when the
actor's process ends in any way (shutdown, `ray.kill`, a crash, SIGKILL) the kernel closes the pipe and the
daemon stops with it. The other way round, a watcher thread ends the actor's process when the daemon dies, so Ray
restarts the actor (`max_restarts`) and with it a fresh daemon."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

from torl_client import Client, ConnectionClosed, RPCError

from .trajectories import TrajectoryBatch

DAEMON_START_SECONDS = 300


class DaemonLost(Exception):
    """The node's daemon went away (killed, crashed, or its connection closed) in the middle of a call."""


class DaemonError(Exception):
    """A JSON-RPC error answer of the node's daemon. (torl_client's RPCError does not survive pickling, which
    is how Ray hands a remote exception to the driver, so the node re-raises it as this.)"""

    def __init__(self, method, code, message, data=None):
        super().__init__("%s: %s (code %d)" % (method, message, code))
        self.method, self.code, self.message, self.data = method, code, message, data

    def __reduce__(self):
        return (DaemonError, (self.method, self.code, self.message, self.data))


METHOD_NOT_FOUND = -32601


class DaemonStartError(RuntimeError):
    """`torl serve` did not come up; the message holds the end of its log."""


def find_torl_binary(explicit=None):
    binary = explicit or os.environ.get("TORL_BIN") or shutil.which("torl")
    if not binary:
        raise FileNotFoundError("no torl binary on this node: set TORL_BIN or put torl on PATH")
    if not os.access(binary, os.X_OK):
        raise FileNotFoundError("torl binary %s is not executable" % binary)
    return binary


def _log_tail(path, lines=20):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return "(no log)"


class DaemonProcess:
    """A `torl serve` child on a Unix socket, tied to this process's life by its stdin pipe."""

    def __init__(self, binary, model=None, weights=None, pool_size=None, python=None, extra_env=None):
        self.folder = tempfile.mkdtemp(prefix="torl-node-")
        self.socket_path = os.path.join(self.folder, "torl.sock")
        self.log_path = os.path.join(self.folder, "daemon.log")
        command = [binary, "serve", "--stdio", "--listen", "unix:" + self.socket_path, "--log-file", self.log_path,
                   # Nobody waits for in-flight work once the actor is gone: stop at once.
                   "--grace", "0"]
        if model:
            command += ["--model", model]
        if weights:
            command += ["--weights", weights]
        if pool_size:
            command += ["--pool-size", str(pool_size)]
        if python:
            command += ["--python", python]
        env = dict(os.environ, **(extra_env or {}))
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        stderr=open(os.path.join(self.folder, "stderr.log"), "wb"), env=env)
        self.stopping = False
        deadline = time.time() + DAEMON_START_SECONDS
        while not os.path.exists(self.socket_path):
            if self.process.poll() is not None:
                raise DaemonStartError("torl serve exited with %s while starting: %s"
                                       % (self.process.returncode, self.describe_failure()))
            if time.time() > deadline:
                self.stop()
                raise DaemonStartError("torl serve did not listen within %d s" % DAEMON_START_SECONDS)
            time.sleep(0.05)
        self.address = "unix:" + self.socket_path

    def describe_failure(self):
        stderr = _log_tail(os.path.join(self.folder, "stderr.log"))
        return "log: %s stderr: %s" % (_log_tail(self.log_path), stderr)

    def kill(self):
        """SIGKILL, for a daemon that does not stop politely."""
        try:
            self.process.kill()
        except OSError:
            pass

    def stop(self, timeout=30):
        self.stopping = True
        try:
            self.process.stdin.close()  # the lifeline: the daemon exits on EOF
        except OSError:
            pass
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class TorlNode:
    """One machine's daemon. Created by `cluster.NodePool` as a Ray actor (one per node, STRICT_SPREAD placement
    group, all of the node's CPUs); every method runs on the node and returns plain data or arrays."""

    def __init__(self, model=None, weights=None, pool_size=None, torl_bin=None, python=None, extra_env=None):
        self.incarnation = uuid.uuid4().hex
        self.binary = find_torl_binary(torl_bin)
        self.daemon = DaemonProcess(self.binary, model=model, weights=weights, pool_size=pool_size,
                                    python=python, extra_env=extra_env)
        try:
            self.client = Client.connect(self.daemon.address, timeout=60)
        except Exception:
            self.daemon.stop()
            raise
        self.methods = set(self.client.server_info.get("capabilities", {}).get("methods", []))
        self._watcher = threading.Thread(target=self._watch_daemon, name="torl-daemon-watch", daemon=True)
        self._watcher.start()

    def _watch_daemon(self):
        self.daemon.process.wait()
        if not self.daemon.stopping:
            # The daemon died under us: end this process so Ray restarts the actor with a new daemon.
            os._exit(17)

    def _call(self, method, params=None, timeout=None):
        try:
            return self.client.request(method, params, timeout=timeout)
        except RPCError as error:
            raise DaemonError(method, error.code, error.message, error.data) from None
        except (ConnectionClosed, OSError) as error:
            raise DaemonLost("the daemon of node %s went away during %s: %s" % (self.node_ip(), method, error)) from None

    # -- identity -----------------------------------------------------------------------------------------------

    def node_ip(self):
        import ray
        return ray.util.get_node_ip_address()

    def info(self):
        import ray
        return {"incarnation": self.incarnation, "node_id": ray.get_runtime_context().get_node_id(),
                "ip": self.node_ip(), "hostname": socket.gethostname(), "actor_pid": os.getpid(),
                "daemon_pid": self.daemon.process.pid, "methods": sorted(self.methods)}

    def status(self):
        return self._call("status")

    def has_method(self, method):
        return method in self.methods

    # -- work -----------------------------------------------------------------------------------------------------

    def rollout(self, problem, prompt_index, params):
        """One group: `rollout` of one problem, kept in the daemon's store; the trajectories come back as arrays."""
        result = self._call("rollout", dict(params, problems=[problem]))
        return TrajectoryBatch.from_rollout(result, prompt_index)

    def evaluate(self, problems, params):
        """`evaluate` of these problems; the per-problem records (written by the daemon to a file on this node)
        come back with the daemon's metrics."""
        output = os.path.join(self.daemon.folder, "records-%s.jsonl" % uuid.uuid4().hex)
        try:
            result = self._call("evaluate", dict(params, problems=problems, output=output))
            with open(output, encoding="utf-8") as handle:
                records = [json.loads(line) for line in handle if line.strip()]
        finally:
            if os.path.exists(output):
                os.remove(output)
        return {"problems": result["problems"], "metrics": result["metrics"], "records": records}

    def join(self, rank, world_size, store_address, prefix, timeout_seconds):
        return self._call("cluster/join", {"rank": rank, "world_size": world_size, "store": {"tcp": store_address},
                                           "prefix": prefix, "hostname": self.node_ip(),
                                           "timeout_seconds": timeout_seconds})

    def leave(self):
        return self._call("cluster/leave", {})

    def train_step(self, params, rollout_ids, in_group):
        """`cluster/train_step` as one rank of the node's group, or the plain `train_step` on stored rollouts when
        the node trains alone (world size 1: nothing to all-reduce)."""
        return self._call("cluster/train_step" if in_group else "train_step", dict(params, rollout_ids=rollout_ids))

    def request(self, method, params=None):
        """Any other daemon method (checkpoints, export)."""
        return self._call(method, params)

    def synthetic(self, arguments):
        """`torl synthetic ARGS` on this node: generated training problems as JSONL text."""
        completed = subprocess.run([self.binary, "synthetic", *arguments], capture_output=True, text=True,
                                   timeout=300)
        if completed.returncode != 0:
            raise RuntimeError("torl synthetic failed: %s" % completed.stderr.strip())
        return completed.stdout

    def shutdown(self):
        """Stops the daemon (its stdin closed: in-flight work is cancelled at once; SIGKILL after 30 s) and removes
        its folder. Not a `shutdown` request first: that would wait for the work in flight."""
        self.daemon.stop()
        try:
            self.client.close()
        except Exception:
            pass
        return True

    def __repr__(self):
        return "TorlNode(%s)" % getattr(self, "incarnation", "?")[:8]


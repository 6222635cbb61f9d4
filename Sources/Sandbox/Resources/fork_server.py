# torl sandbox fork-server. Spawned by the Swift SandboxPool; never run by hand.
#
# File descriptors (set up by the pool):
#   0  control requests from the pool   (frames: 4-byte big-endian length + JSON)
#   1  stdout pipe of the runs          (inherited by each run; the server never writes to it)
#   2  stderr pipe of the runs          (same)
#   3  control replies to the pool      (same framing)
# argv[1] is a JSON object: {"isolate": bool, "run_uid": int or null, "tmpfs_bytes": int}.
#
# Each run is one fork of this warm server, made ahead of its request while the worker is idle: pid 1 of a
# fresh PID namespace when the kernel allows it, so that when the run ends (or the pool kills it) the kernel
# kills every process it left behind. The server reaps it, wipes its work dir, then reports "done".
import ctypes
import json
import os
import signal
import socket
import struct
import sys

CONTROL_IN, RUN_STDOUT, RUN_STDERR, CONTROL_OUT = 0, 1, 2, 3

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def unshare(flags):
    _check(libc.unshare(flags), "unshare(0x%x)" % flags)


def mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None
    _check(libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), "mount %s" % target)


def setns(fd, nstype):
    _check(libc.setns(fd, nstype), "setns(0x%x)" % nstype)


def die_with_parent():
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def read_exact(fd, count):
    chunks = []
    while count > 0:
        chunk = os.read(fd, count)
        if not chunk:
            return None
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def read_frame(fd):
    header = read_exact(fd, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    body = read_exact(fd, length)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))


def write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def send(message):
    body = json.dumps(message).encode("utf-8")
    write_all(CONTROL_OUT, struct.pack(">I", len(body)) + body)


# ---------------------------------------------------------------- isolation set up once per server

def enter_namespaces(isolation, tmpfs_bytes):
    """Private network and mount namespaces for the whole server; user namespace when not root."""
    errors = []
    entered = False
    if os.geteuid() == 0:
        try:
            unshare(CLONE_NEWNS | CLONE_NEWNET)
            isolation["namespaces"] = "root"
            entered = True
        except OSError as e:
            errors.append(str(e))
    if not entered:
        uid, gid = os.getuid(), os.getgid()
        try:
            unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET)
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write("0 %d 1" % uid)
            with open("/proc/self/gid_map", "w") as f:
                f.write("0 %d 1" % gid)
            isolation["namespaces"] = "user"
            entered = True
        except OSError as e:
            errors.append(str(e))
    if not entered:
        isolation["namespaces"] = "none"
        isolation["errors"].extend(errors)
        return
    try:
        names = [name for _, name in socket.if_nameindex()]
        isolation["network"] = names == ["lo"]
    except OSError as e:
        isolation["errors"].append("if_nameindex: %s" % e)
    try:
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        mounted = []
        needed = interpreter_paths()
        for directory in PRIVATE_DIRS:
            if not os.path.isdir(directory):
                continue
            if directory in needed:
                isolation["errors"].append("%s kept shared: the interpreter lives in it directly" % directory)
                continue
            private_tmp_keeping_interpreter(directory, needed, tmpfs_bytes, isolation)
            mounted.append(directory)
        isolation["private_tmp"] = mounted
    except OSError as e:
        isolation["errors"].append(str(e))


def private_tmp_keeping_interpreter(directory, needed, tmpfs_bytes, isolation):
    """Covers `directory` with a private tmpfs; the entries of it the interpreter lives in (a virtual environment
    under /tmp) are bind-mounted back into the tmpfs read-only, so runs still start but share nothing else of the
    host's directory, and cannot write into the interpreter."""
    inside = sorted({path[len(directory) + 1:].split("/")[0] for path in needed
                     if path.startswith(directory + "/")})
    handles = {name: os.open(os.path.join(directory, name), os.O_PATH | os.O_CLOEXEC) for name in inside}
    mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=%d" % tmpfs_bytes)
    for name, handle in handles.items():
        target = os.path.join(directory, name)
        os.mkdir(target, 0o755)
        mount("/proc/self/fd/%d" % handle, target, None, MS_BIND | MS_REC)
        os.close(handle)
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        isolation.setdefault("interpreter_binds", []).append(target)


def interpreter_paths():
    """Directories the interpreter reads from: its prefixes, its executable's directory, sys.path."""
    needed = {os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)}
    needed |= {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    needed.add(os.path.dirname(os.path.realpath(sys.executable)))
    return needed


def expose_interpreter(isolation):
    """Lets the unprivileged run uid reach the interpreter when it lives under a private directory (/root).

    Each such directory is covered, in the server's mount namespace only, by an empty world-readable tmpfs
    into which just the interpreter's own subdirectories are bind-mounted back; nothing else of it shows.
    """
    import stat
    needed = interpreter_paths()
    for _ in range(8):
        hidden = {}
        for path in sorted(needed):
            parts = path.strip("/").split("/")
            for depth in range(1, len(parts)):
                ancestor = "/" + "/".join(parts[:depth])
                if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                    hidden.setdefault(ancestor, set()).add(parts[depth])
                    break
        if not hidden:
            return
        for directory, children in sorted(hidden.items()):
            handles = {child: os.open(os.path.join(directory, child), os.O_PATH | os.O_CLOEXEC) for child in children}
            mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=65536")
            for child, handle in handles.items():
                os.mkdir(os.path.join(directory, child))
                mount("/proc/self/fd/%d" % handle, os.path.join(directory, child), None, MS_BIND | MS_REC)
                os.close(handle)
            isolation.setdefault("exposed", []).append(directory)
    raise OSError(0, "interpreter path still hidden after 8 rounds")


def probe_pid_namespace(isolation, config):
    """How each run can be pid 1 of its own PID namespace, tried in a throwaway child as runs will do it.

    "setns": the server unshares a PID namespace before each fork and returns to its own with setns (one
    fork per run; needs CAP_SYS_ADMIN over the server's own PID namespace, i.e. root).
    "supervisor": a supervisor process unshares and forks the run (two forks per run; works in a user
    namespace, where setns back to the host's PID namespace is refused).
    """
    config["own_pid_namespace"] = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    for method in ("setns", "supervisor"):
        prober = os.fork()
        if prober == 0:
            try:
                for _ in range(2):
                    unshare(CLONE_NEWPID)
                    pid = os.fork()
                    if pid == 0:
                        os._exit(0 if os.getpid() == 1 else 3)
                    if method == "setns":
                        setns(config["own_pid_namespace"], CLONE_NEWPID)
                    _, status = os.waitpid(pid, 0)
                    if os.waitstatus_to_exitcode(status) != 0:
                        os._exit(4)
                    if method == "supervisor":
                        break
                os._exit(0)
            except BaseException:
                os._exit(5)
        _, status = os.waitpid(prober, 0)
        if os.waitstatus_to_exitcode(status) == 0:
            isolation["pid_namespace"] = True
            isolation["pid_namespace_method"] = method
            return
        isolation["errors"].append("pid namespace by %s: probe failed (%d)" % (method, os.waitstatus_to_exitcode(status)))


def hide_foreign_processes(isolation):
    """A /proc where a run sees only its own processes.

    As root (runs under their own uid) one proc mount with hidepid serves every run. In a user namespace
    the server may not mount proc, so each run mounts the proc of its own PID namespace (costs ~1 ms).
    """
    if isolation["namespaces"] == "root" and isolation.get("run_uid") is not None:
        try:
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
            isolation["proc"] = "hidepid"
        except OSError as e:
            isolation["errors"].append(str(e))
    elif isolation["namespaces"] == "user" and isolation.get("pid_namespace"):
        isolation["proc"] = "per_run"


# ---------------------------------------------------------------- warm interpreter

def warm_up():
    import numpy
    import sympy
    x, y = sympy.symbols("x y")
    sympy.factor(x ** 4 - 1)
    sympy.simplify(sympy.sin(x) ** 2 + sympy.cos(x) ** 2)
    sympy.solve(x ** 2 - 2 * x - 3, x)
    sympy.expand((x + y) ** 3)
    sympy.integrate(x * sympy.exp(x), x)
    sympy.Rational(3, 7) + sympy.sqrt(8)
    sympy.N(sympy.pi, 30)
    sympy.latex(sympy.Matrix([[1, 2], [3, 4]]).inv())
    numpy.linalg.solve(numpy.eye(3), numpy.ones(3))
    numpy.ones((64, 64)) @ numpy.ones((64, 64))
    import atexit, collections, decimal, fractions, functools, io, itertools, math, random, re  # noqa: F401
    import statistics, string, threading, traceback, types, cmath, heapq, bisect, builtins  # noqa: F401
    import resource, shutil, tempfile, linecache  # noqa: F401


def address_space_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


# ---------------------------------------------------------------- one run

def run_code(request_fd, workdir, config, isolation):
    """Body of the run process: prepared ahead of its request, then runs it. Never returns."""
    import builtins, io, resource, types
    status = 70
    try:
        os.setsid()
        die_with_parent()
        if isolation.get("proc") == "per_run":
            unshare(CLONE_NEWNS)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        request = read_frame(request_fd)
        if request is None:
            os._exit(0)  # the server discarded this spare
        limits = request["limits"]
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # Soft = hard: pid 1 of a namespace ignores SIGXCPU, so the limit ends the run with SIGKILL.
        cpu = max(1, int(limits["cpu_seconds"] + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        memory = config["baseline_address_space"] + limits["memory_bytes"]
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["max_file_bytes"], limits["max_file_bytes"]))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["max_processes"], limits["max_processes"]))
        run_uid = isolation.get("run_uid")
        if run_uid is not None:
            os.setgroups([])
            os.setgid(run_uid)
            os.setuid(run_uid)
            # Changing uid clears "dumpable" (making /proc/self root-owned) and the parent-death signal;
            # set both again. (Should the server die in between, the pool kills the run's group itself.)
            _check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")
            die_with_parent()
        os.chdir(workdir)
        os.closerange(3, 1 << 16)
        with open("main.py", "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(request["code"])
        os.environ.clear()
        os.environ.update(request["environment"])
        os.environ["HOME"] = workdir
        os.environ["TMPDIR"] = workdir
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                      errors="surrogateescape", write_through=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", write_through=True)
        sys.argv = ["main.py"]
        sys.path[0] = workdir
        main = types.ModuleType("__main__")
        main.__file__ = os.path.join(workdir, "main.py")
        main.__builtins__ = builtins
        sys.modules["__main__"] = main
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    except BaseException as e:
        try:
            os.write(2, ("torl sandbox: run set-up failed: %r\n" % (e,)).encode())
        finally:
            os._exit(status)
    status = execute_main(request["code"], main, workdir)
    os._exit(status)


def execute_main(source, main, workdir):
    """Runs source as the __main__ module, like `python main.py`; returns the exit status."""
    import atexit, traceback, threading
    status = 0
    try:
        try:
            compiled = compile(source, os.path.join(workdir, "main.py"), "exec")
            exec(compiled, main.__dict__)
        finally:
            try:
                threading._shutdown()
            except BaseException:
                pass
            atexit._run_exitfuncs()
    except SystemExit as e:
        status = exit_status(e.code)
    except BaseException as e:
        tb = e.__traceback__.tb_next if e.__traceback__ is not None else None
        try:
            traceback.print_exception(type(e), e, tb)
        except BaseException:
            pass
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return status


def exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except BaseException:
        pass
    return 1


def sweep_leftovers(pid, isolation):
    """Without a PID namespace: kill the run's process group, then every process of the run's own uid.

    kill(-1) reaches exactly the processes whose real or saved uid is the sender's real uid, so the
    server borrows the run uid as its real and effective uid for that one call (keeping root as saved uid).
    """
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    run_uid = isolation.get("run_uid")
    if run_uid is not None:
        os.setresuid(run_uid, run_uid, 0)
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.setresuid(0, 0, 0)


def wipe(directory, keep=()):
    import shutil
    for entry in os.scandir(directory):
        if entry.path in keep:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def prepare_workdir(isolation):
    import tempfile
    if "/tmp" in isolation.get("private_tmp", []):
        workdir = "/tmp/run"
        os.mkdir(workdir, 0o700)
    else:
        workdir = tempfile.mkdtemp(prefix="torl-run-")
    run_uid = isolation.get("run_uid")
    if run_uid is not None:
        os.chown(workdir, run_uid, run_uid)
    return workdir


def clean_up(workdir, isolation):
    import shutil
    shutil.rmtree(workdir, ignore_errors=True)
    for directory in isolation.get("private_tmp", []):
        wipe(directory, keep=isolation.get("interpreter_binds", ()))


class Spare:
    """A run process forked ahead of its request, waiting on its own pipe, so that the fork (the largest
    cost of a run) happens while the worker is idle rather than while a caller waits."""

    def __init__(self, config, isolation):
        self.workdir = prepare_workdir(isolation)
        self.supervisor = None
        request_read, self.request_fd = os.pipe()
        method = isolation.get("pid_namespace_method")
        if method == "supervisor":
            self._start_supervised(request_read, config, isolation)
            return
        if method == "setns":
            unshare(CLONE_NEWPID)
        try:
            pid = os.fork()
            if pid == 0:
                os.close(self.request_fd)
                run_code(request_read, self.workdir, config, isolation)
        finally:
            if method == "setns":
                setns(config["own_pid_namespace"], CLONE_NEWPID)
        os.close(request_read)
        self.pid = pid

    def _start_supervised(self, request_read, config, isolation):
        report_read, report_write = os.pipe()
        supervisor = os.fork()
        if supervisor == 0:
            try:
                os.close(report_read)
                os.close(self.request_fd)
                die_with_parent()
                unshare(CLONE_NEWPID)
                pid = os.fork()
                if pid == 0:
                    os.close(report_write)
                    run_code(request_read, self.workdir, config, isolation)
                os.close(request_read)
                write_all(report_write, struct.pack("<q", pid))
                _, status, usage = os.wait4(pid, 0)
                write_all(report_write, json.dumps(end_report(status, usage)).encode("utf-8"))
                os._exit(0)
            except BaseException:
                os._exit(70)
        os.close(report_write)
        os.close(request_read)
        self.supervisor = supervisor
        self.report_fd = report_read
        header = read_exact(report_read, 8)
        if header is None:
            os.close(report_read)
            os.waitpid(supervisor, 0)
            raise OSError(0, "the run supervisor died before forking the run")
        (self.pid,) = struct.unpack("<q", header)

    def wait(self):
        """Waits for the run to end (with every process of its namespace); returns its end report."""
        if self.supervisor is None:
            _, status, usage = os.wait4(self.pid, 0)
            return end_report(status, usage)
        chunks = []
        while True:
            chunk = os.read(self.report_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(self.report_fd)
        os.waitpid(self.supervisor, 0)
        try:
            return json.loads(b"".join(chunks).decode("utf-8"))
        except ValueError:
            return {"error": "the run supervisor died without reporting the end of the run"}

    def discard(self, isolation):
        os.close(self.request_fd)
        for pid in (self.pid, self.supervisor):
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if self.supervisor is not None:
            os.close(self.report_fd)
        os.waitpid(self.supervisor if self.supervisor is not None else self.pid, 0)
        clean_up(self.workdir, isolation)


def end_report(status, usage):
    return {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000.0,
        "max_rss_kb": usage.ru_maxrss,
    }


def hand_over(request, config, isolation, spare):
    """Gives the request to a spare; replaces a spare that died while waiting (once)."""
    body = json.dumps(request).encode("utf-8")
    frame = struct.pack(">I", len(body)) + body
    try:
        write_all(spare.request_fd, frame)
    except OSError:
        spare.discard(isolation)
        spare = Spare(config, isolation)
        try:
            write_all(spare.request_fd, frame)
        except OSError:
            spare.discard(isolation)
            raise
    os.close(spare.request_fd)
    return spare


def handle(request, config, isolation, spare):
    """Runs one request. The reply goes out before the work dir is wiped (the caller should not wait for
    that); the next request is read only after it, so no run ever sees the previous run's files."""
    run_id = request["id"]
    try:
        spare = hand_over(request, config, isolation, spare)
        send({"type": "started", "id": run_id, "pid": spare.pid})
        report = spare.wait()
        if not isolation.get("pid_namespace"):
            sweep_leftovers(spare.pid, isolation)
        report.update({"type": "done", "id": run_id})
        send(report)
    finally:
        clean_up(spare.workdir, isolation)


def main():
    config = json.loads(sys.argv[1])
    die_with_parent()
    isolation = {"namespaces": "none", "network": False, "private_tmp": [], "pid_namespace": False,
                 "proc": "shared", "run_uid": None, "errors": []}
    if os.geteuid() == 0 and config.get("run_uid") is not None:
        isolation["run_uid"] = config["run_uid"]
    if config.get("isolate", True):
        enter_namespaces(isolation, config.get("tmpfs_bytes", 256 << 20))
        if isolation["namespaces"] == "user":
            isolation["run_uid"] = None
        if isolation["namespaces"] != "none":
            probe_pid_namespace(isolation, config)
            hide_foreign_processes(isolation)
        if isolation["namespaces"] == "root" and isolation["run_uid"] is not None:
            try:
                expose_interpreter(isolation)
            except OSError as e:
                isolation["errors"].append("expose interpreter: %s" % e)
    warm_up()
    import gc
    gc.collect()
    gc.freeze()
    config["baseline_address_space"] = address_space_bytes()
    send({"type": "ready", "pid": os.getpid(), "python": sys.version.split()[0], "isolation": isolation})
    while True:
        spare = Spare(config, isolation)
        request = read_frame(CONTROL_IN)
        if request is None:
            spare.discard(isolation)
            return
        try:
            handle(request, config, isolation, spare)
        except Exception as e:
            send({"type": "done", "id": request.get("id"), "error": "fork-server: %r" % (e,)})


if __name__ == "__main__":
    main()

"""Synchronous, thread-safe client. One reader thread routes responses to waiting callers and `$/progress`
notifications to the callback registered for their token."""
import itertools
import os
import queue
import shutil
import socket
import subprocess
import threading
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, cast

from .framing import FrameDecoder, encode_frame
from .protocol import (EvaluateResult, InitializeResult, RolloutResult, SandboxExecuteResult, SolveResult,
                       StatusResult, TrainStepResult)

JSON = Any
"""A decoded JSON value (the wire types of `protocol` describe the objects each method sends and returns)."""
ProgressCallback = Callable[[JSON], None]


class RPCError(Exception):
    """An error answer from the daemon: `code` is the JSON-RPC error code, `data` its optional details."""

    def __init__(self, code: int, message: str, data: JSON = None) -> None:
        super().__init__("%s (code %d)" % (message, code))
        self.code = code
        self.message = message
        self.data = data


class ConnectionClosed(Exception):
    """The daemon closed the connection (or died) before answering."""


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: JSON = None
        self.error: Optional[BaseException] = None


class Client:
    """A connection to a torl daemon. Use `Client.connect(address)` or `Client.spawn(...)`."""

    def __init__(self, reader: Callable[[], bytes], writer: Callable[[bytes], Any],
                 close_hook: Optional[Callable[[], None]] = None) -> None:
        self._read = reader
        self._write_raw = writer
        self._close_hook = close_hook
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._pending: Dict[int, _Pending] = {}
        self._progress: Dict[str, ProgressCallback] = {}
        self._closed = False
        self._close_reason: Optional[str] = None
        self.server_info: Optional[InitializeResult] = None
        self.process: Optional["subprocess.Popen[bytes]"] = None
        # notifications no callback claimed, for inspection
        self.notifications: "queue.Queue[Dict[str, JSON]]" = queue.Queue()
        self._reader = threading.Thread(target=self._read_loop, name="torl-client-reader", daemon=True)
        self._reader.start()

    # -- construction -----------------------------------------------------------------------------------------

    @classmethod
    def connect(cls, address: str, token: Optional[str] = None, timeout: float = 10.0,
                initialize: bool = True) -> "Client":
        """address: `tcp://HOST:PORT` or `unix:PATH`."""
        if address.startswith("tcp://"):
            host, _, port = address[len("tcp://"):].rpartition(":")
            if not host or not port.isdigit():
                raise ValueError("tcp address must be tcp://HOST:PORT, got %r" % address)
            sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        elif address.startswith("unix:"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(address[len("unix:"):])
        else:
            raise ValueError("address must start with tcp:// or unix:, got %r" % address)
        sock.settimeout(None)
        client = cls(lambda: sock.recv(65536), sock.sendall, close_hook=lambda: _close_socket(sock))
        if initialize:
            client.initialize(token=token)
        return client

    @classmethod
    def spawn(cls, torl: Optional[str] = None, args: Sequence[str] = (), env: Optional[Mapping[str, str]] = None,
              initialize: bool = True, stderr: Any = None) -> "Client":
        """Starts `torl serve --stdio ARGS` as a child and talks to it over its stdin/stdout."""
        binary = torl or os.environ.get("TORL_BIN") or shutil.which("torl")
        if not binary:
            raise FileNotFoundError("no torl binary: pass torl=PATH or set TORL_BIN")
        child = subprocess.Popen([binary, "serve", "--stdio", *args], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=stderr, env=env, bufsize=0)

        stdin, stdout = child.stdin, child.stdout
        assert stdin is not None and stdout is not None  # both are pipes

        def write(data: bytes) -> None:
            stdin.write(data)
            stdin.flush()

        def close() -> None:
            try:
                stdin.close()
            except OSError:
                pass
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

        client = cls(lambda: os.read(stdout.fileno(), 65536), write, close_hook=close)
        client.process = child
        if initialize:
            client.initialize()
        return client

    # -- raw protocol -------------------------------------------------------------------------------------------

    def request(self, method: str, params: Optional[Mapping[str, JSON]] = None,
                progress: Optional[ProgressCallback] = None, timeout: Optional[float] = None) -> JSON:
        """Sends a request and waits for its answer. `progress(value)` is called for each `$/progress`
        notification of this request (a progress token is added to params). Raises RPCError on an error answer."""
        request_id = next(self._ids)
        pending = _Pending()
        params = dict(params or {})
        token: Optional[str] = None
        if progress is not None:
            token = "p%d" % next(self._tokens)
            params["progress_token"] = token
        with self._state_lock:
            if self._closed:
                raise ConnectionClosed(self._close_reason or "connection closed")
            self._pending[request_id] = pending
            if token is not None and progress is not None:
                self._progress[token] = progress
        message: Dict[str, JSON] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params or method not in ("shutdown", "status"):
            message["params"] = params
        try:
            self._send(message)
            if not pending.done.wait(timeout):
                self.notify("$/cancelRequest", {"id": request_id})
                raise TimeoutError("%s did not answer within %s s (cancel sent)" % (method, timeout))
        finally:
            with self._state_lock:
                self._pending.pop(request_id, None)
                if token is not None:
                    self._progress.pop(token, None)
        if pending.error is not None:
            raise pending.error
        return pending.result

    def notify(self, method: str, params: Optional[Mapping[str, JSON]] = None) -> None:
        message: Dict[str, JSON] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)

    # -- methods ------------------------------------------------------------------------------------------------

    def initialize(self, token: Optional[str] = None, client_name: str = "torl-python") -> InitializeResult:
        params = {"client_name": client_name}
        if token is not None:
            params["token"] = token
        info = cast(InitializeResult, self.request("initialize", params))
        self.server_info = info
        return info

    def status(self) -> StatusResult:
        return cast(StatusResult, self.request("status"))

    def solve(self, problem: str, on_event: Optional[ProgressCallback] = None, **options: JSON) -> SolveResult:
        """Returns the solve result; `on_event(value)` sees text deltas and tool calls as they happen. `options`
        are the fields of `protocol.SolveParams` besides the problem."""
        return cast(SolveResult, self.request("solve", dict(options, problem=problem), progress=on_event))

    def solve_stream(self, problem: str, **options: JSON) -> Iterator[Dict[str, JSON]]:
        """Yields progress values (`{"kind": "text", "delta": ...}`, tool calls and results), then
        `{"kind": "result", "result": <solve result>}`."""
        events: "queue.Queue[Optional[Dict[str, JSON]]]" = queue.Queue()
        outcome: Dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = self.solve(problem, on_event=events.put, **options)
            except BaseException as error:  # handed to the consumer below
                outcome["error"] = error
            events.put(None)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        while True:
            event = events.get()
            if event is None:
                break
            yield event
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        yield {"kind": "result", "result": outcome["result"]}

    def execute(self, code: str, **limits: JSON) -> SandboxExecuteResult:
        params: Dict[str, JSON] = {"code": code}
        if limits:
            params["limits"] = limits
        return cast(SandboxExecuteResult, self.request("sandbox/execute", params))

    def rollout(self, problems: List[Dict[str, JSON]], **options: JSON) -> RolloutResult:
        return cast(RolloutResult, self.request("rollout", dict(options, problems=problems)))

    def train_step(self, on_progress: Optional[ProgressCallback] = None, **options: JSON) -> TrainStepResult:
        return cast(TrainStepResult, self.request("train_step", options, progress=on_progress))

    def evaluate(self, on_progress: Optional[ProgressCallback] = None, **options: JSON) -> EvaluateResult:
        return cast(EvaluateResult, self.request("evaluate", options, progress=on_progress))

    def shutdown(self) -> None:
        self.request("shutdown")

    def close(self) -> None:
        """Polite close: shutdown + exit when still connected, then the transport."""
        with self._state_lock:
            already = self._closed
        if not already:
            try:
                self.request("shutdown", timeout=30)
                self.notify("exit")
            except (ConnectionClosed, RPCError, OSError, TimeoutError):
                pass
        self._mark_closed("closed by the client")
        if self._close_hook:
            hook, self._close_hook = self._close_hook, None
            hook()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------------------

    def _send(self, message: Dict[str, JSON]) -> None:
        data = encode_frame(message)
        with self._write_lock:
            try:
                self._write_raw(data)
            except (OSError, ValueError) as error:
                self._mark_closed("write failed: %s" % error)
                raise ConnectionClosed(str(error)) from error

    def _read_loop(self) -> None:
        decoder = FrameDecoder()
        reason = "the daemon closed the connection"
        try:
            while True:
                data = self._read()
                if not data:
                    break
                for message in decoder.feed(data):
                    self._dispatch(message)
        except Exception as error:  # the reader must end by closing, never die silently
            reason = "connection lost: %s: %s" % (type(error).__name__, error)
        self._mark_closed(reason)

    def _dispatch(self, message: Dict[str, JSON]) -> None:
        if "id" in message and ("result" in message or "error" in message):
            with self._state_lock:
                pending = self._pending.get(message["id"])
            if pending is None:
                return
            if "error" in message:
                error = message["error"] or {}
                pending.error = RPCError(error.get("code", -32603), error.get("message", "unknown error"), error.get("data"))
            else:
                pending.result = message.get("result")
            pending.done.set()
        elif message.get("method") == "$/progress":
            params = message.get("params") or {}
            with self._state_lock:
                callback = self._progress.get(str(params.get("token")))
            if callback is not None:
                callback(params.get("value"))
            else:
                self.notifications.put(message)
        else:
            self.notifications.put(message)

    def _mark_closed(self, reason: str) -> None:
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._close_reason = reason
            waiting = list(self._pending.values())
        for pending in waiting:
            pending.error = ConnectionClosed(reason)
            pending.done.set()


def _close_socket(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()

"""The rendezvous store the daemons' Gloo process groups are formed from: a key-value server on the driver's
machine, standard library only (the daemon holds the C++ client of the same protocol).

Protocol: line-based over TCP, one request per line, values base64 (standard alphabet, padded):

    SET <key> <base64>\\n              -> OK\\n
    GET <key>\\n                       -> VALUE <base64>\\n | MISSING\\n
    WAIT <timeout_ms> <key> <key>...\\n -> OK\\n when every key exists, TIMEOUT\\n when the time ran out first

Keys are non-empty and hold no whitespace. A malformed request is answered `ERROR <reason>\\n` and the connection
stays usable. Keys are never deleted: each attempt of a group uses its own key prefix, so old keys cannot
confuse a new group, and a run's store lives only as long as its driver.
"""
import base64
import binascii
import socket
import socketserver
import threading

# A line longer than this is refused (and the connection closed): a store value is a Gloo address or a small
# blob, never megabytes, so a longer line is a client bug or not this protocol at all.
MAX_LINE_BYTES = 16 * 1024 * 1024


class StoreProtocolError(ValueError):
    """A request that is not this protocol; the message is what the client is told."""


class KeyValueTable:
    """The store's state: keys to bytes, with waiting for keys to appear."""

    def __init__(self):
        self._values = {}
        self._changed = threading.Condition()

    def set(self, key, value):
        with self._changed:
            self._values[key] = value
            self._changed.notify_all()

    def get(self, key):
        with self._changed:
            return self._values.get(key)

    def wait(self, keys, timeout_seconds):
        """True once every key exists; False when `timeout_seconds` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: all(key in self._values for key in keys), timeout_seconds)

    def keys(self):
        with self._changed:
            return sorted(self._values)


def _key(word):
    if not word:
        raise StoreProtocolError("empty key")
    return word


def _decode_value(text):
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise StoreProtocolError("value is not base64: %s" % error) from None


def answer(table, line):
    """The reply line (without its newline) to one request line (without its newline)."""
    words = line.split()
    if not words:
        raise StoreProtocolError("empty request")
    command, arguments = words[0], words[1:]
    if line != " ".join(words):
        raise StoreProtocolError("fields must be separated by single spaces")
    if command == "SET":
        if len(arguments) != 2:
            raise StoreProtocolError("SET takes a key and a base64 value")
        table.set(_key(arguments[0]), _decode_value(arguments[1]))
        return "OK"
    if command == "GET":
        if len(arguments) != 1:
            raise StoreProtocolError("GET takes one key")
        value = table.get(_key(arguments[0]))
        return "MISSING" if value is None else "VALUE " + base64.b64encode(value).decode("ascii")
    if command == "WAIT":
        if len(arguments) < 2:
            raise StoreProtocolError("WAIT takes a timeout in milliseconds and at least one key")
        if not arguments[0].isdigit():
            raise StoreProtocolError("WAIT timeout must be a whole number of milliseconds, got %r" % arguments[0])
        keys = [_key(word) for word in arguments[1:]]
        return "OK" if table.wait(keys, int(arguments[0]) / 1000.0) else "TIMEOUT"
    raise StoreProtocolError("unknown command %r (SET, GET or WAIT)" % command)


class _Connection(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            raw = self.rfile.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if len(raw) > MAX_LINE_BYTES or not raw.endswith(b"\n"):
                if len(raw) > MAX_LINE_BYTES:
                    self._reply("ERROR line longer than %d bytes" % MAX_LINE_BYTES)
                return  # too long, or the peer closed in the middle of a line
            try:
                reply = answer(self.server.table, raw[:-1].decode("ascii").rstrip("\r"))
            except UnicodeDecodeError:
                reply = "ERROR request is not ASCII"
            except StoreProtocolError as error:
                reply = "ERROR %s" % error
            self._reply(reply)

    def _reply(self, text):
        try:
            self.wfile.write(text.encode("ascii") + b"\n")
            self.wfile.flush()
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class RendezvousStore:
    """A running store server. `address` is `host:port` as the daemons reach it (`advertise_host`, default the
    bound host). Use as a context manager or call `close()`."""

    def __init__(self, host="127.0.0.1", port=0, advertise_host=None):
        self.table = KeyValueTable()
        self._server = _Server((host, port), _Connection)
        self._server.table = self.table
        self.port = self._server.server_address[1]
        self.host = advertise_host or host
        self._thread = threading.Thread(target=self._server.serve_forever, name="torl-store", daemon=True)
        self._thread.start()

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class StoreClient:
    """A client of the protocol (the driver's own checks and the tests; the daemons have theirs in C++)."""

    def __init__(self, address, timeout=30.0):
        host, _, port = address.rpartition(":")
        self._socket = socket.create_connection((host, int(port)), timeout=timeout)
        self._file = self._socket.makefile("rwb")

    def _call(self, line):
        self._file.write(line.encode("ascii") + b"\n")
        self._file.flush()
        reply = self._file.readline()
        if not reply.endswith(b"\n"):
            raise ConnectionError("the store closed the connection")
        text = reply[:-1].decode("ascii")
        if text.startswith("ERROR "):
            raise StoreProtocolError(text[len("ERROR "):])
        return text

    def set(self, key, value):
        reply = self._call("SET %s %s" % (key, base64.b64encode(value).decode("ascii")))
        if reply != "OK":
            raise ConnectionError("unexpected store reply %r" % reply)

    def get(self, key):
        reply = self._call("GET %s" % key)
        if reply == "MISSING":
            return None
        if not reply.startswith("VALUE "):
            raise ConnectionError("unexpected store reply %r" % reply)
        return base64.b64decode(reply[len("VALUE "):])

    def wait(self, keys, timeout_ms):
        reply = self._call("WAIT %d %s" % (timeout_ms, " ".join(keys)))
        if reply not in ("OK", "TIMEOUT"):
            raise ConnectionError("unexpected store reply %r" % reply)
        return reply == "OK"

    def close(self):
        self._file.close()
        self._socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main(argv=None):
    """`python -m torl_cluster.store --port P`: a store on its own, for processes formed without the driver."""
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args(argv)
    store = RendezvousStore(options.host, options.port)
    print("store listening on %s:%d" % (options.host, store.port), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        store.close()


if __name__ == "__main__":
    main()

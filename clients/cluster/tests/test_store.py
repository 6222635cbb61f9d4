"""The rendezvous store over real TCP connections: every request of the protocol, waiting across clients,
timeouts, and malformed requests answered with ERROR on a connection that stays usable."""
import base64
import socket
import threading
import time

import pytest

from torl_cluster.store import RendezvousStore, StoreClient, StoreProtocolError


@pytest.fixture()
def store():
    with RendezvousStore() as server:
        yield server


def raw_exchange(address, payload):
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def test_set_get_and_missing_on_the_wire(store):
    value = bytes(range(256)) * 3
    encoded = base64.b64encode(value)
    replies = raw_exchange(store.address, b"GET rank/0\nSET rank/0 " + encoded + b"\nGET rank/0\nSET e \nGET e\n")
    # an empty value is base64 of nothing: the line "SET e " has only two words, so it is malformed
    lines = replies.split(b"\n")
    assert lines[0] == b"MISSING"
    assert lines[1] == b"OK"
    assert lines[2] == b"VALUE " + encoded
    assert lines[3].startswith(b"ERROR ")
    assert lines[4] == b"MISSING"


def test_overwrite_and_binary_values(store):
    with StoreClient(store.address) as client:
        client.set("k", b"\x00\xff first")
        client.set("k", b"second")
        assert client.get("k") == b"second"
        assert client.get("absent") is None


def test_wait_returns_when_another_client_sets_every_key(store):
    results = {}

    def waiter():
        with StoreClient(store.address) as client:
            started = time.time()
            results["ok"] = client.wait(["p/a", "p/b"], 10000)
            results["seconds"] = time.time() - started

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.3)
    with StoreClient(store.address) as setter:
        setter.set("p/a", b"1")
        time.sleep(0.3)
        assert thread.is_alive(), "WAIT must not return before every key exists"
        setter.set("p/b", b"2")
    thread.join(10)
    assert results["ok"] is True
    assert 0.5 <= results["seconds"] < 5


def test_wait_times_out(store):
    with StoreClient(store.address) as client:
        client.set("x", b"1")
        started = time.time()
        assert client.wait(["x", "never"], 300) is False
        assert 0.25 <= time.time() - started < 3
        assert client.wait(["x"], 0) is True


@pytest.mark.parametrize("line, reason", [
    (b"PUT k dmFsdWU=", "unknown command"),
    (b"SET k not*base64", "not base64"),
    (b"SET k", "SET takes"),
    (b"GET", "GET takes"),
    (b"GET a b", "GET takes"),
    (b"WAIT 10", "WAIT takes"),
    (b"WAIT soon k", "whole number"),
    (b"WAIT -5 k", "whole number"),
    (b"GET  k", "single spaces"),
    (b"", "empty request"),
])
def test_malformed_requests_are_errors_and_the_connection_stays_usable(store, line, reason):
    replies = raw_exchange(store.address, line + b"\nSET ok b2s=\nGET ok\n").split(b"\n")
    assert replies[0].startswith(b"ERROR ") and reason.encode() in replies[0], replies[0]
    assert replies[1:3] == [b"OK", b"VALUE b2s="]


def test_client_raises_on_error_reply(store):
    with StoreClient(store.address) as client:
        with pytest.raises(StoreProtocolError, match="unknown command"):
            client._call("DELETE k")


def test_many_concurrent_ranks_rendezvous(store):
    """Each of 8 ranks publishes its address and waits for all the others', as Gloo's rendezvous does."""
    world, seen = 8, {}

    def rank(r):
        with StoreClient(store.address) as client:
            client.set("g1/rank_%d" % r, ("addr-%d" % r).encode())
            assert client.wait(["g1/rank_%d" % i for i in range(world)], 10000)
            seen[r] = [client.get("g1/rank_%d" % i) for i in range(world)]

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(world)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    expected = [("addr-%d" % i).encode() for i in range(world)]
    assert seen == {r: expected for r in range(world)}
    assert store.table.keys() == sorted("g1/rank_%d" % i for i in range(world))

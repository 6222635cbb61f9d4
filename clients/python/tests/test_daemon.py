"""The Python client against a real daemon: every answer checked against its JSON Schema."""
import os
import threading

import pytest

from torl_client import Client, RPCError


@pytest.fixture()
def client(daemon):
    with Client.connect(daemon) as connection:
        yield connection


def test_initialize_reports_model_and_methods(daemon, schemas):
    connection = Client.connect(daemon, initialize=False)
    try:
        info = connection.initialize()
        schemas("initialize", "result", info)
        assert info["model"]["architecture"] == "llama"
        assert info["model"]["parameters"] == 134515008
        assert {"status", "sandbox/execute", "model/load"} <= set(info["capabilities"]["methods"])
    finally:
        connection.close()


def test_status(client, schemas):
    status = client.status()
    schemas("status", "result", status)
    assert status["sandbox"]["workers_alive"] == status["sandbox"]["pool_size"]
    assert status["memory"]["rss_bytes"] > 100 * 2**20


def test_sandbox_execute_runs_python(client, schemas):
    result = client.execute("import sympy\nx = sympy.Symbol('x')\nprint(sympy.factor(x**4 - 1))")
    schemas("sandbox/execute", "result", result)
    assert result["status"] == "ok"
    assert result["stdout"] == "(x - 1)*(x + 1)*(x**2 + 1)\n"


def test_sandbox_timeout_is_reported(client, schemas):
    result = client.execute("while True: pass", wall_timeout_seconds=0.5)
    schemas("sandbox/execute", "result", result)
    assert result["status"] == "timeout"


def test_invalid_params_name_the_field(client):
    with pytest.raises(RPCError) as error:
        client.request("sandbox/execute", {"code": 3})
    assert error.value.code == -32602 and error.value.data["field"] == "code"
    with pytest.raises(RPCError) as error:
        client.request("sandbox/execute", {"code": "1", "bogus": True})
    assert error.value.code == -32602 and error.value.data["field"] == "bogus"
    with pytest.raises(RPCError) as error:
        client.request("sandbox/execute", {"code": "1", "limits": {"wall_timeout_seconds": -1}})
    assert error.value.code == -32602 and error.value.data["field"] == "limits"


def test_unknown_method(client):
    with pytest.raises(RPCError) as error:
        client.request("no/such/method", {})
    assert error.value.code == -32601


def test_model_load_of_a_missing_file_is_a_clear_error(client):
    with pytest.raises(RPCError) as error:
        client.request("model/load", {"path": "/nonexistent/model.gguf"})
    assert error.value.code == -32021
    assert "/nonexistent/model.gguf" in error.value.message


def test_concurrent_clients_get_their_own_answers(daemon):
    results = {}

    def run(index):
        with Client.connect(daemon) as connection:
            results[index] = connection.execute("print(%d * %d)" % (index, index))["stdout"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == {i: "%d\n" % (i * i) for i in range(8)}


def test_spawned_stdio_daemon(torl_bin, schemas):
    environment = {k: v for k, v in os.environ.items() if k != "TORL_MODEL"}
    with Client.spawn(torl_bin, env=environment) as connection:
        schemas("initialize", "result", connection.server_info)
        assert connection.server_info["model"] is None
        assert connection.execute("print('over stdio')")["stdout"] == "over stdio\n"
        with pytest.raises(RPCError) as error:
            connection.request("model/load", {"path": "/nonexistent"})
        assert error.value.code == -32021

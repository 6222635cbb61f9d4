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


def test_solve_streams_deltas_that_join_to_the_text(client, schemas):
    events = []
    result = client.solve("What is 12*13? Answer in \\boxed{}.", on_event=events.append, max_tokens=40,
                          reference="156")
    schemas("solve", "result", result)
    deltas = [e["delta"] for e in events if e["kind"] == "text"]
    assert deltas, "no text deltas were streamed"
    assert "".join(deltas) == result["text"]
    assert result["completion_tokens"] >= 1 and result["prompt_tokens"] > 10
    assert result["grade"] is not None and result["grade"]["verdict"] in ("correct", "incorrect", "no_answer")
    # Greedy is the default: the same request gives the same solution.
    again = client.solve("What is 12*13? Answer in \\boxed{}.", max_tokens=40, reference="156")
    assert again["text"] == result["text"]


def test_solve_stream_generator(client):
    events = list(client.solve_stream("Compute 2+2.", max_tokens=8))
    assert events[-1]["kind"] == "result"
    text = "".join(e["delta"] for e in events[:-1] if e["kind"] == "text")
    assert text == events[-1]["result"]["text"]


def test_solve_rejects_bad_settings(client):
    for params, field in [({"problem": ""}, "problem"), ({"problem": "x", "temperature": -1}, "temperature"),
                          ({"problem": "x", "top_p": 0}, "top_p"), ({"problem": "x", "template": "jinja"}, "template")]:
        with pytest.raises(RPCError) as error:
            client.request("solve", params)
        assert error.value.code == -32602 and error.value.data["field"] == field, (params, error.value.data)


def test_rollout_is_token_exact(client, schemas):
    result = client.rollout([{"id": "a", "problem": "What is 3 + 4?", "answer": "7"}], group_size=2,
                            max_tokens=24, seed=5)
    schemas("rollout", "result", result)
    assert len(result["trajectories"]) == 2
    for trajectory in result["trajectories"]:
        n = len(trajectory["token_ids"])
        assert len(trajectory["logprobs"]) == n and len(trajectory["loss_mask"]) == n
        prompt = trajectory["prompt_length"]
        assert all(m == 0 for m in trajectory["loss_mask"][:prompt])
        sampled = [lp for lp, m in zip(trajectory["logprobs"], trajectory["loss_mask"]) if m == 1]
        assert sampled and all(lp <= 0 for lp in sampled)
        assert trajectory["reward"] in (-1.0, 1.0)


def test_evaluate_writes_records(client, schemas, tmp_path):
    output = tmp_path / "records.jsonl"
    reports = []
    result = client.evaluate(on_progress=reports.append,
                             problems=[{"problem": "What is 1 + 1?", "answer": "2"},
                                       {"problem": "What is 2 + 3?", "answer": "5"}],
                             max_tokens=16, output=str(output))
    schemas("evaluate", "result", result)
    assert result["problems"] == 2
    assert 0 <= result["metrics"]["accuracy"] <= 1
    assert len(output.read_text().splitlines()) == 2
    assert reports and reports[-1]["done"] == reports[-1]["total"] == 2


def test_unknown_limit_names_are_refused_not_ignored(client):
    with pytest.raises(RPCError) as error:
        client.request("sandbox/execute", {"code": "print(1)", "limits": {"timeout_ms": 5}})
    assert error.value.code == -32602 and error.value.data["field"] == "limits.timeout_ms"

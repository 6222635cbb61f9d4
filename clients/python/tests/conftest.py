"""Fixtures: one real daemon per test session, built by `make` (TORL_BIN) with the default model (TORL_MODEL)."""
import glob
import json
import os
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _required_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail("%s is not set: run the tests through `make test` (it builds torl and sets TORL_BIN, TORL_MODEL)" % name)
    return value


@pytest.fixture(scope="session")
def torl_bin():
    path = _required_env("TORL_BIN")
    if not os.access(path, os.X_OK):
        pytest.fail("TORL_BIN=%s is not an executable: build with `make build`" % path)
    return path


@pytest.fixture(scope="session")
def daemon(torl_bin):
    """A daemon on a Unix socket with the default model; yields its address."""
    model = _required_env("TORL_MODEL")
    folder = tempfile.mkdtemp(prefix="torl-test-")
    socket_path = os.path.join(folder, "torl.sock")
    log_path = os.path.join(folder, "daemon.log")
    process = subprocess.Popen([torl_bin, "serve", "--listen", "unix:" + socket_path, "--model", model,
                                "--log-file", log_path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not os.path.exists(socket_path):
        if process.poll() is not None:
            pytest.fail("the daemon exited with %s: %s" % (process.returncode, process.stderr.read().decode()))
        if time.time() > deadline:
            process.kill()
            pytest.fail("the daemon did not listen within 120 s")
        time.sleep(0.1)
    yield "unix:" + socket_path
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the daemon did not stop within 30 s of SIGTERM")


@pytest.fixture(scope="session")
def schemas():
    """A validator factory: validate(method, "params"|"result", instance) raises on a mismatch."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    documents = {}
    for path in glob.glob(os.path.join(ROOT, "schemas", "*.json")):
        with open(path, encoding="utf-8") as handle:
            documents[os.path.basename(path)] = json.load(handle)
    registry = Registry().with_resources(
        [(doc["$id"], Resource.from_contents(doc)) for doc in documents.values()])

    def validate(method, part, instance):
        document = documents[method.replace("/", ".") + ".json"]
        validator = Draft202012Validator({"$ref": document["$id"] + "#/$defs/" + part}, registry=registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, "%s %s does not match its schema: %s" % (
            method, part, "; ".join("%s: %s" % (list(e.path), e.message) for e in errors))

    return validate
